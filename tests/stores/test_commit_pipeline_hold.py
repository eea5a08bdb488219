"""The commit pipeline (``fixgw.stores._pipeline``) with the driver's hold (``fixgw.transport._hold``), as a
property: whatever the interleaving of writes, pulls and commit landings, held bytes leave in the order
they were pulled and only once every write made before them is on the "server".

The store here is the smallest one with the pipelined shape (``PgWriter``'s is exercised on PostgreSQL in
``test_pg_commit_pipeline.py``): writes accumulate, ``covering()`` seals them for the commit thread (or
leaves them for when the commit in flight lands), and the thread's commit waits for the test to open
its gate, so the test decides when each commit lands.
"""

from __future__ import annotations

import asyncio
import threading


from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.errors import StoreError
from fixgw.stores._pipeline import CommitPipeline
from fixgw.transport._hold import Hold


class _GatedStore:
    """Pipelined commits whose landing the test controls (one gate per ticket)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fail_at: int | None = None) -> None:
        self.server: list[int] = []  # committed writes, in commit order
        self.pending: list[int] = []
        self.gates: dict[int, threading.Event] = {}
        self.wanted = False
        self.fail_at = fail_at
        self.pipeline = CommitPipeline(self._execute, self._landed, loop.call_soon_threadsafe)

    def gate(self, ticket: int) -> threading.Event:
        return self.gates.setdefault(ticket, threading.Event())

    def _execute(self, job: tuple[int, list[int]]) -> None:  # on the commit thread
        ticket, writes = job
        assert self.gate(ticket).wait(10), "gate never opened"
        if ticket == self.fail_at:
            raise RuntimeError("refused by the server")
        self.server.extend(writes)

    def _landed(self, ticket: int, error: BaseException | None, in_line: bool) -> None:
        if error is not None:
            self.pipeline.fail(StoreError(str(error)))
        elif self.wanted and self.pending:
            self._seal()

    def _seal(self) -> None:
        self.wanted = False
        writes, self.pending = self.pending, []
        self.pipeline.submit((self.pipeline.sealed + 1, writes))

    def covering(self) -> int:
        if self.pending:
            if self.pipeline.busy:
                self.wanted = True
                return self.pipeline.sealed + 1
            self._seal()
        return self.pipeline.sealed


_STEPS = st.lists(st.sampled_from(["write", "pull", "land"]), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(steps=_STEPS)
def test_hold_any_interleaving_bytes_leave_in_order_after_their_writes_are_committed(steps: list[str]) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        store = _GatedStore(loop)
        hold = Hold(store, store.pipeline)
        sent: list[tuple[int, list[int]]] = []  # (chunk number, the server's content when it left)
        written = 0
        chunks = 0
        needs: dict[int, int] = {}  # chunk -> writes made before it was pulled

        def release() -> None:
            for n in hold.take().split(b","):
                if n:
                    sent.append((int(n), list(store.server)))

        async def land() -> None:
            ticket = store.pipeline.sealed
            if store.pipeline.busy:
                store.gate(ticket).set()
                while store.pipeline.durable < ticket:
                    await asyncio.sleep(0)

        try:
            for step in steps + ["land", "land", "land"]:
                if step == "write":
                    written += 1
                    store.pending.append(written)
                elif step == "pull":
                    chunks += 1
                    needs[chunks] = written
                    out = b"%d," % chunks
                    if not hold.keep(out, release):
                        sent.append((chunks, list(store.server)))
                else:
                    await land()
                    if not store.pipeline.busy and store.pending:
                        store.covering()  # the next turn's commit point
            while hold.chunks:
                await land()
            assert [n for n, _ in sent] == list(range(1, chunks + 1))  # in order, none lost, none twice
            for n, server in sent:
                assert server[: needs[n]] == list(range(1, needs[n] + 1))  # its writes were committed first
        finally:
            for gate in list(store.gates.values()):
                gate.set()
            store.pipeline.close()

    asyncio.run(main())


def test_hold_commit_fails_nothing_held_is_ever_released() -> None:
    async def main() -> None:
        store = _GatedStore(asyncio.get_running_loop(), fail_at=1)
        hold = Hold(store, store.pipeline)
        released: list[bytes] = []
        try:
            store.pending.append(1)
            assert hold.keep(b"a", lambda: released.append(hold.take()))
            store.pending.append(2)
            assert hold.keep(b"b", lambda: released.append(hold.take()))
            waiter = asyncio.ensure_future(store.pipeline.wait(2))
            store.gate(1).set()
            store.gate(2).set()
            while store.pipeline.failed is None:
                await asyncio.sleep(0.001)
            try:
                await asyncio.wait_for(waiter, 5)
                raise AssertionError("the waiter was released after a failed commit")
            except StoreError:
                pass
            store.pipeline.when_durable(1, lambda: released.append(b"late"))
            assert released == [] and store.server == [] and len(hold.chunks) == 2
        finally:
            store.pipeline.close()

    asyncio.run(main())



