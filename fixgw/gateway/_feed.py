"""The drop-copy feed: every order event of every account, numbered gap-free, for the bridge's stream.

Theory of operation
-------------------
Each account's journal (a FIX session's or a bridge account's) is wrapped in a ``_Tap`` that hands
every *event* it appends (not the commands) to the ``EventFeed``, which numbers it: event ids are
1, 2, 3, ... in the order the events were journaled, whichever face entered the order. The ids are
not stored; they are the events' ranks in the journal, so after a restart ``EventFeed.recover`` counts
the journaled events again (in journal order: SQLite's ``seq`` is one sequence over every account)
and the next event continues where the last run stopped, with the same ids for the same events.

The feed keeps the last ``history`` events in memory for replay. ``subscribe(since)`` returns, in one
step with no await, the events after ``since`` still held and a bounded queue that receives every
later one, so a client that resumes with ``since=<last id seen>`` gets no gap and no duplicate. A
subscriber whose queue is full is dropped (``Subscriber.overflowed``), never waited for: a slow client
cannot hold the gateway up.

An event is numbered when appended, before its commit; the sender flushes the store (``flush``)
before it writes any event, so no event leaves the process before it is durable.
"""

from __future__ import annotations

import collections
import heapq
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .. import jsonio
from ..orders.serial import record_to_dict

__all__ = ["EventFeed", "FeedEvent", "Subscriber", "DEFAULT_HISTORY", "DEFAULT_QUEUE"]

#: Events kept in memory for replay.
DEFAULT_HISTORY = 100_000
#: Events a subscriber may have waiting before it is dropped as too slow.
DEFAULT_QUEUE = 10_000


def _is_event(record: Any) -> bool:
    return hasattr(type(record), "exec_type")  # events carry an ExecType; commands do not


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One numbered order event: ``id``, the account key, our order id, and the journaled event."""

    id: int
    account: str
    order_id: str
    event: Any
    _text: str | None = field(default=None, init=False, repr=False, compare=False)

    def text(self) -> str:
        """``as_json`` as compact JSON text, made once however many stream clients send it."""
        if self._text is None:
            object.__setattr__(self, "_text", jsonio.dumps(self.as_json()))
        return self._text  # type: ignore[return-value]

    def as_json(self) -> dict[str, Any]:
        body = record_to_dict(self.event)
        kind = body.pop("type")
        return {"type": "event", "id": self.id, "account": self.account, "order_id": self.order_id, "kind": kind,
                "event": body}

    @property
    def is_fill(self) -> bool:
        return type(self.event).__name__ == "OrderFilled"


@dataclass(eq=False)
class Subscriber:
    """A stream client's queue of live events; ``overflowed`` once it fell ``limit`` events behind."""

    limit: int
    queue: collections.deque[FeedEvent] = field(default_factory=collections.deque)
    overflowed: bool = False
    wake: Callable[[], None] | None = None

    def push(self, event: FeedEvent) -> None:
        if self.overflowed:
            return
        if len(self.queue) >= self.limit:
            self.overflowed = True
            self.queue.clear()
        else:
            self.queue.append(event)
        if self.wake is not None:
            self.wake()


class EventFeed:
    """Numbers the journaled order events and fans them out (see the module docstring)."""

    def __init__(self, history: int = DEFAULT_HISTORY) -> None:
        self.last_id = 0
        self._recent: collections.deque[FeedEvent] = collections.deque(maxlen=history)
        self._subscribers: set[Subscriber] = set()
        #: The store's flush, run before an event is written out (set by the gateway).
        self.flush: Callable[[], None] = lambda: None

    def tap(self, journal: Any) -> Any:
        """Return ``journal`` wrapped so that every event it appends reaches this feed."""
        return _Tap(journal, self)

    def recover(self, journals: Iterable[Any]) -> None:
        """Number the events already journaled (at start-up, before anything is appended)."""
        streams = [((seq, i, journal.account, record) for seq, record in journal.records())
                   for i, journal in enumerate(journals)]
        for _, _, account, record in heapq.merge(*streams, key=lambda t: (t[0], t[1])):
            if _is_event(record):
                self._add(account, record)

    def append(self, account: str, record: Any) -> None:
        if _is_event(record):
            event = self._add(account, record)
            for sub in self._subscribers:
                sub.push(event)

    def _add(self, account: str, record: Any) -> FeedEvent:
        self.last_id += 1
        event = FeedEvent(self.last_id, account, record.order_id, record)
        self._recent.append(event)
        return event

    @property
    def oldest_id(self) -> int:
        """The id of the oldest event still held for replay (``last_id + 1`` when none is)."""
        return self._recent[0].id if self._recent else self.last_id + 1

    def subscribe(self, since: int | None, limit: int = 0) -> tuple[list[FeedEvent], Subscriber] | None:
        """Return (the held events after ``since``, a subscriber for the later ones); ``None`` when events
        after ``since`` are no longer held. ``since=None``: live events only."""
        sub = Subscriber(limit or DEFAULT_QUEUE)
        replay: list[FeedEvent] = []
        if since is not None:
            since = min(since, self.last_id)
            if since + 1 < self.oldest_id:
                return None
            replay = list(self._since(since))
        self._subscribers.add(sub)
        return replay, sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def _since(self, since: int) -> Iterator[FeedEvent]:
        if since >= self.last_id:
            return iter(())
        start = len(self._recent) - (self.last_id - since)
        return (self._recent[i] for i in range(max(start, 0), len(self._recent)))

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


class _Tap:
    """A journal that also hands each appended event to the feed (everything else passes through)."""

    def __init__(self, journal: Any, feed: EventFeed) -> None:
        self._journal = journal
        self._feed = feed
        self._account = journal.account

    def append(self, record: Any, order_id: str | None = None) -> int:
        seq = self._journal.append(record, order_id)
        self._feed.append(self._account, record)
        return seq  # type: ignore[no-any-return]

    def append_and_commit(self, record: Any, order_id: str | None = None) -> int:
        seq = self.append(record, order_id)
        self._journal.commit()
        return seq

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)
