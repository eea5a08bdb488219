"""Test helpers: a scripted counterparty, a ConnectionPair of two engines, and a fake dictionary."""

from __future__ import annotations

from typing import Any, Iterable

from fixgw.clock import FakeClock
from fixgw.codec import Message, Parser, encode, format_utc_timestamp
from fixgw.errors import ValidationError
from fixgw.session import NEED_DATA, Session, SessionConfig, SessionID
from fixgw.stores import MemoryMessageStore

NS = 1_000_000_000
T0 = 1_700_000_000 * NS

ACCEPTOR_ID = SessionID("FIX.4.4", "GW", "CLIENT")
INITIATOR_ID = ACCEPTOR_ID.reversed()


def parse_frames(data: bytes) -> list[Message]:
    """Split bytes into messages, failing on anything garbled."""
    parser = Parser()
    parser.feed(data)
    out = []
    for item in parser:
        assert isinstance(item, Message), item
        out.append(item)
    assert parser.buffered == 0
    return out


def drain(session: Session) -> list[Any]:
    events = []
    while (event := session.next_event()) is not NEED_DATA:
        events.append(event)
    return events


def sent(session: Session) -> list[Message]:
    return parse_frames(session.data_to_send())


def types(messages: Iterable[Message]) -> list[bytes]:
    return [m.get(35) for m in messages]


class Peer:
    """The counterparty written by hand: builds frames as the test case scripts say."""

    def __init__(self, session_id: SessionID, clock: FakeClock) -> None:
        # session_id is the *peer's* view (its sender is our target).
        self.sid = session_id
        self.clock = clock
        self.next_seq = 1

    def frame(
        self,
        msg_type: bytes | str,
        fields: Iterable[tuple[int, Any]] = (),
        *,
        seq: int | None = None,
        sending_time_ns: int | None = None,
        poss_dup: bool = False,
        orig_sending_time_ns: int | None = None,
        begin: str | None = None,
        sender: str | None = None,
        target: str | None = None,
        header: Iterable[tuple[int, Any]] = (),
        omit: Iterable[int] = (),
    ) -> bytes:
        """Build one frame; ``seq`` None takes (and advances) the running number."""
        if seq is None:
            seq = self.next_seq
            self.next_seq += 1
        now = self.clock.now_ns() if sending_time_ns is None else sending_time_ns
        hdr: list[tuple[int, Any]] = [
            (49, sender or self.sid.sender_comp_id),
            (56, target or self.sid.target_comp_id),
            (34, seq),
            (52, format_utc_timestamp(now)),
        ]
        if poss_dup:
            hdr.append((43, "Y"))
        if orig_sending_time_ns is not None:
            hdr.append((122, format_utc_timestamp(orig_sending_time_ns)))
        hdr.extend(header)
        skip = set(omit)
        all_fields = [(t, v) for t, v in [*hdr, *fields] if t not in skip]
        return encode(begin or self.sid.begin_string, msg_type, all_fields)

    def logon(self, heartbeat_interval: int = 30, extra: Iterable[tuple[int, Any]] = (), **kw: Any) -> bytes:
        return self.frame("A", [(98, 0), (108, heartbeat_interval), *extra], **kw)

    def order(self, cl_ord_id: str = "o1", **kw: Any) -> bytes:
        return self.frame(
            "D",
            [(11, cl_ord_id), (55, "BTCUSDT"), (54, "1"), (60, "20240101-00:00:00"), (38, "1"), (40, "2"), (44, "100")],
            **kw,
        )


def new_clock() -> FakeClock:
    return FakeClock(T0)


def make_session(
    clock: FakeClock,
    role: str = "acceptor",
    session_id: SessionID | None = None,
    store: Any = None,
    **config: Any,
) -> Session:
    sid = session_id or (ACCEPTOR_ID if role == "acceptor" else INITIATOR_ID)
    store = store if store is not None else MemoryMessageStore(now_ns=clock.now_ns).session_store(sid)
    dictionary = config.pop("dictionary", None)
    authenticator = config.pop("authenticator", None)
    return Session(SessionConfig(sid, role=role, **config), store, dictionary=dictionary, authenticator=authenticator)


def logged_on_acceptor(clock: FakeClock, **config: Any) -> tuple[Session, Peer]:
    """An acceptor that has answered a valid Logon (its outbound buffer drained)."""
    s = make_session(clock, **config)
    peer = Peer(INITIATOR_ID, clock)
    s.connection_made(clock.now_ns(), ("127.0.0.1", 5000))
    s.receive_data(peer.logon(), clock.now_ns())
    events = drain(s)
    assert any(type(e).__name__ == "LoggedOn" for e in events), events
    s.data_to_send()
    return s, peer


class ConnectionPair:
    """Two engines (acceptor and initiator) linked in memory, sharing one fake clock."""

    def __init__(self, clock: FakeClock | None = None, *, acceptor: dict | None = None, initiator: dict | None = None,
                 acceptor_store: Any = None, initiator_store: Any = None) -> None:
        self.clock = clock or new_clock()
        self.acceptor = make_session(self.clock, "acceptor", store=acceptor_store, **(acceptor or {}))
        self.initiator = make_session(self.clock, "initiator", store=initiator_store, **(initiator or {}))
        self.events: dict[str, list[Any]] = {"acceptor": [], "initiator": []}
        self.wire: dict[str, list[Message]] = {"acceptor": [], "initiator": []}

    def connect(self) -> None:
        now = self.clock.now_ns()
        self.acceptor.connection_made(now, ("127.0.0.1", 40000))
        self.initiator.connection_made(now, ("127.0.0.1", 9876))
        self.pump()

    def sessions(self) -> list[tuple[str, Session, Session]]:
        return [("acceptor", self.acceptor, self.initiator), ("initiator", self.initiator, self.acceptor)]

    def pump(self, max_rounds: int = 1000) -> None:
        """Move bytes both ways until both sides are quiet; collect events."""
        for _ in range(max_rounds):
            moved = False
            for name, src, dst in self.sessions():
                data = src.data_to_send()
                self.events[name].extend(drain(src))
                if data:
                    moved = True
                    self.wire[name].extend(parse_frames(data))
                    dst.receive_data(data, self.clock.now_ns())
            for name, src, _ in self.sessions():
                self.events[name].extend(drain(src))
            if not moved:
                self._close_if_wanted()
                return
        raise AssertionError("pump did not settle")

    def _close_if_wanted(self) -> None:
        if self.acceptor.wants_disconnect or self.initiator.wants_disconnect:
            now = self.clock.now_ns()
            self.acceptor.connection_lost(now)
            self.initiator.connection_lost(now)
            for name, s, _ in self.sessions():
                self.events[name].extend(drain(s))

    def advance(self, seconds: float) -> None:
        """Move time, running each side's timers at their deadlines on the way."""
        target = self.clock.now_ns() + int(seconds * NS)
        while True:
            deadlines = [d for d in (self.acceptor.next_deadline_ns(), self.initiator.next_deadline_ns()) if d is not None]
            nxt = min(deadlines) if deadlines else None
            if nxt is None or nxt > target:
                break
            self.clock.set(max(nxt, self.clock.now_ns()))
            self.acceptor.on_tick(self.clock.now_ns())
            self.initiator.on_tick(self.clock.now_ns())
            self.pump()
        self.clock.set(target)

    def app(self, name: str) -> list[Any]:
        return [e for e in self.events[name] if type(e).__name__ == "ApplicationMessage"]


class FakeDictionary:
    """Just enough of ``fixgw.codec.dictionary`` for the engine: validate, has_msg_type, is_admin."""

    def __init__(self, msg_types: Iterable[bytes] = (b"0", b"1", b"2", b"3", b"4", b"5", b"A", b"D", b"8", b"F", b"j"),
                 required: dict[bytes, tuple[int, ...]] | None = None) -> None:
        self.msg_types = frozenset(msg_types)
        self.required = required or {b"D": (11, 55, 54, 38, 40)}
        self.data_tags = {95: 96}

    def has_msg_type(self, msg_type: bytes) -> bool:
        return msg_type in self.msg_types

    def is_admin(self, msg_type: bytes) -> bool:
        return msg_type in {b"0", b"1", b"2", b"3", b"4", b"5", b"A"}

    def validate(self, msg: Message) -> None:
        for tag in self.required.get(msg.get(35), ()):
            if tag not in msg:
                raise ValidationError(1, tag, "Required tag missing")
        seen = set()
        for tag, value in msg.fields:
            if tag == 9999:
                raise ValidationError(0, tag, "Invalid tag number")
            if value == b"":
                raise ValidationError(4, tag, "Tag specified without a value")
            if tag in seen and tag not in (10,):
                raise ValidationError(13, tag, "Tag appears more than once")
            seen.add(tag)
        side = msg.get(54)
        if msg.get(35) == b"D" and side is not None and side not in (b"1", b"2"):
            raise ValidationError(5, 54, "Value is incorrect (out of range) for this tag")
