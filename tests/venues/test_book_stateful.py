"""The book algorithm against a model venue: random deltas, drops, duplicates, reorderings, stale snapshots.

The venue keeps the truth at every update id. Each of its events merges one to three changes, so an
event covers ``[U, u]`` and a snapshot may sit inside it (the straddle case). The network between them
drops, duplicates, reorders and replays events, and loses the stream; snapshots are served fresh or
aged. The invariant after every step: a LIVE book equals the venue's book at the book's update id
exactly, and a book that is not LIVE shows nothing (a resync is pending). At a quiet point (the venue
publishes, the network delivers everything in order, fresh snapshots are served) the book is LIVE and
equal to the venue's current book.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fixgw.venues._common.book import DepthSnapshot, DepthUpdate, LocalBook

BID_PX = st.integers(1, 9).map(Decimal)
ASK_PX = st.integers(11, 19).map(Decimal)
QTY = st.sampled_from([Decimal(0), Decimal(0), Decimal(1), Decimal("2.5"), Decimal("7")])
CHANGE = st.tuples(st.lists(st.tuples(BID_PX, QTY), max_size=3), st.lists(st.tuples(ASK_PX, QTY), max_size=3))


class _Venue:
    """The truth: the book at every update id, and the events as published."""

    def __init__(self) -> None:
        self.id = 0
        self.books: dict[int, tuple[dict, dict]] = {0: ({}, {})}

    def publish(self, changes: list) -> DepthUpdate:
        first = self.id + 1
        merged: tuple[dict, dict] = ({}, {})
        for bl, al in changes:
            bids, asks = (dict(s) for s in self.books[self.id])
            for side, merged_side, ls in ((bids, merged[0], bl), (asks, merged[1], al)):
                for p, q in ls:
                    merged_side[p] = q
                    if q:
                        side[p] = q
                    else:
                        side.pop(p, None)
            self.id += 1
            self.books[self.id] = (bids, asks)
        return DepthUpdate(first, self.id, list(merged[0].items()), list(merged[1].items()))

    def snapshot(self, at: int) -> DepthSnapshot:
        bids, asks = self.books[at]
        return DepthSnapshot(at, list(bids.items()), list(asks.items()))

    def view(self, at: int) -> tuple[list, list]:
        bids, asks = self.books[at]
        return sorted(bids.items(), reverse=True), sorted(asks.items())


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.venue = _Venue()
        self.book = LocalBook("BTC/USDT", max_buffered=1000)
        self.wire: list[DepthUpdate] = []  # published, not yet delivered, in order
        self.sent: list[DepthUpdate] = []  # every event published, for replays
        self.requested = False

    def _poll(self) -> None:
        if self.book.take_snapshot_request():
            self.requested = True

    def _deliver(self, e: DepthUpdate) -> None:
        self.book.on_event(e)
        self._poll()

    # -- the venue ------------------------------------------------------------------------------------
    @rule(changes=st.lists(CHANGE, min_size=1, max_size=3))
    def venue_publishes(self, changes: list) -> None:
        e = self.venue.publish(changes)
        self.wire.append(e)
        self.sent.append(e)

    # -- the network ----------------------------------------------------------------------------------
    @precondition(lambda self: self.wire)
    @rule()
    def deliver(self) -> None:
        self._deliver(self.wire.pop(0))

    @precondition(lambda self: self.wire)
    @rule()
    def drop(self) -> None:
        self.wire.pop(0)

    @precondition(lambda self: self.wire)
    @rule()
    def duplicate(self) -> None:
        self._deliver(self.wire[0])

    @precondition(lambda self: len(self.wire) >= 2)
    @rule()
    def reorder(self) -> None:
        self.wire[0], self.wire[1] = self.wire[1], self.wire[0]

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def replay_old(self, data: st.DataObject) -> None:
        self._deliver(data.draw(st.sampled_from(self.sent)))

    @rule()
    def stream_lost(self) -> None:
        self.wire.clear()  # what was in flight is gone; a new stream starts at the venue's next event
        self.book.stream_lost()
        self._poll()

    # -- snapshots ------------------------------------------------------------------------------------
    @precondition(lambda self: self.requested)
    @rule(age=st.integers(0, 4))
    def serve_snapshot(self, age: int) -> None:
        self.requested = False
        self.book.on_snapshot(self.venue.snapshot(max(0, self.venue.id - age)))
        self._poll()

    @rule(age=st.integers(0, 2))
    def serve_unrequested_snapshot(self, age: int) -> None:
        # A late answer to an earlier request: the book must use it by the rules or drop it.
        self.book.on_snapshot(self.venue.snapshot(max(0, self.venue.id - age)))
        self._poll()

    @rule()
    def quiet_point(self) -> None:
        self.venue_publishes([([], [])])  # the venue keeps publishing, so a lost tail shows as a gap
        for _ in range(5):
            while self.wire:
                self._deliver(self.wire.pop(0))
            self._poll()
            if self.book.is_live and self.book.last_update_id == self.venue.id:
                break
            if self.requested:
                self.requested = False
                self.book.on_snapshot(self.venue.snapshot(self.venue.id))
                self._poll()
        assert self.book.is_live, self.book
        assert self.book.last_update_id == self.venue.id
        assert self.book.top() == self.venue.view(self.venue.id)

    # -- the invariant --------------------------------------------------------------------------------
    @invariant()
    def never_silently_wrong(self) -> None:
        b = self.book
        if b.is_live:
            assert b.top() == self.venue.view(b.last_update_id), (b, b.last_update_id)
            assert b.top(2) == tuple(side[:2] for side in self.venue.view(b.last_update_id))
        else:
            self._poll()
            assert b.top() == ([], []) and self.requested  # a snapshot is asked for


BookMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_book_against_model_venue_never_silently_diverges = BookMachine.TestCase
