"""Type stubs of the compiled report writer; the behaviour is that of ``fixgw.translate.outbound.pure_report_fields``
and ``fixgw.translate.reports.pure_reply_for_event``."""

from typing import Any, Callable, Iterable, Mapping

__all__ = ["configure", "configure_reply", "report_fields", "reply_for_event"]

def configure(
    exec_kinds: tuple[Any, Any, Any], order_status_filled: Any, side_codes: Mapping[Any, bytes],
    ord_type_codes: Mapping[Any, bytes], tif_codes: Mapping[Any, bytes], wire_text: Callable[..., bytes],
    caches: Iterable[dict[Any, bytes]], max_places: int, format_utc_timestamp: Callable[[int], bytes],
) -> None: ...
def configure_reply(
    pure_reply: Callable[..., Any], unreported: tuple[type, ...], cancel_rejects: tuple[type, ...],
    hint_kind: Mapping[Any, Any], pending_kinds: tuple[Any, Any], rejected_kind: Any, filled_event: type,
    reject_reason_for_text: Callable[[str], str], average_price: Callable[..., Any], zero: Any, default_places: int,
) -> None: ...
def report_fields(*args: Any, **kwargs: Any) -> list[tuple[int, Any]]: ...
def reply_for_event(
    table: Any, order: Any, event: Any, client_symbol: str, *, avg_px_places: int = ..., reject_reason: str | None = None
) -> tuple[bytes, list[tuple[int, Any]]] | None: ...
