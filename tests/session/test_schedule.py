"""Session schedules: windows in a time zone, weekdays, weekly windows, resets per scheduled session."""

from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from fixgw.clock import FakeClock, datetime_to_ns
from fixgw.errors import ConfigError
from fixgw.session import Disconnected, LoggedOn, LogonRefused, SessionSchedule

from .helpers import INITIATOR_ID, Peer, drain, make_session, parse_frames, sent

NY = ZoneInfo("America/New_York")


def _ns(*args, tz=timezone.utc):
    return datetime_to_ns(datetime(*args, tzinfo=tz))


def test_schedule_daily_window_in_time_zone():
    s = SessionSchedule(time(8, 0), time(17, 0), tz="America/New_York")
    assert s.is_in_session(_ns(2024, 3, 5, 8, 0, tz=NY))
    assert s.is_in_session(_ns(2024, 3, 5, 16, 59, 59, tz=NY))
    assert not s.is_in_session(_ns(2024, 3, 5, 17, 0, tz=NY))
    assert not s.is_in_session(_ns(2024, 3, 5, 7, 59, tz=NY))
    assert s.session_start_ns(_ns(2024, 3, 5, 12, 0, tz=NY)) == _ns(2024, 3, 5, 8, 0, tz=NY)
    assert s.session_end_ns(_ns(2024, 3, 5, 12, 0, tz=NY)) == _ns(2024, 3, 5, 17, 0, tz=NY)


def test_schedule_daily_window_follows_daylight_saving():
    s = SessionSchedule(time(8, 0), time(17, 0), tz="America/New_York")
    # 8:00 New York is 13:00 UTC in winter and 12:00 UTC in summer.
    assert s.session_start_ns(_ns(2024, 1, 10, 14, 0)) == _ns(2024, 1, 10, 13, 0)
    assert s.session_start_ns(_ns(2024, 7, 10, 14, 0)) == _ns(2024, 7, 10, 12, 0)


def test_schedule_window_across_midnight():
    s = SessionSchedule(time(22, 0), time(6, 0))
    assert s.is_in_session(_ns(2024, 3, 5, 23, 0))
    assert s.is_in_session(_ns(2024, 3, 6, 5, 0))
    assert s.session_start_ns(_ns(2024, 3, 6, 5, 0)) == _ns(2024, 3, 5, 22, 0)
    assert not s.is_in_session(_ns(2024, 3, 6, 12, 0))


def test_schedule_weekdays_limit_daily_windows():
    s = SessionSchedule(time(0, 0), time(23, 0), weekdays=frozenset({0, 1, 2, 3, 4}))
    assert s.is_in_session(_ns(2024, 3, 8, 12, 0))  # Friday
    assert not s.is_in_session(_ns(2024, 3, 9, 12, 0))  # Saturday
    assert s.next_start_ns(_ns(2024, 3, 9, 12, 0)) == _ns(2024, 3, 11, 0, 0)  # Monday


def test_schedule_weekly_window_sunday_to_friday():
    s = SessionSchedule(time(17, 0), time(17, 0), tz="America/New_York", start_day=6, end_day=4)
    assert s.is_in_session(_ns(2024, 3, 6, 12, 0, tz=NY))  # Wednesday
    assert not s.is_in_session(_ns(2024, 3, 9, 12, 0, tz=NY))  # Saturday
    assert s.session_start_ns(_ns(2024, 3, 6, 12, 0, tz=NY)) == _ns(2024, 3, 3, 17, 0, tz=NY)


def test_schedule_start_equals_end_is_a_full_day_with_daily_reset():
    s = SessionSchedule(time(0, 0), time(0, 0))
    assert s.is_in_session(_ns(2024, 3, 5, 23, 59))
    assert s.session_start_ns(_ns(2024, 3, 5, 23, 59)) == _ns(2024, 3, 5, 0, 0)


def test_schedule_bad_time_zone_is_config_error():
    with pytest.raises(ConfigError):
        SessionSchedule(time(0, 0), time(1, 0), tz="Mars/Olympus")


def test_schedule_new_session_resets_sequence_numbers_at_logon():
    schedule = SessionSchedule(time(0, 0), time(0, 0))  # resets daily at midnight UTC
    clock = FakeClock(_ns(2024, 3, 5, 10, 0))
    s = make_session(clock, schedule=schedule)
    s.store.set_next_sender_seq(40)
    s.store.set_next_target_seq(30)
    clock.set(_ns(2024, 3, 6, 0, 5))  # a new day: the store was created in yesterday's session
    s.connection_made(clock.now_ns())
    assert (s.next_sender_seq, s.next_target_seq) == (1, 1)
    s.receive_data(Peer(INITIATOR_ID, clock).logon(), clock.now_ns())
    assert drain(s) == [LoggedOn(30, False)]


def test_schedule_same_session_keeps_sequence_numbers():
    schedule = SessionSchedule(time(0, 0), time(0, 0))
    clock = FakeClock(_ns(2024, 3, 5, 10, 0))
    s = make_session(clock, schedule=schedule)
    s.store.set_next_sender_seq(40)
    clock.set(_ns(2024, 3, 5, 20, 0))
    s.connection_made(clock.now_ns())
    assert s.next_sender_seq == 40


def test_schedule_logon_outside_window_refused_with_logout_saying_why():
    schedule = SessionSchedule(time(8, 0), time(17, 0))
    clock = FakeClock(_ns(2024, 3, 5, 20, 0))
    s = make_session(clock, schedule=schedule)
    assert not s.in_schedule(clock.now_ns())
    s.connection_made(clock.now_ns())
    assert drain(s) == []  # the acceptor reads the Logon, to answer it
    s.receive_data(Peer(INITIATOR_ID, clock).logon(), clock.now_ns())
    text = "Logon rejected: outside the session schedule"
    assert drain(s) == [LogonRefused(text), Disconnected(text)]
    (logout,) = parse_frames(s.data_to_send())
    assert (logout.get(35), logout.get(58)) == (b"5", text.encode())


def test_schedule_initiator_connection_outside_window_refused():
    schedule = SessionSchedule(time(8, 0), time(17, 0))
    clock = FakeClock(_ns(2024, 3, 5, 20, 0))
    s = make_session(clock, "initiator", schedule=schedule)
    s.connection_made(clock.now_ns())
    assert drain(s) == [Disconnected("outside the session schedule")]
    assert s.data_to_send() == b""


def test_schedule_end_of_window_logs_out():
    schedule = SessionSchedule(time(8, 0), time(17, 0))
    clock = FakeClock(_ns(2024, 3, 5, 16, 59, 50))
    s = make_session(clock, schedule=schedule)
    s.connection_made(clock.now_ns())
    s.receive_data(Peer(INITIATOR_ID, clock).logon(), clock.now_ns())
    drain(s)
    sent(s)
    assert s.next_deadline_ns() == _ns(2024, 3, 5, 17, 0)
    clock.set(_ns(2024, 3, 5, 17, 0))
    s.on_tick(clock.now_ns())
    (logout,) = sent(s)
    assert logout.get(35) == b"5" and logout.get(58) == b"End of session"
