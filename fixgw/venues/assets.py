"""One table of asset codes: the venues' own spellings of an asset mapped to the one the gateway uses.

The gateway names an instrument ``BASE/QUOTE`` with canonical asset codes (``BTC/USDT``), whatever the
venue calls it: Binance ``BTCUSDT``, Coinbase ``BTC-USDT``, Kraken ``XBT/USDT`` (pair ``XBTUSDT``,
assets ``XXBT``/``ZUSD`` in its Assets list). Every adapter's instrument loading passes the venue's
base and quote codes through ``canonical_asset``, and the gateway builds the client spelling from the
same function, so one client symbol reaches every venue that lists the instrument.

Only codes known to be aliases are mapped. Kraken prefixes its older assets with X (crypto) or Z
(fiat) in its REST Assets list, but not every code that starts with X or Z is prefixed (``XRP``,
``XLM``, ``XMR``, ``ZEC``, ``XTZ`` are the assets themselves), so a prefix is never stripped by rule.
USDT, USDC and USD are different assets and stay apart.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

__all__ = ["ASSET_ALIASES", "canonical_asset", "normalized_symbol"]

#: A venue's spelling -> the canonical code. Kraken: ``XBT`` is its name for bitcoin and ``XDG`` for
#: dogecoin; ``XXBT``, ``XETH``, ``ZUSD``... are the prefixed codes of its REST Assets list.
ASSET_ALIASES: Mapping[str, str] = MappingProxyType({
    "XBT": "BTC",
    "XXBT": "BTC",
    "XDG": "DOGE",
    "XXDG": "DOGE",
    "XETH": "ETH",
    "XETC": "ETC",
    "XLTC": "LTC",
    "XMLN": "MLN",
    "XREP": "REP",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XXRP": "XRP",
    "XZEC": "ZEC",
    "ZCAD": "CAD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZJPY": "JPY",
    "ZUSD": "USD",
})


def canonical_asset(code: str) -> str:
    """Return the gateway's code of the asset a venue calls ``code`` (upper case; aliases resolved)."""
    upper = code.upper()
    return ASSET_ALIASES.get(upper, upper)


def normalized_symbol(base: str, quote: str) -> str:
    """Return the normalized ``BASE/QUOTE`` symbol of a venue's base and quote asset codes."""
    return f"{canonical_asset(base)}/{canonical_asset(quote)}"
