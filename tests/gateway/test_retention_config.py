"""``[gateway] terminal_order_retention``: read from the file, handed to every session's book."""

from __future__ import annotations

import pytest

from fixgw.config import DEFAULT_TERMINAL_ORDER_RETENTION, build_config, default_config
from fixgw.errors import ConfigError


def _with(value):
    data = {"gateway": {"terminal_order_retention": value}} if value is not ... else {"gateway": {}}
    data["sessions"] = [{"begin_string": "FIX.4.4", "sender_comp_id": "GW", "target_comp_id": "C", "venue": "v"}]
    data["venues"] = [{"name": "v", "kind": "binance", "simulated": True}]
    return data


def test_retention_config_default_count_and_false_off():
    assert default_config().gateway.terminal_order_retention == DEFAULT_TERMINAL_ORDER_RETENTION == 1_000
    assert build_config(_with(...), environ={}).gateway.terminal_order_retention == 1_000
    assert build_config(_with(0), environ={}).gateway.terminal_order_retention == 0
    assert build_config(_with(25), environ={}).gateway.terminal_order_retention == 25
    assert build_config(_with(False), environ={}).gateway.terminal_order_retention is None


@pytest.mark.parametrize("bad", [-1, "10", 1.5, True])
def test_retention_config_bad_value_refused_naming_the_key(bad):
    with pytest.raises(ConfigError) as ei:
        build_config(_with(bad), environ={})
    assert ei.value.key == "gateway.terminal_order_retention"


def test_retention_config_gc_freeze_interval_still_read_but_deprecated():
    data = _with(...)
    data["gateway"]["gc_freeze_interval"] = 0.5
    with pytest.warns(DeprecationWarning, match="gateway.gc_freeze_interval is deprecated"):
        assert build_config(data, environ={}).gateway.gc_freeze_interval == 0.5
    data["gateway"]["gc_freeze_interval"] = "soon"
    with pytest.raises(ConfigError):  # a bad value is still refused
        build_config(data, environ={})
