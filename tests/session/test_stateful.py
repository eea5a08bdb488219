"""A stateful model of an acceptor under a misbehaving peer.

The peer sends numbered application messages through a FIFO channel and may also lose frames (their
numbers stay used, as after a crash), duplicate old ones with PossDupFlag, garble bytes, swap the two
frames at the head of the channel, ignore one of our ResendRequests, and let the clock jump (our clock
also backwards, as a stepped host clock does). It answers the acceptor's other ResendRequests from its
own store and its TestRequests with Heartbeats, and logs on again after a disconnect.

Invariants: the application never sees a number twice or out of order and always sees what the peer
sent under that number; every gap is eventually requested (held messages always have a ResendRequest
outstanding and the watchdog that asks again armed, and an ignored request is asked again); every new
outbound frame is committed to the store, byte for byte, before it leaves ``data_to_send()``; after
everything in flight is delivered, the application has every message.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fixgw.clock import FakeClock
from fixgw.session import ApplicationMessage, Disconnected
from fixgw.stores import MemoryMessageStore

from .helpers import ACCEPTOR_ID, INITIATOR_ID, T0, ConnectionPair, Peer, drain, make_session, parse_frames


class DurabilityTrackingStore:
    """A session store that tells saved from committed: ``durable`` holds what the last commit made safe."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.pending: dict[int, bytes] = {}
        self.durable: dict[int, bytes] = {}

    def __getattr__(self, name):
        return getattr(self.inner, name)

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
        self.inner.save_outbound(seq, raw)
        self.pending[seq] = raw

    def reset(self, now_ns: int) -> None:
        self.inner.reset(now_ns)
        self.pending.clear()
        self.durable.clear()

    def commit(self) -> None:
        self.inner.commit()
        self.durable.update(self.pending)
        self.pending.clear()


class AcceptorUnderStress(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0)  # ours: may step backwards
        self.peer_clock = FakeClock(T0)  # the peer's: only moves forward
        self.store = DurabilityTrackingStore(MemoryMessageStore(now_ns=self.clock.now_ns).session_store(ACCEPTOR_ID))
        self.s = make_session(self.clock, store=self.store, max_sending_time_skew=None, resend_chunk_size=3,
                              gap_fill_timeout=10.0)
        self.peer = Peer(INITIATOR_ID, self.peer_clock)
        self.deaf = False  # the peer ignores our next ResendRequest
        self.peer_store: dict[int, tuple[str, list, int]] = {}  # seq -> (msg_type, fields, sending ns)
        self.channel: list[bytes] = []
        self.delivered: list[int] = []
        self.app_seqs: set[int] = set()
        self.counter = 0
        self._connect()

    # -- the peer -------------------------------------------------------------------------------
    def _new(self, msg_type: str, fields: list) -> bytes:
        seq = self.peer.next_seq
        self.peer_store[seq] = (msg_type, fields, self.peer_clock.now_ns())
        if msg_type == "D":
            self.app_seqs.add(seq)
        return self.peer.frame(msg_type, fields)

    def _connect(self) -> None:
        now = self.clock.now_ns()
        self.s.connection_made(now, ("127.0.0.1", 1))
        self.channel = [self._new("A", [(98, 0), (108, 30)])]
        self._deliver(1)

    def _answer(self, data: bytes) -> None:
        for msg in parse_frames(data):
            seq = int(msg.get(34))
            if msg.get(43) != b"Y":
                assert self.store.durable.get(seq) == msg.raw, "sent before committed to the store"
            mt = msg.get(35)
            if mt == b"1":
                self.channel.append(self._new("0", [(112, msg.get(112))]))
            elif mt == b"2" and self.deaf:
                self.deaf = False  # lost on the peer's side: only our watchdog can recover it
            elif mt == b"2":
                begin, end = int(msg.get(7)), int(msg.get(16))
                last = self.peer.next_seq - 1 if end == 0 else end
                for n in range(begin, last + 1):
                    kind, fields, orig = self.peer_store[n]
                    if kind == "D":
                        frame = self.peer.frame(kind, fields, seq=n, poss_dup=True, orig_sending_time_ns=orig)
                    else:
                        frame = self.peer.frame("4", [(123, "Y"), (36, n + 1)], seq=n, poss_dup=True,
                                                orig_sending_time_ns=orig)
                    self.channel.append(frame)

    def _pump(self) -> None:
        for event in drain(self.s):
            if isinstance(event, ApplicationMessage):
                seq = int(event.message.get(34))
                assert not self.delivered or seq > self.delivered[-1], (self.delivered[-3:], seq)
                assert event.message.get(11) == b"o%d" % seq
                self.delivered.append(seq)
            elif isinstance(event, Disconnected):
                self.s.data_to_send()
                self.s.connection_lost(self.clock.now_ns())
                drain(self.s)
                self._connect()
                return
        while data := self.s.data_to_send():
            self._answer(data)

    def _deliver(self, count: int, split: int = 0) -> None:
        frames, self.channel = self.channel[:count], self.channel[count:]
        data = b"".join(frames)
        cut = min(split, len(data))
        now = self.clock.now_ns()
        if cut:
            self.s.receive_data(data[:cut], now)
            self.s.receive_data(data[cut:], now)
        else:
            self.s.receive_data(data, now)
        self._pump()

    # -- rules ----------------------------------------------------------------------------------
    @rule()
    def send_valid(self) -> None:
        seq = self.peer.next_seq
        self.channel.append(self._new("D", [(11, "o%d" % seq), (55, "X")]))

    @rule()
    def lose_one(self) -> None:
        seq = self.peer.next_seq
        self._new("D", [(11, "o%d" % seq), (55, "X")])  # numbered and stored, never arrives

    @rule(data=st.data())
    def duplicate(self, data) -> None:
        seqs = sorted(self.app_seqs)
        if not seqs:
            return
        n = data.draw(st.sampled_from(seqs))
        kind, fields, orig = self.peer_store[n]
        self.channel.append(self.peer.frame(kind, fields, seq=n, poss_dup=True, orig_sending_time_ns=orig))

    @rule(cut=st.integers(1, 60))
    def garbled(self, cut: int) -> None:
        frame = self.peer.frame("D", [(11, "bad")], seq=self.peer.next_seq)
        self.channel.append(frame[:-cut] + b"x" * cut if cut < len(frame) else b"junk")

    @precondition(lambda self: len(self.channel) >= 2)
    @rule()
    def swap_head(self) -> None:
        a, b = self.channel[0], self.channel[1]
        if b"\x0143=Y" not in a and b"\x0143=Y" not in b:
            self.channel[0], self.channel[1] = b, a

    @precondition(lambda self: bool(self.channel))
    @rule(count=st.integers(1, 4), split=st.integers(0, 300))
    def deliver(self, count: int, split: int) -> None:
        self._deliver(count, split)

    @rule()
    def ignore_next_resend_request(self) -> None:
        self.deaf = True

    @rule(seconds=st.integers(-30, 40))
    def clock_jump(self, seconds: int) -> None:
        # Our clock steps either way; the peer's only moves forward (its SendingTimes stay ordered).
        self.peer_clock.advance(max(seconds, 0))
        self.s.on_tick(self.clock.advance(seconds))
        self._pump()

    @rule()
    def settle(self) -> None:
        # A lost last message shows only when something follows it: the peer's next Heartbeat.
        self.channel.append(self._new("0", []))
        for _ in range(200):
            if self.channel:
                self._deliver(len(self.channel))
            elif self.s.awaiting_gap_fill:
                # Nothing in flight and a hole open: our ResendRequest was ignored. Wait for the watchdog.
                deadline = self.s.next_deadline_ns()
                assert deadline is not None
                self.clock.set(max(deadline, self.clock.now_ns()))
                self.peer_clock.advance(1)
                self.s.on_tick(self.clock.now_ns())
                self._pump()
            else:
                break
        assert not self.channel
        assert self.s.is_logged_on
        assert self.s.next_target_seq == self.peer.next_seq
        assert not self.s.awaiting_gap_fill
        assert set(self.delivered) == self.app_seqs

    # -- invariants -----------------------------------------------------------------------------
    @invariant()
    def every_gap_is_requested_and_watched(self) -> None:
        sequencer = self.s._seq
        if sequencer.queue and self.s.is_logged_on:
            assert sequencer.requested is not None
        if sequencer.requested is not None and self.s.is_logged_on:
            assert self.s._gap.deadline_ns is not None  # an ignored request will be asked again

    @invariant()
    def delivered_strictly_increasing(self) -> None:
        assert all(a < b for a, b in zip(self.delivered, self.delivered[1:]))

    def teardown(self) -> None:
        self.settle()


AcceptorUnderStress.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_acceptor_under_stress = AcceptorUnderStress.TestCase



class PairWithCrashes(RuleBasedStateMachine):
    """Two engines exchanging application messages through crashes, reconnects and clock jumps.

    Invariant: each side's application gets the other's messages once each, in sending order, and,
    once the link is up and quiet, all of them (those sent while disconnected included).
    """

    def __init__(self) -> None:
        super().__init__()
        self.pair = ConnectionPair(acceptor={"resend_chunk_size": 2}, initiator={"resend_request_chunk_size": 3})
        self.sent = {"acceptor": [], "initiator": []}
        self.counter = 0
        self.pair.connect()

    def _other(self, name: str) -> str:
        return "initiator" if name == "acceptor" else "acceptor"

    def _received(self, name: str) -> list[bytes]:
        return [e.message.get(58) for e in self.pair.app(name)]

    @rule(side=st.sampled_from(["acceptor", "initiator"]), pump=st.booleans())
    def send(self, side: str, pump: bool) -> None:
        self.counter += 1
        text = b"m%d" % self.counter
        session = getattr(self.pair, side)
        session.send(b"B", [(148, "news"), (58, text)], self.pair.clock.now_ns())
        self.sent[side].append(text)
        if pump and session.is_connected:
            self.pair.pump()

    @rule()
    def pump(self) -> None:
        self.pair.pump()

    @precondition(lambda self: self.pair.acceptor.is_connected)
    @rule()
    def crash_link(self) -> None:
        now = self.pair.clock.now_ns()
        for s in (self.pair.acceptor, self.pair.initiator):
            s.data_to_send()  # written to a socket that dies: the peer never sees it
            s.connection_lost(now)

    @precondition(lambda self: not self.pair.acceptor.is_connected and not self.pair.initiator.is_connected)
    @rule()
    def reconnect(self) -> None:
        self.pair.connect()

    @rule(seconds=st.integers(1, 45))
    def clock_jump(self, seconds: int) -> None:
        if self.pair.acceptor.is_connected:
            self.pair.advance(seconds)
        else:
            self.pair.clock.advance(seconds)

    @invariant()
    def delivered_once_in_order(self) -> None:
        for name in ("acceptor", "initiator"):
            got = self._received(name)
            sent = self.sent[self._other(name)]
            order = [sent.index(t) for t in got]
            assert order == sorted(set(order)), (got, sent)

    def teardown(self) -> None:
        if not self.pair.acceptor.is_connected:
            self.pair.connect()
        self.pair.pump()
        self.pair.advance(31)  # heartbeats reveal any gap at the tail
        self.pair.pump()
        assert self.pair.acceptor.is_logged_on and self.pair.initiator.is_logged_on
        for name in ("acceptor", "initiator"):
            assert self._received(name) == self.sent[self._other(name)]


PairWithCrashes.TestCase.settings = settings(max_examples=80, stateful_step_count=30, deadline=None)
test_pair_with_crashes = PairWithCrashes.TestCase
