"""Fuzzing the codec parser and the sans-I/O session: a bounded, seeded run in the suite.

The suite runs 10^5 inputs: 90,000 parser inputs and 10,000 session programs (a session input drives a
whole connection and costs ~10x a parser input), split over two processes. Inputs are the corpus seeds
in ``corpus/`` and seeded mutants of them (``engine.py``); the targets and invariants are in
``targets.py``. ``FIXGW_FUZZ_SEED`` changes the seed (default fixed, so CI is reproducible) and
``FIXGW_FUZZ_INPUTS`` the total.

The long run (10^7 inputs, hours on two cores) is one command, outside CI; see ``docs/fuzzing.md``::

    .venv/bin/python tools/fuzz.py --inputs 10000000

A failing input is printed here in full; ``tools/fuzz.py --replay FILE`` replays one with a trace.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import zlib

import pytest

from fixgw.codec import NEED_MORE, Garbled, Message, Parser, encode, format_utc_timestamp
from fixgw.codec import _parser as pure_parser
from fixgw.codec.dictionary import load_dictionary
from fixgw.session import NEED_DATA, Session, SessionConfig, SessionID
from fixgw.stores import MemoryMessageStore

from . import engine, seeds, targets
from .targets import SENTINEL, T0, FuzzFailure, WatchedStore

SEED = int(os.environ.get("FIXGW_FUZZ_SEED", "2026"))
TOTAL = int(os.environ.get("FIXGW_FUZZ_INPUTS", "100000"))
SESSION_SHARE = 0.1
JOBS = 2
SLOWEST_ALLOWED = 2.0  # seconds for one input, on a loaded machine; a typical input takes < 5 ms


def _task(args: tuple[str, int, int]) -> engine.Report:
    name, count, seed = args
    logging.disable(logging.CRITICAL)
    try:
        data = engine.inputs(name, count, seed, reframing=name == "parser")
        return engine.run(name, targets.TARGETS[name], data, time_limit=10.0)
    finally:
        logging.disable(logging.NOTSET)


def _task_on(data: list[bytes]) -> engine.Report:
    logging.disable(logging.CRITICAL)
    try:
        return engine.run("session", targets.session_target, iter(data))
    finally:
        logging.disable(logging.NOTSET)


def _describe(f: engine.Failure) -> str:
    return f"{f.target} input {f.data!r}\n{f.trace}"


# -- the run ---------------------------------------------------------------------------------------
def test_fuzz_parser_and_session_invariants_hold_over_seeded_inputs():
    session_n = int(TOTAL * SESSION_SHARE)
    parser_n = TOTAL - session_n
    tasks = [("parser", parser_n // JOBS, SEED + i) for i in range(JOBS)]
    tasks += [("session", session_n // JOBS, SEED + 100 + i) for i in range(JOBS)]
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(JOBS) as pool:
        reports = pool.map(_task, tasks, chunksize=1)
    wall = time.perf_counter() - t0
    new, known = [], []
    for r in reports:
        for f in r.failures:
            (known if targets.known_finding(f.error, f.trace) else new).append(f)
    assert not new, "\n\n".join(_describe(f) for f in new[:3])
    for name in ("parser", "session"):
        rs = [r for r in reports if r.target == name]
        count = sum(r.inputs for r in rs)
        assert count == sum(n for t, n, _ in tasks if t == name)
        slowest = max(r.slowest for r in rs)
        assert slowest < SLOWEST_ALLOWED, f"{name}: an input took {slowest:.2f} s: {max(rs, key=lambda r: r.slowest).slowest_input!r}"
        print(f"fuzz {name}: {count} inputs, {count / sum(r.cpu_seconds for r in rs):.0f}/s per CPU second, "
              f"slowest {slowest * 1e3:.1f} ms, known findings hit {sum(1 for f in known if f.target == name)}")
    print(f"fuzz wall time {wall:.1f} s on {JOBS} processes")


# -- the corpus ------------------------------------------------------------------------------------
def test_fuzz_corpus_parser_seeds_one_per_message_type_and_parse():
    corpus = {p.stem: p.read_bytes() for p in (engine.CORPUS / "parser").iterdir()}
    assert corpus == seeds.parser_seeds(), "corpus out of date: run tools/fuzz.py --write-corpus"
    types = set()
    for name, data in corpus.items():
        p = Parser()
        p.feed(data)
        items = list(p)
        if name in ("checksum_wrong", "garbage_then_frame"):
            assert any(isinstance(i, Garbled) for i in items), name
        else:
            assert items and all(isinstance(i, Message) for i in items), name
        types.update(i.msg_type for i in items if isinstance(i, Message))
    # Every session message and the whole order flow have a seed.
    assert {b"A", b"0", b"1", b"2", b"3", b"4", b"5", b"D", b"F", b"G", b"H", b"8", b"9", b"j", b"q"} <= types


def test_fuzz_corpus_small_and_session_seeds_run_clean():
    files = [p for p in engine.CORPUS.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 300_000
    session = engine.load_corpus("session")
    assert len(session) >= 10
    report = _task_on(session)
    new = [f for f in report.failures if targets.known_finding(f.error, f.trace) is None]
    assert not new, "\n\n".join(_describe(f) for f in new[:3])


def test_fuzz_inputs_same_seed_same_inputs():
    assert list(engine.inputs("parser", 300, 5)) == list(engine.inputs("parser", 300, 5))
    assert list(engine.inputs("parser", 300, 5)) != list(engine.inputs("parser", 300, 6))


def test_fuzz_reframe_makes_mutated_frame_checksum_right():
    data = seeds.parser_seeds()["new_order"].replace(b"55=BTCUSDT", b"55=BTC\x01X=1")
    p = Parser()
    p.feed(engine.reframe(data))
    (msg,) = list(p)
    assert isinstance(msg, Message) and msg.invalid_field == b"X=1"


# -- the invariants can fail ------------------------------------------------------------------------
class _Wrapped:
    """The pure parser behind a wrapper, so that a test can plant a fault in what it yields."""

    def __init__(self, **kw):
        self._p = pure_parser.Parser(**kw)

    def feed(self, data):
        self._p.feed(data)

    @property
    def buffered(self):
        return self._p.buffered

    def __iter__(self):
        return self

    def __next__(self):
        item = self._p.next_event()
        if item is NEED_MORE:
            raise StopIteration
        return item


class _RenamesGarbled(_Wrapped):
    """A twin that words one Garbled reason differently: the agreement invariant must notice."""

    def __next__(self):
        item = super().__next__()
        return Garbled(item.reason + "!", item.data) if isinstance(item, Garbled) else item


class _LosesSentinel(_Wrapped):
    """A parser that drops the message after the input: the never-lost invariant must notice."""

    def __next__(self):
        item = super().__next__()
        if isinstance(item, pure_parser.Message) and item.raw == SENTINEL:
            return super().__next__()
        return item


def _sentinel_input() -> bytes:
    # An input whose CRC asks for the sentinel check (see parser_target).
    for i in range(100):
        data = b"junk%d" % i
        if zlib.crc32(data) & 3 != 3:
            return data
    raise AssertionError("no such input")


def test_fuzz_parser_target_lost_message_detected():
    data = _sentinel_input()
    targets.parser_target(data, (pure_parser.Parser, pure_parser.Parser))
    with pytest.raises(FuzzFailure):
        targets.parser_target(data, (_LosesSentinel, _LosesSentinel))


def test_fuzz_parser_target_disagreement_detected():
    data = b"garbage" + seeds.parser_seeds()["heartbeat"]
    with pytest.raises(FuzzFailure, match="differs"):
        targets.parser_target(data, (pure_parser.Parser, _RenamesGarbled))


def test_fuzz_watched_store_number_going_back_detected():
    store = WatchedStore(MemoryMessageStore(now_ns=lambda: T0).session_store(targets.OUR_ID))
    store.set_next_target_seq(5)
    store.save_outbound(1, b"x")
    with pytest.raises(FuzzFailure, match="next_target_seq back"):
        store.set_next_target_seq(4)
    with pytest.raises(FuzzFailure, match="save_outbound"):
        store.save_outbound(1, b"y")
    store.reset(T0)  # a reset is the one way back
    store.set_next_target_seq(2)
    assert (store.next_sender_seq, store.next_target_seq, store.resets) == (1, 2, 1)


# -- findings in files this suite does not own --------------------------------------------------------
def _peer(msg_type: str, seq: int, body=()) -> bytes:
    header = [(49, "GW"), (56, "CLIENT"), (34, seq), (52, format_utc_timestamp(T0))]
    return encode("FIX.4.4", msg_type, [*header, *body])


def _drain(s: Session) -> None:
    while s.next_event() is not NEED_DATA:
        pass
    s.data_to_send()


def test_fuzz_finding_initiator_unrequested_reset_logon_resets_both_numbers():
    """Found by the session target: a Logon answer with 141=Y we did not ask for once moved only the
    inbound number back. The engine now resets both directions, as 141 says; our Logon is the new 1."""
    sid = SessionID("FIX.4.4", "CLIENT", "GW")
    store = WatchedStore(MemoryMessageStore(now_ns=lambda: T0).session_store(sid))
    s = Session(SessionConfig(sid, role="initiator"), store, dictionary=load_dictionary("FIX.4.4"))
    s.connection_made(T0)
    _drain(s)
    s.receive_data(_peer("A", 1, [(98, 0), (108, 30)]) + _peer("0", 2), T0)
    _drain(s)
    assert store.next_target_seq == 3
    s.connection_lost(T0)
    _drain(s)
    s.connection_made(T0)
    _drain(s)
    s.receive_data(_peer("A", 1, [(98, 0), (108, 30), (141, "Y")]), T0)  # the acceptor restarted at 1
    _drain(s)
    # Either a full reset (both numbers restart) or a refusal; never only one number going back.
    assert store.resets == 1
    assert (store.next_target_seq, store.next_sender_seq) == (2, 2)
