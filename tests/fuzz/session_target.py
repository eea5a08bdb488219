"""The session fuzz target (see ``targets.py``): a byte program driving one ``Session`` as a driver would."""

from __future__ import annotations

from typing import Any, Callable

from fixgw.codec import Parser, encode, format_utc_timestamp
from fixgw.codec.dictionary import load_dictionary
from fixgw.errors import LocalProtocolError
from fixgw.session import NEED_DATA, Disconnected, Event, Session, SessionConfig, SessionID
from fixgw.stores import MemoryMessageStore

from .common import fail as _fail
from .common import frame

__all__ = ["session_target", "WatchedStore", "OUR_ID", "T0", "NS"]

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
OUR_ID = SessionID("FIX.4.4", "GW", "CLIENT")
_BEGIN = b"FIX.4.4"
_DICT = None
_MAX_OPS = 48
_STEPS = (0, NS // 1000, NS // 10, NS, 5 * NS, 12 * NS, 31 * NS, 37 * NS, 65 * NS, 3600 * NS)
_TEXTS = (b"", b"hi", b"\xff\xfe", b"a|b", b"x" * 40)
_APP_TYPES = (b"D", b"F", b"G", b"H", b"8", b"9", b"j", b"q", b"V", b"ZZ", b"")
_ADMIN = (b"A", b"0", b"1", b"2", b"3", b"4", b"5")


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def pick(self, seq: tuple | list) -> Any:
        return seq[self.byte() % len(seq)]


class WatchedStore:
    """A session store that fails the moment a number goes backwards other than by ``reset``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.resets = 0

    @property
    def next_sender_seq(self) -> int:
        return self.inner.next_sender_seq

    @property
    def next_target_seq(self) -> int:
        return self.inner.next_target_seq

    @property
    def creation_time_ns(self) -> int:
        return self.inner.creation_time_ns

    def save_outbound(self, seq: int, raw: bytes) -> None:
        if seq < self.inner.next_sender_seq:
            _fail(f"save_outbound({seq}) below next_sender_seq {self.inner.next_sender_seq}")
        self.inner.save_outbound(seq, raw)

    def set_next_target_seq(self, n: int) -> None:
        if n < self.inner.next_target_seq:
            _fail(f"next_target_seq back from {self.inner.next_target_seq} to {n} without a reset")
        self.inner.set_next_target_seq(n)

    def set_next_sender_seq(self, n: int) -> None:
        if n < self.inner.next_sender_seq:
            _fail(f"next_sender_seq back from {self.inner.next_sender_seq} to {n} without a reset")
        self.inner.set_next_sender_seq(n)

    def fetch(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return self.inner.fetch(begin, end)

    def reset(self, now_ns: int) -> None:
        self.resets += 1
        self.inner.reset(now_ns)

    def commit(self) -> None:
        self.inner.commit()


def _dictionary() -> Any:
    global _DICT
    if _DICT is None:
        _DICT = load_dictionary("FIX.4.4")
    return _DICT


class _Driver:
    """Drives one session from a byte program and checks what comes out."""

    def __init__(self, data: bytes, trace: list[str] | None = None) -> None:
        self.trace = trace
        r = self.r = _Reader(data)
        flags = r.byte()
        self.initiator = bool(flags & 1)
        self.auto_logon = flags & 6 != 0
        self.obey_disconnect = not flags & 0x80
        sid = self.sid = OUR_ID.reversed() if self.initiator else OUR_ID
        knobs = r.byte()
        config = SessionConfig(
            sid,
            role="initiator" if self.initiator else "acceptor",
            heartbeat_interval=(1, 5, 30)[knobs % 3],
            reset_on_logon=bool(knobs & 4),
            send_next_expected_msg_seq_num=bool(knobs & 8),
            max_sending_time_skew=None if knobs & 16 else 120.0,
            resend_chunk_size=(0, 2)[(knobs >> 5) & 1],
            max_queued_messages=(8, 100_000)[(knobs >> 6) & 1],
            gap_fill_timeout=(None, 10.0)[knobs >> 7],
        )
        self.store = WatchedStore(MemoryMessageStore(now_ns=lambda: T0).session_store(sid))
        self.s = Session(config, self.store, dictionary=_dictionary())
        self.now = T0
        self.resets_seen = 0
        self.out_parser = Parser()

    # -- peer frames --------------------------------------------------------------------------
    def _peer_seq(self) -> int:
        r = self.r
        expected = self.s.next_target_seq
        mode = r.byte() % 8
        if mode < 4:
            return expected
        if mode == 4:
            return expected + 1 + r.byte() % 5
        if mode == 5:
            return max(1, expected - 1 - r.byte() % 3)
        if mode == 6:
            return 1
        return r.byte() * 256 + r.byte()

    def _peer_frame(self, msg_type: bytes | None = None) -> bytes:
        r = self.r
        mt = msg_type if msg_type is not None else r.pick(_ADMIN + _APP_TYPES)
        seq = self._peer_seq() if msg_type is None else self.s.next_target_seq
        skew = (0, 0, 0, -200 * NS, 300 * NS)[r.byte() % 5] if msg_type is None else 0
        header: list[tuple[int, Any]] = [(49, self.sid.target_comp_id), (56, self.sid.sender_comp_id), (34, seq),
                                         (52, format_utc_timestamp(self.now + skew))]
        if msg_type is None and r.byte() % 4 == 0:
            header += [(43, b"Y"), (122, format_utc_timestamp(self.now - NS))]
        v = r.byte() if msg_type is None else 0
        body: list[tuple[int, Any]]
        if mt == b"A":
            body = [(98, 0), (108, (30, 1, 0, -5, 5)[v % 5])]
            if v & 8:
                body.append((141, b"Y"))
            if v & 16:
                body.append((789, max(1, self.s.next_sender_seq - (v >> 5))))
        elif mt == b"1":
            body = [(112, b"T%d" % v)]
        elif mt == b"0":
            body = [(112, b"T%d" % v)] if v & 1 else []
        elif mt == b"2":
            begin = max(0, self.s.next_sender_seq - 1 - v % 6)
            body = [(7, begin), (16, (0, begin, begin + 2, 999999)[v >> 6])]
        elif mt == b"4":
            new = seq + (v % 7) - 2
            body = ([(123, b"Y")] if v & 8 else []) + [(36, new)]
        elif mt == b"5":
            body = [(58, r.pick(_TEXTS))]
        elif mt == b"3":
            body = [(45, max(1, seq - 1)), (373, v % 20), (58, b"no")]
        elif mt == b"D":
            body = [(11, b"C%d" % v), (55, b"BTCUSDT"), (54, (b"1", b"2", b"9")[v % 3]), (60, format_utc_timestamp(self.now)),
                    (38, (b"1", b"0.5", b"x")[(v >> 2) % 3]), (40, b"2"), (44, b"100")]
        elif mt == b"F":
            body = [(41, b"C1"), (11, b"C2"), (55, b"BTCUSDT"), (54, b"1"), (60, format_utc_timestamp(self.now))]
        else:
            body = [(58, r.pick(_TEXTS))] if v & 1 else []
        begin = b"FIX.4.2" if msg_type is None and v % 32 == 31 else _BEGIN
        out = encode(begin, mt, [*header, *body])
        how = r.byte() % 10 if msg_type is None else 0
        if how == 7:  # a malformed field in a well-framed frame (Reject 373=0, not a garble)
            start = out.index(b"\x0135=") + 1
            end = len(out) - 7
            bad = r.pick((b"0=x", b"AB=1", b"novalue", b"=x", b"049=1"))
            inner = out[start:end]
            at = inner.index(b"\x01") + 1
            inner = inner[:at] + bad + b"\x01" + inner[at:]
            out = frame(_BEGIN, inner)
        elif how == 8 and out:  # one byte changed: most often a CheckSum mismatch
            at = r.byte() * 7 % len(out)
            out = out[:at] + bytes([r.byte()]) + out[at + 1 :]
        elif how == 9:
            out = out[: r.byte() % (len(out) + 1)]
        return out

    # -- the driver loop ----------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        r = self.r
        if self.trace is not None:
            self.trace.append(f"t={(self.now - T0) / NS:g}s in  {data!r}")
        cuts = sorted({r.byte() % (len(data) + 1) for _ in range(r.byte() % 3)})
        prev = 0
        for cut in [*cuts, len(data)]:
            if cut > prev or not data:
                self.s.receive_data(data[prev:cut], self.now)
                self.after()
            prev = cut

    def after(self) -> None:
        """Drain events and bytes as a driver must; check the output."""
        s = self.s
        disconnected = False
        for _ in range(10_000):
            event = s.next_event()
            if event is NEED_DATA:
                break
            if not isinstance(event, Event):
                _fail(f"next_event returned {event!r}")
            if type(event) is Disconnected:
                disconnected = True
            if self.trace is not None:
                self.trace.append(f"   event {event!r}")
        else:
            _fail("events never run out")
        for _ in range(10_000):
            out = s.data_to_send()
            if self.trace is not None and out:
                self.trace.append(f"   out {out!r}")
            # Frames queued before a reset (a Logon with 141=Y) may leave after it, no longer stored.
            self.check_output(out, self.store.resets == self.resets_seen)
            self.resets_seen = self.store.resets
            if not s.has_data_to_send:
                break
        else:
            _fail("data_to_send never drains")
        if (disconnected or s.wants_disconnect) and self.obey_disconnect:
            s.connection_lost(self.now)
            while s.next_event() is not NEED_DATA:
                pass

    def check_output(self, out: bytes, same_store: bool) -> None:
        if not out:
            return
        p = self.out_parser
        p.feed(out)
        count = 0
        for m in p:
            count += 1
            if not hasattr(m, "fields") or m.invalid_field is not None:
                _fail(f"we sent a bad frame: {m!r}")
            if (m.get(8), m.get(49), m.get(56)) != (_BEGIN, self.sid.sender_comp_id.encode(), self.sid.target_comp_id.encode()):
                _fail(f"frame of another session: {m!r}")
            seq = m.get(34)
            if seq is None or not seq.isdigit():
                _fail(f"frame without MsgSeqNum: {m!r}")
            if same_store and m.get(43) != b"Y":
                stored = self.store.fetch(int(seq), int(seq))
                if stored != [(int(seq), m.raw)]:
                    _fail(f"frame {int(seq)} left before it was stored: {m!r}")
        if p.buffered or not count:
            _fail(f"data_to_send returned a partial frame: {out[-80:]!r}")

    def guarded(self, call: Callable[[], Any]) -> None:
        """Make an application call; a LocalProtocolError is allowed but must change nothing."""
        s = self.s
        before = (s.state, self.store.next_sender_seq, self.store.next_target_seq, s.has_data_to_send)
        try:
            call()
        except LocalProtocolError:
            after = (s.state, self.store.next_sender_seq, self.store.next_target_seq, s.has_data_to_send)
            if after != before:
                _fail(f"a refused call changed the session: {before} -> {after}")
        self.after()

    def run(self) -> None:
        s, r = self.s, self.r
        s.connection_made(self.now, ("127.0.0.1", 5000))
        self.after()
        if self.auto_logon:
            self.feed(self._peer_frame(b"A"))
        for _ in range(_MAX_OPS):
            if not r.more():
                break
            op = r.byte() % 14
            if self.trace is not None:
                self.trace.append(f"op {op} state={s.state.name} store={self.store.next_sender_seq}/"
                                  f"{self.store.next_target_seq} t={(self.now - T0) / NS:g}s")
            if op <= 3:
                self.feed(self._peer_frame())
            elif op == 4:
                self.feed(r.take(r.byte() % 64))
            elif op == 5:
                frames = b"".join(self._peer_frame() for _ in range(1 + r.byte() % 4))
                self.feed(frames)
            elif op in (6, 7):
                deadline = s.next_deadline_ns()
                if op == 6 and deadline is not None:
                    self.now = max(self.now, deadline)
                else:
                    self.now += r.pick(_STEPS)
                s.on_tick(self.now)
                self.after()
            elif op == 8:
                mt = r.pick(_APP_TYPES + _ADMIN)
                fields = [(11, b"O%d" % r.byte()), (58, r.pick(_TEXTS)), (38, r.byte())]
                self.guarded(lambda: s.send(mt, fields, self.now))
            elif op == 9:
                self.guarded(lambda: s.logout(self.now, "bye"))
            elif op == 10:
                self.guarded(lambda: s.connection_lost(self.now))
            elif op == 11:
                self.guarded(lambda: s.connection_made(self.now, ("127.0.0.1", 5000)))
                if s.is_connected and r.byte() & 1:
                    self.feed(self._peer_frame(b"A"))
            elif op == 12:
                self.feed(b"")
            else:
                self.now -= r.byte() * NS // 50  # the host clock stepped back
                s.on_tick(self.now)
                self.after()
            d = s.next_deadline_ns()
            if d is not None and type(d) is not int:
                _fail(f"next_deadline_ns returned {d!r}")


def session_target(data: bytes, trace: list[str] | None = None) -> None:
    """Run the session invariants on the program ``data``; ``trace`` collects a readable log of it."""
    _Driver(data, trace).run()


