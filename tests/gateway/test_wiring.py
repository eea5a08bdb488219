"""Wiring: each [[sessions]] entry's engine settings reach the session engine unchanged."""

from __future__ import annotations

from dataclasses import replace

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


def test_wiring_session_defaults_keep_sending_time_check_on() -> None:
    cfg = session_config(default_config().sessions[0], SessionID("FIX.4.4", "FIXGW", "CLIENT44"))
    assert cfg.max_sending_time_skew == 120.0 and cfg.allowed_addresses is None and cfg.schedule is None
