"""The benchmarks' own logic: the session bench's store check, the closed rate search, the fill set-up.

The benchmarks themselves are long runs outside the suite; what decides whether their figures can be
trusted is checked here, on real parts: a SQLite store written by ``SqliteMessageStore``, the simulator
on loopback with its control token.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.codec import encode
from fixgw.session import SessionID
from fixgw.sim import ApiKey, SimConfig, SimServer
from fixgw.stores import SqliteMessageStore

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str) -> ModuleType:
    key = f"fixgw_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


session_bench = _load("session")
search = _load("gateway_search")
fill = _load("gateway_fill")


# == the session bench's store check ==============================================================
def _echo_store(path: Path, sender: str, orders: int) -> set[bytes]:
    """A store as the echo acceptor leaves it: Logon, then one echo per order; return the ClOrdIDs."""
    store = SqliteMessageStore(path)
    try:
        s = store.session_store(SessionID("FIX.4.4", "ECHO", sender))
        s.save_outbound(1, encode("FIX.4.4", "A", [(49, "ECHO"), (56, sender), (34, 1), (98, 0), (108, 30)]))
        for seq in range(2, orders + 2):
            s.save_outbound(seq, session_bench.order(sender, seq, seq).replace(b"49=" + sender.encode(), b"49=ECHO", 1))
        store.commit()
    finally:
        store.close()
    return {str(seq).encode() for seq in range(2, orders + 2)}


def _delete(path: Path, where: str, *args: object) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute(f"DELETE FROM fix_messages WHERE {where}", args)
    db.close()


def test_check_store_every_echo_stored_no_problem(tmp_path: Path) -> None:
    ids = _echo_store(tmp_path / "s.db", "BENCH1", 50)
    assert session_bench.verify_store(str(tmp_path / "s.db"), {"BENCH1": ids}) == []


def test_check_store_missing_echo_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    ids = _echo_store(path, "BENCH1", 50)
    _delete(path, "(key & 4294967295) = 20")  # the echo of ClOrdID 20
    problems = session_bench.verify_store(str(path), {"BENCH1": ids})
    assert any("1 of 50 echoes not in the store" in p and "b'20'" in p for p in problems)
    assert any("missing 1 (first [20])" in p for p in problems)


def test_check_store_echo_received_but_never_sent_reported(tmp_path: Path) -> None:
    ids = _echo_store(tmp_path / "s.db", "BENCH1", 5)
    problems = session_bench.verify_store(str(tmp_path / "s.db"), {"BENCH1": ids | {b"999"}})
    assert problems == ["BENCH1: 1 of 6 echoes not in the store (ClOrdID [b'999'])"]


def test_check_store_unknown_session_reported(tmp_path: Path) -> None:
    _echo_store(tmp_path / "s.db", "BENCH1", 3)
    problems = session_bench.verify_store(str(tmp_path / "s.db"), {"BENCH2": {b"2"}})
    assert "BENCH2: no session in the store" in problems


def test_check_store_lost_logon_breaks_numbering_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    ids = _echo_store(path, "BENCH1", 5)
    _delete(path, "(key & 4294967295) = 1")
    assert session_bench.verify_store(str(path), {"BENCH1": ids}) == [
        "BENCH1: 5 outbound messages stored, numbered 1..6 expected; missing 1 (first [1])"]


# == the closed search ============================================================================
def _system(capacity: float, p99_ms: float = 10.0):  # type: ignore[no-untyped-def]
    """A system that holds any rate up to ``capacity`` (p99 1 ms) and falls over above it."""
    calls: list[float] = []

    def run(rate: float):  # type: ignore[no-untyped-def]
        calls.append(rate)
        ok = rate <= capacity
        return search.StepResult(sent=100, answered=100, rejected=0, throughput=rate if ok else capacity,
                                 p50_ms=0.5, p99_ms=1.0 if ok else 5 * p99_ms, p999_ms=2.0)

    return run, calls


@settings(max_examples=60, deadline=None)
@given(capacity=st.floats(min_value=1, max_value=100_000), start=st.floats(min_value=1, max_value=10_000))
def test_find_max_rate_monotone_system_brackets_capacity(capacity: float, start: float) -> None:
    run, calls = _system(capacity)
    found = search.find_max_rate(run, start=start, p99_ms=10, precision=0.1, max_steps=40)
    assert len(calls) <= 40
    if found.best is not None:
        assert found.best <= capacity
    if found.best is not None and found.lowest_failure is not None:
        assert found.lowest_failure > capacity
        assert found.lowest_failure <= found.best * 1.1 + 1  # within precision (+1: rates are whole numbers)
    if found.best is None:  # only when even the smallest rate fails
        assert capacity < 2 and min(calls) <= 2


def test_find_max_rate_step_bounds_search() -> None:
    run, calls = _system(1e9)
    found = search.find_max_rate(run, start=100, p99_ms=10, max_steps=4)
    assert calls == [100, 200, 400, 800] and found.best == 800 and found.lowest_failure is None
    assert "at least 800 orders/s (no step failed" in search.format_search(found, 10, "x")


def test_find_max_rate_unanswered_or_rejected_orders_fail_the_step() -> None:
    r = search.StepResult(sent=100, answered=99, rejected=2, throughput=1000, p50_ms=1, p99_ms=2, p999_ms=3)
    passed, why = search.judge(1000, r, 10, 0.95)
    assert not passed and "1 unanswered" in why and "2 rejected" in why


def test_find_max_rate_nan_latency_fails_the_step() -> None:
    r = search.StepResult(sent=10, answered=10, rejected=0, throughput=float("nan"), p50_ms=float("nan"),
                          p99_ms=float("nan"), p999_ms=float("nan"))
    passed, why = search.judge(10, r, 10, 0.95)
    assert not passed and "throughput" in why and "p99" in why


def test_find_max_rate_bad_arguments_raise() -> None:
    run, _ = _system(10)
    with pytest.raises(ValueError):
        search.find_max_rate(run, start=0, p99_ms=10)


# == the fill set-up against the simulator's control API ==========================================
TOKEN = "bench-test-token"


def _sim(maker: bool) -> SimServer:
    key = ApiKey(api_key="k" * 64, account_id="bench", secret="s" * 64)
    cfg = SimConfig(seed=5, maker_interval_s=None, api_keys=(key,), **({} if maker else {"market_maker": None}))
    return SimServer(cfg, control_token=TOKEN)


def test_plan_fills_book_with_both_sides_prices_through_it_and_credits() -> None:
    with _sim(maker=True) as sim:
        plan = fill.plan_fills(fill.SimControl(sim.port, TOKEN), "ioc", 1000)
        assert plan.bid < plan.ask < plan.buy_limit and plan.sell_limit < plan.bid
        assert plan.credited_usdt >= 1000 * fill.QTY * plan.buy_limit and plan.credited_btc >= 1000 * fill.QTY
        balances = sim.call(lambda state: state.engine.accounts["bench"].free("USDT"))
        assert balances >= plan.credited_usdt
        buy, sell = plan.order_fields()(0), plan.order_fields()(1)
        assert (54, "1") in buy and (44, str(plan.buy_limit)) in buy
        assert (54, "2") in sell and (44, str(plan.sell_limit)) in sell


def test_plan_fills_empty_book_refuses_to_run() -> None:
    with _sim(maker=False) as sim, pytest.raises(SystemExit, match="book is empty"):
        fill.plan_fills(fill.SimControl(sim.port, TOKEN), "ioc", 10)


def test_sim_control_wrong_token_clear_error() -> None:
    with _sim(maker=True) as sim, pytest.raises(SystemExit, match="refused GET /sim/state: 401"):
        fill.SimControl(sim.port, "wrong-token").best()


def test_sim_control_repr_hides_token() -> None:
    assert TOKEN not in repr(fill.SimControl(1, TOKEN))


def test_plan_fills_market_orders_carry_no_price() -> None:
    plan = fill.FillPlan("market", Decimal(1), Decimal(2), Decimal(3), Decimal(0), Decimal(0), Decimal(0))
    assert all(tag != 44 for tag, _ in plan.order_fields()(0)) and (40, "1") in plan.order_fields()(1)


def test_verify_store_blind_check_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _echo_store(tmp_path / "s.db", "BENCH1", 5)
    monkeypatch.setattr(session_bench, "check_store", lambda db, sender, echoed: [])
    problems = session_bench.verify_store(str(tmp_path / "s.db"), {"BENCH1": ids})
    assert len(problems) == 1 and problems[0].startswith("store check is blind")
    db = sqlite3.connect(tmp_path / "s.db")  # the probe was rolled back: the store is whole again
    assert db.execute("SELECT count(*) FROM fix_messages").fetchone()[0] == 6
    db.close()
