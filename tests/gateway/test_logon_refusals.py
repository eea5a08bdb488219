"""A refused Logon is told why (a Logout with Text), logged at WARNING with the peer's address, and no
peer-supplied value forges a log line, end to end through a running gateway and the simulator."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import anyio
import pytest

from fixgw.sim import SimServer

from .conftest import gateway_config, running_gateway
from .fixclient import FixClient

pytestmark = pytest.mark.anyio

FORGED = "\n2026-01-01 00:00:00,000 CRITICAL fixgw.gateway: fake"


async def _refusal_text(client: FixClient, port: int) -> str:
    with pytest.raises(ConnectionError) as info:
        await client.connect(port)
    await client.close()
    return str(info.value)


def _warnings_with_peer(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "Logon from 127.0.0.1:" in r.getMessage()]


async def test_gateway_logon_unknown_comp_id_logout_names_session(sim: SimServer, caplog) -> None:
    with caplog.at_level(logging.INFO):
        async with running_gateway(gateway_config(sim)) as gw:
            text = await _refusal_text(FixClient("FIX.4.4", "STRANGER", "FIXGW"), gw.port)
    assert "Logon rejected: unknown session FIX.4.4:STRANGER->FIXGW" in text
    assert any("unknown session" in m for m in _warnings_with_peer(caplog))


async def test_gateway_logon_wrong_begin_string_logout_names_expected(sim: SimServer, caplog) -> None:
    with caplog.at_level(logging.INFO):
        async with running_gateway(gateway_config(sim)) as gw:
            text = await _refusal_text(FixClient("FIX.4.2", "CLIENT44", "FIXGW"), gw.port)
    assert "Logon rejected: wrong BeginString FIX.4.2 (expected FIX.4.4)" in text
    assert any("wrong BeginString" in m for m in _warnings_with_peer(caplog))


async def test_gateway_logon_bad_password_logout_with_text_then_good_one_logs_on(sim: SimServer, caplog) -> None:
    with caplog.at_level(logging.INFO):
        async with running_gateway(gateway_config(sim)) as gw:
            text = await _refusal_text(FixClient("FIX.4.4", "CLIENT44", "FIXGW", password="wrong"), gw.port)
            good = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
            await good.connect(gw.port, reset=True)  # answered after the failure's delay
            await good.logout()
    assert "Logon rejected" in text
    assert "wrong" not in text  # the answer never echoes a password
    assert any("failed" in m for m in _warnings_with_peer(caplog))


async def test_gateway_newlines_in_comp_id_and_order_text_every_log_record_one_line(sim: SimServer, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        async with running_gateway(gateway_config(sim)) as gw:
            stranger = FixClient("FIX.4.4", "CLIENT44" + FORGED, "FIXGW")
            with pytest.raises(anyio.EndOfStream):  # an unreadable CompID gets no answer, only the close
                await stranger.connect(gw.port, timeout=3.0)
            await stranger.close()
            c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
            await c.connect(gw.port, reset=True)
            await c.new_order("N1", "1", "0.01", price="50000", extra=[(58, "note" + FORGED)])
            await c.reports("N1", 1)
            await c.new_order("N2", "1", "0.01", symbol="NO/SUCH" + FORGED, price="50000")
            await c.reports("N2", 1)
            await c.logout()
    messages = [r.getMessage() for r in caplog.records]
    assert any("CLIENT44\\x0a2026-01-01" in m for m in messages)  # the stranger was logged, escaped
    assert any("58=note\\x0a2026-01-01" in m for m in messages)  # so was the order's Text (wire log)
    forged = [m for m in messages if "\n" in m or "\r" in m]
    assert forged == []


def _braked(sim: SimServer, delay: float) -> Any:
    """The test gateway's config with the failed-Logon brake's first wait (and cap) set to ``delay``."""
    cfg = gateway_config(sim)
    return replace(cfg, gateway=replace(cfg.gateway, logon_failure_delay=delay, logon_failure_max_delay=delay))


async def test_gateway_logon_refusals_say_unknown_user_invalid_password_missing_credentials(
        sim: SimServer, caplog) -> None:
    cases = [(dict(username="mallory", password="demo"), "unknown user"),
             (dict(username="demo", password="wrong"), "invalid password"),
             (dict(username=None, password=None), "missing credentials"),
             (dict(username="demo", password=None), "missing credentials")]
    with caplog.at_level(logging.INFO):
        async with running_gateway(_braked(sim, 0.01)) as gw:
            texts = [await _refusal_text(FixClient("FIX.4.4", "CLIENT44", "FIXGW", **kw), gw.port) for kw, _ in cases]
            good = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
            await good.connect(gw.port, reset=True)
            await good.logout()
    for text, (kw, reason) in zip(texts, cases):
        assert f"Logon rejected: {reason}" in text, (kw, text)
        assert "wrong" not in text and "mallory" not in text  # no value the peer sent is echoed
    warnings = _warnings_with_peer(caplog)
    assert all(any(reason in m for m in warnings) for _, reason in cases), warnings


async def test_gateway_logon_failure_delay_setting_brakes_next_logon(sim: SimServer) -> None:
    async with running_gateway(_braked(sim, 1.2)) as gw:
        await _refusal_text(FixClient("FIX.4.4", "CLIENT44", "FIXGW", password="wrong"), gw.port)
        good = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        started = time.monotonic()
        await good.connect(gw.port, reset=True)
        waited = time.monotonic() - started
        await good.logout()
    assert waited >= 1.0  # the configured first wait, not the default half second


async def test_gateway_logon_brake_slows_guessed_credentials_not_malformed_logons(sim: SimServer) -> None:
    from fixgw.codec import Parser

    async def good_logon_seconds(gw: Any) -> float:
        good = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        started = time.monotonic()
        await good.connect(gw.port, reset=True)
        waited = time.monotonic() - started
        await good.logout()
        return waited

    async with running_gateway(_braked(sim, 3.0)) as gw:
        # A client's bugs, answered at once and not counted: a HeartBtInt out of range, a wrong BeginString.
        bad = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        bad.stream, bad.parser = await anyio.connect_tcp("127.0.0.1", gw.port), Parser()
        await bad.send_raw("A", [(98, 0), (108, 99999), (141, "Y"), (553, "demo"), (554, "demo")])
        refusal = await bad._read_until(lambda m: m.msg_type == b"5", 10)
        assert b"HeartBtInt" in refusal[58]
        await bad.close()
        assert "wrong BeginString" in await _refusal_text(FixClient("FIX.4.2", "CLIENT44", "FIXGW"), gw.port)
        assert await good_logon_seconds(gw) < 2.0
        # A guessed password is what the brake is for: the next Logon from this address waits.
        await _refusal_text(FixClient("FIX.4.4", "CLIENT44", "FIXGW", password="wrong"), gw.port)
        assert await good_logon_seconds(gw) >= 2.5
