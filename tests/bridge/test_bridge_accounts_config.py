"""``[[bridge.accounts]]`` and the drop-copy session keys: read, checked, named in the error."""

from __future__ import annotations

from typing import Any

import pytest

from fixgw.config import BridgeAccount, build_config
from fixgw.errors import ConfigError


def config(accounts: list[dict[str, Any]], **session: Any) -> Any:
    return build_config({
        "venues": [{"name": "sim", "kind": "binance", "simulated": True}],
        "sessions": [{"begin_string": "FIX.4.4", "sender_comp_id": "GW", "target_comp_id": "C", "venue": "sim",
                      **session}],
        "bridge": {"accounts": accounts},
    })


def test_bridge_accounts_read_with_their_limits() -> None:
    cfg = config([{"name": "oms1", "venue": "sim", "limits": {"max_order_qty": "5"}}])
    (a,) = cfg.bridge.accounts
    assert isinstance(a, BridgeAccount) and (a.name, a.venue, str(a.limits.max_order_qty)) == ("oms1", "sim", "5")


@pytest.mark.parametrize("accounts,where", [
    ([{"name": "oms", "venue": "elsewhere"}], "bridge.accounts[0].venue"),
    ([{"name": "no-dash", "venue": "sim"}], "bridge.accounts[0].name"),
    ([{"name": "a" * 17, "venue": "sim"}], "bridge.accounts[0].name"),
    ([{"name": "oms", "venue": "sim"}, {"name": "oms", "venue": "sim"}], "bridge.accounts[1].name"),
    ([{"venue": "sim"}], "bridge.accounts[0].name"),
    ([{"name": "oms", "venue": "sim", "secret": "x"}], "bridge.accounts[0]"),
])
def test_bridge_accounts_bad_entry_refused_naming_it(accounts: list[dict[str, Any]], where: str) -> None:
    with pytest.raises(ConfigError) as e:
        config(accounts)
    assert where in str(e.value)


def test_session_drop_copy_and_copies_read() -> None:
    (s,) = config([], drop_copy=True, copies=["oms", "demo"]).sessions
    assert (s.drop_copy, s.copies) == (True, ("oms", "demo"))
    (plain,) = config([]).sessions
    assert (plain.drop_copy, plain.copies) == (False, ())
