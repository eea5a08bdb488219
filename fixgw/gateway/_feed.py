"""The drop-copy feed: every order event of every account, numbered gap-free, for the bridge's stream.

Theory of operation
-------------------
Each account's journal (a FIX session's or a bridge account's) is wrapped in a ``_Tap`` that hands
every *event* it appends (not the commands) to the ``EventFeed``, which numbers it: event ids are
1, 2, 3, ... in the order the events were journaled, whichever face entered the order. The ids are
not stored; they are the events' ranks in the journal, so after a restart ``EventFeed.recover`` counts
the journaled events again (in journal order: SQLite's ``seq`` is one sequence over every account)
and the next event continues where the last run stopped, with the same ids for the same events.

The feed keeps the last ``history`` events in memory for replay, each as a flat tuple of its id, account,
order id, record kind and the record's field values (``_held``): such a tuple of strings and numbers is
one object the garbage collector stops tracking, where a ``FeedEvent`` and its record are two it walks on
every full pass (100,000 held events made one full pass 69 ms, a stall in the bridge's tail latency);
a replay builds the events again. ``subscribe(since)`` returns, in one
step with no await, the events after ``since`` still held and a bounded queue that receives every
later one, so a client that resumes with ``since=<last id seen>`` gets no gap and no duplicate. A
subscriber whose queue is full is dropped (``Subscriber.overflowed``), never waited for: a slow client
cannot hold the gateway up.

An event is numbered when appended, before its commit; the sender flushes the store (``flush``)
before it writes any event, so no event leaves the process before it is durable.

Shared journal (PostgreSQL, ``share``): several gateway nodes append to one journal at once, so no node
can number events by counting its own. The database numbers them (``fixgw.stores.journal_postgres``:
gap-free, in commit order, across nodes) and the feed takes the ids from there: an append only wakes
``run``, which flushes the store and reads the committed events after ``last_id`` (a connection of its
own, on the loop without a thread where the source can: ``after_async``), the node's own and the other
nodes', and hands them out in id order; it also reads every ``poll`` seconds for the other nodes' events.
While nobody subscribes it waits ``IDLE_READ_GAP`` after a wake, so one read takes many commits' events.
Every node's feed so holds the same events with the same ids, and a stream client that resumes with
``since=<id>`` on another node (after a takeover) misses nothing and gets nothing twice. A client's ``since`` beyond what the node has read yet is kept as
its cursor (``Subscriber.after``), not clamped.
"""

from __future__ import annotations

import collections
import heapq
import logging
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable, Iterator

import anyio

from .. import jsonio
from ..errors import StoreError
from ..logsafe import printable
from ..orders.serial import record_to_dict

__all__ = ["EventFeed", "FeedEvent", "Subscriber", "DEFAULT_HISTORY", "DEFAULT_QUEUE", "share_journal_events"]

#: Events kept in memory for replay.
DEFAULT_HISTORY = 100_000
#: Events a subscriber may have waiting before it is dropped as too slow.
DEFAULT_QUEUE = 10_000
#: Seconds between two reads of a shared journal's events when nothing woke the feed (other nodes' events).
DEFAULT_POLL = 0.25
#: Seconds a shared feed that nobody streams waits after a wake before it reads (one read per many
#: commits, not one per commit: a read is a query the database serves); a subscriber gets prompt reads.
IDLE_READ_GAP = 0.02

log = logging.getLogger("fixgw.gateway")


def _is_event(record: Any) -> bool:
    return hasattr(type(record), "exec_type")  # events carry an ExecType; commands do not


#: Record kinds held flat in the history (see the module docstring), by index, with their field names;
#: index -1: held as they are.
_KINDS: list[tuple[type, tuple[str, ...]]] = []
_KIND_INDEX: dict[type, int] = {}


def _kind_of(cls: type) -> int:
    index = _KIND_INDEX.get(cls)
    if index is None:
        try:
            flat = all(f.init for f in fields(cls))  # rebuilt from its values: every field an argument
        except TypeError:  # not a dataclass
            flat = False
        index = len(_KINDS) if flat else -1
        if flat:
            _KINDS.append((cls, tuple(f.name for f in fields(cls))))
        _KIND_INDEX[cls] = index
    return index


def _held(event: FeedEvent) -> Any:
    """The history's form of ``event``: a flat tuple, or the event itself for a kind that cannot be."""
    record = event.event
    index = _kind_of(type(record))
    if index < 0:
        return event
    return (event.id, event.account, event.order_id, index, *[getattr(record, name) for name in _KINDS[index][1]])


def _unheld(held: Any) -> FeedEvent:
    if type(held) is not tuple:
        return held  # type: ignore[no-any-return]
    event_id, account, order_id, index, *values = held
    cls, names = _KINDS[index]
    return FeedEvent(event_id, account, order_id, cls(**dict(zip(names, values))))


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
    #: Events up to this id are not pushed (a resume beyond what a shared feed has read yet).
    after: int = 0

    def push(self, event: FeedEvent) -> None:
        if self.overflowed or event.id <= self.after:
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
        self._recent: collections.deque[Any] = collections.deque(maxlen=history)  # ``_held`` forms
        self._subscribers: set[Subscriber] = set()
        #: The store's flush, run before an event is written out (set by the gateway).
        self.flush: Callable[[], None] = lambda: None
        #: The store's ``durable`` (set by the gateway): None once this node's writes are durable, else an
        #: awaitable for when they are (pipelined commits); by default ``flush``.
        self.durable: Callable[[], Any] = lambda: self.flush()
        self._source: Any = None  # a shared journal's events (``share``)
        self._wake: anyio.Event | None = None

    def share(self, source: Any) -> None:
        """Take the events and their ids from a journal several nodes share (see the module docstring):
        ``source`` has ``last_id()`` and ``after(id, limit)`` (``journal_postgres.SharedEvents``)."""
        self._source = source

    @property
    def shared(self) -> bool:
        return self._source is not None

    def tap(self, journal: Any) -> Any:
        """Return ``journal`` wrapped so that every event it appends reaches this feed."""
        return _Tap(journal, self)

    def recover(self, journals: Iterable[Any]) -> None:
        """Number the events already journaled (at start-up, before anything is appended); a shared feed
        reads the newest ``history`` of them with their ids."""
        if self._source is not None:
            first = max(self._source.last_id() - (self._recent.maxlen or 0), 0)
            self.last_id = first
            while self._take(self._source.after(self.last_id)):
                pass
            return
        streams = [((seq, i, journal.account, record) for seq, record in journal.records())
                   for i, journal in enumerate(journals)]
        for _, _, account, record in heapq.merge(*streams, key=lambda t: (t[0], t[1])):
            if _is_event(record):
                self._add(account, record)

    def append(self, account: str, record: Any) -> None:
        if self._source is not None:  # numbered by the database: read back once committed
            if self._wake is not None and _is_event(record):
                self._wake.set()
            return
        if _is_event(record):
            event = self._add(account, record)
            for sub in self._subscribers:
                sub.push(event)

    def _add(self, account: str, record: Any) -> FeedEvent:
        self.last_id += 1
        event = FeedEvent(self.last_id, account, record.order_id, record)
        self._recent.append(_held(event))
        return event

    async def run(self, poll: float = DEFAULT_POLL) -> None:
        """A shared feed: read the committed events when woken by an append or every ``poll`` seconds,
        until cancelled (returns at once for a feed that numbers its own events)."""
        if self._source is None:
            return
        self._wake = anyio.Event()
        failed = ""
        while True:
            with anyio.move_on_after(poll):
                await self._wake.wait()
            if not self._subscribers:  # nobody streams: read the events of many commits at once
                await anyio.sleep(IDLE_READ_GAP)
            self._wake = anyio.Event()
            try:
                hold = self.durable()  # this node's events committed first: read back with the others'
                if hold is not None:  # pipelined commits: wait for the commit without holding the loop
                    await hold
                read = getattr(self._source, "after_async", None)  # on the loop: no thread hand-over
                if read is None:
                    while self._take(await anyio.to_thread.run_sync(self._source.after, self.last_id)):
                        pass
                else:
                    while True:  # a short page was the last: no second query to learn there is no more
                        rows = await read(self.last_id)
                        if not self._take(rows) or len(rows) < self._source.page:
                            break
            except StoreError as exc:
                text = printable(str(exc))
                if text != failed:  # (said once, not every poll)
                    log.warning("event feed: cannot read the journal's events (will retry): %s", text)
                failed = text
            else:
                failed = ""

    def _take(self, rows: list[tuple[int, str, str | None, Any]]) -> bool:
        """Hand out events read from a shared journal, in id order; ``False`` when there were none."""
        for event_id, account, order_id, record in rows:
            if event_id <= self.last_id:
                continue
            if event_id != self.last_id + 1:  # (cannot happen: the ids are gap-free) replay from here on
                log.warning("event feed: ids jump from %d to %d", self.last_id, event_id)
                self._recent.clear()
            self.last_id = event_id
            event = FeedEvent(event_id, account, order_id or record.order_id, record)
            self._recent.append(_held(event))
            for sub in self._subscribers:
                sub.push(event)
        return bool(rows)

    @property
    def oldest_id(self) -> int:
        """The id of the oldest event still held for replay (``last_id + 1`` when none is)."""
        if not self._recent:
            return self.last_id + 1
        oldest = self._recent[0]
        return oldest[0] if type(oldest) is tuple else oldest.id  # type: ignore[no-any-return]

    def subscribe(self, since: int | None, limit: int = 0) -> tuple[list[FeedEvent], Subscriber] | None:
        """Return (the held events after ``since``, a subscriber for the later ones); ``None`` when events
        after ``since`` are no longer held. ``since=None``: live events only."""
        sub = Subscriber(limit or DEFAULT_QUEUE)
        replay: list[FeedEvent] = []
        if since is not None:
            if self._source is not None and since > self.last_id:  # not read here yet: a cursor, kept
                sub.after = since
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
        return (_unheld(self._recent[i]) for i in range(max(start, 0), len(self._recent)))

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


def share_journal_events(feed: EventFeed, config: Any, stack: Any) -> None:
    """With a PostgreSQL store (a journal other nodes may share): ``feed`` takes its events and their ids
    from the database (``EventFeed.share``); the reading connection is closed with ``stack``."""
    if config.store.kind != "postgres":
        return
    from ..stores.journal_postgres import SharedEvents

    source = SharedEvents(config.store.dsn)
    stack.callback(source.close)
    feed.share(source)


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
