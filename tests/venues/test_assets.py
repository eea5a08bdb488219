"""The one table of asset aliases: each venue's codes for an asset resolve to the gateway's one code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.venues.assets import ASSET_ALIASES, canonical_asset, normalized_symbol


@pytest.mark.parametrize("code,canonical", [
    ("XBT", "BTC"), ("XXBT", "BTC"), ("xbt", "BTC"), ("XETH", "ETH"), ("ZUSD", "USD"), ("ZEUR", "EUR"),
    ("XDG", "DOGE"), ("XXDG", "DOGE"), ("BTC", "BTC"), ("USDT", "USDT"), ("usdc", "USDC"),
])
def test_canonical_asset_venue_codes_resolve_to_one_code(code: str, canonical: str) -> None:
    assert canonical_asset(code) == canonical


@pytest.mark.parametrize("code", ["XRP", "XLM", "XMR", "ZEC", "XTZ", "USD", "USDT", "USDC"])
def test_canonical_asset_unprefixed_x_z_assets_and_dollars_kept_apart(code: str) -> None:
    assert canonical_asset(code) == code  # no prefix is stripped by rule; USD, USDT and USDC stay three


def test_normalized_symbol_kraken_pair_codes_match_binance_and_coinbase() -> None:
    assert normalized_symbol("XXBT", "ZUSD") == normalized_symbol("BTC", "USD") == "BTC/USD"
    assert normalized_symbol("XBT", "USDT") == "BTC/USDT"


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6) | st.sampled_from(sorted(ASSET_ALIASES)))
def test_canonical_asset_any_code_resolving_twice_changes_nothing(code: str) -> None:
    once = canonical_asset(code)
    assert canonical_asset(once) == once and once == once.upper()
