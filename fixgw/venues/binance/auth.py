"""Which signature a Binance request carries: HMAC-SHA256 (hex) or Ed25519 (base64), by key type;
and the signed WebSocket API request envelope."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fixgw.venues._common.signing import (
    binance_ws_payload,
    ed25519_sign_base64,
    format_param,
    hmac_sha256_hex,
    load_ed25519_private_key,
)

__all__ = ["sign_payload", "ws_api_request"]

# Parsing a PEM costs far more than signing: keep the loaded key (a config holds one key for its life).
_ed25519_key = lru_cache(maxsize=8)(load_ed25519_private_key)


def sign_payload(payload: str, api_secret: str, ed25519_private_key_pem: str = "") -> str:
    """Sign a REST query or WebSocket API payload with the Ed25519 key if one is given, else the HMAC secret."""
    if ed25519_private_key_pem:
        return ed25519_sign_base64(_ed25519_key(ed25519_private_key_pem), payload)
    return hmac_sha256_hex(api_secret, payload)


def _json_value(value: object) -> object:
    # ints (timestamp, recvWindow, orderId) travel as JSON numbers; money as exact decimal strings
    if isinstance(value, (Decimal, bool)):
        return format_param(value)
    return value


def ws_api_request(
    request_id: str, method: str, params: Iterable[tuple[str, object]], *, api_key: str, api_secret: str,
    timestamp_ms: int, recv_window_ms: int, ed25519_private_key_pem: str = "",
) -> dict[str, Any]:
    """Build one signed WebSocket API request ``{"id", "method", "params"}`` from REST-style parameters.

    ``apiKey``, ``recvWindow`` and ``timestamp`` are added; the signature covers every parameter but
    itself, sorted by name, raw UTF-8 (the WebSocket API rule).
    """
    # one request per order: text and whole numbers (most values) travel as they are, without a call
    signed: dict[str, Any] = {k: v if type(v) is str or type(v) is int else _json_value(v)
                              for k, v in params if v is not None}
    signed.update(apiKey=api_key, recvWindow=recv_window_ms, timestamp=timestamp_ms)
    signed["signature"] = sign_payload(binance_ws_payload(signed), api_secret, ed25519_private_key_pem)
    return {"id": request_id, "method": method, "params": signed}
