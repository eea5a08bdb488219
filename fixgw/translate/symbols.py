"""Client symbol spelling <-> the normalized ``BASE/QUOTE`` symbol of the venue port.

Clients use one configured convention (``{base}/{quote}`` by default, so ``BTC/USDT``); each venue adapter
maps the normalized symbol to its own spelling from its instrument list. This map is built from that same
list, so no symbol is ever written into code.
"""

from __future__ import annotations

from typing import Iterable

__all__ = ["SymbolMap"]


class SymbolMap:
    """Two-way map between client symbols and normalized symbols."""

    __slots__ = ("_to_norm", "_to_client")

    def __init__(self, instruments: Iterable[tuple[str, str, str]], symbol_format: str = "{base}/{quote}") -> None:
        """``instruments`` yields ``(normalized_symbol, base, quote)``."""
        self._to_norm: dict[str, str] = {}
        self._to_client: dict[str, str] = {}
        for norm, base, quote in instruments:
            client = symbol_format.format(base=base, quote=quote)
            self._to_norm[client] = norm
            self._to_client[norm] = client

    def normalized(self, client_symbol: str) -> str | None:
        """Return the normalized symbol, or ``None`` when the venue lists no such instrument."""
        return self._to_norm.get(client_symbol)

    def client(self, normalized_symbol: str) -> str:
        """Return the client spelling (the normalized one when the instrument is not listed)."""
        return self._to_client.get(normalized_symbol, normalized_symbol)

    def __contains__(self, client_symbol: object) -> bool:
        return client_symbol in self._to_norm

    def __len__(self) -> int:
        return len(self._to_norm)
