"""Wiring: each [[sessions]] entry's engine settings reach the session engine unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fixgw.config import default_config
from fixgw.gateway._wiring import session_config
from fixgw.session import SessionID


def test_wiring_session_settings_reach_engine_config() -> None:
    settings = replace(default_config().sessions[0], gap_fill_timeout=None, max_resend_requests=5,
                       logon_timeout=3.0, logout_timeout=4.0, max_sending_time_skew=None, resend_chunk_size=100,
                       send_next_expected_msg_seq_num=True, heartbeat_interval=15, reset_on_logon=True)
    sid = SessionID("FIX.4.4", "FIXGW", "CLIENT44")
    cfg = session_config(settings, sid)
    assert (cfg.session_id, cfg.role, cfg.heartbeat_interval, cfg.reset_on_logon) == (sid, "acceptor", 15, True)
    assert (cfg.gap_fill_timeout, cfg.max_resend_requests, cfg.logon_timeout, cfg.logout_timeout) == (None, 5, 3.0, 4.0)
    assert (cfg.max_sending_time_skew, cfg.resend_chunk_size, cfg.send_next_expected_msg_seq_num) == (None, 100, True)


def test_wiring_validation_and_heartbeat_settings_reach_engine_config() -> None:
    settings = replace(default_config().sessions[0], max_heartbeat_interval=45, validate_user_defined_fields=False,
                       allow_unknown_message_fields=True)
    cfg = session_config(settings, SessionID("FIX.4.4", "FIXGW", "CLIENT44"))
    assert (cfg.max_heartbeat_interval, cfg.validate_user_defined_fields, cfg.allow_unknown_message_fields) == (
        45, False, True)
    demo = session_config(default_config().sessions[0], SessionID("FIX.4.4", "FIXGW", "CLIENT44"))
    # The demo keeps strict validation.
    assert (demo.validate_user_defined_fields, demo.allow_unknown_message_fields) == (True, False)


def test_wiring_session_defaults_keep_sending_time_check_on() -> None:
    cfg = session_config(default_config().sessions[0], SessionID("FIX.4.4", "FIXGW", "CLIENT44"))
    assert cfg.max_sending_time_skew == 120.0 and cfg.allowed_addresses is None and cfg.schedule is None


def test_wiring_venue_order_entry_and_in_flight_reach_adapter_and_workers() -> None:
    from fixgw.config import VenueConfig
    from fixgw.gateway._router import VenueContext
    from fixgw.gateway._wiring import default_adapter_factory

    vc = VenueConfig(name="v", kind="binance", rest_url="http://venue.test", ws_url="ws://venue.test/ws-api/v3",
                     api_key="k", api_secret="s", order_entry="rest", max_in_flight=7)
    adapter = default_adapter_factory(vc)
    assert adapter.config.order_entry == "rest" and adapter.wsapi is None  # type: ignore[attr-defined]
    assert VenueContext(vc, adapter).workers == 7
    ws = default_adapter_factory(replace(vc, order_entry="ws"))
    assert ws.config.order_entry == "ws" and ws.wsapi is not None  # type: ignore[attr-defined]


def test_wiring_gateway_freezes_no_heap() -> None:
    import gc

    import fixgw.gateway._app as app

    # The books are bounded (terminal_order_retention), so nothing hides the heap from the collector.
    assert not any(hasattr(app, name) for name in ("settle_heap", "keep_heap_settled", "release_heap"))
    assert gc.get_freeze_count() == 0


@pytest.mark.anyio
async def test_wiring_venue_calls_run_in_order_at_most_max_in_flight_at_once() -> None:
    import anyio

    from fixgw.config import VenueConfig
    from fixgw.gateway._router import VenueContext

    venue = VenueContext(VenueConfig(name="v", kind="binance", simulated=True, max_in_flight=2), None)  # type: ignore[arg-type]
    started: list[int] = []
    in_flight = peak = 0
    release = anyio.Event()

    async def call(n: int) -> None:
        nonlocal in_flight, peak
        started.append(n)
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1

    for n in range(5):
        venue.call(call, n)
    async with anyio.create_task_group() as tg:
        tg.start_soon(venue.run_calls)
        await anyio.sleep(0.05)
        assert (started, in_flight) == ([0, 1], 2)  # the rest wait in the queue
        release.set()
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    assert (started, peak, in_flight) == ([0, 1, 2, 3, 4], 2, 0)


@pytest.mark.anyio
async def test_wiring_gateway_pending_limits_reach_acceptor() -> None:
    from fixgw.config import default_config as demo
    from fixgw.gateway import Gateway

    from .conftest import running_gateway
    from .test_routing import ScriptedVenue

    cfg = demo(port=0)
    cfg = replace(cfg, gateway=replace(cfg.gateway, max_pending_connections=9, max_pending_per_address=3))
    venue = ScriptedVenue()
    async with running_gateway(cfg, adapter_factory=lambda vc: venue) as gw:
        assert isinstance(gw, Gateway) and gw.acceptor is not None
        pending = gw.acceptor._pending  # type: ignore[attr-defined]
        assert (pending.max_total, pending.max_per_host) == (9, 3)
