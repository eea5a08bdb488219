"""Which gateway node serves a FIX session: leases, renewal, refusal and takeover (``[cluster]``).

Theory of operation
-------------------
Several gateway nodes share one PostgreSQL store. Each FIX session (and each bridge account) is owned
by one node at a time through two leases of ``fixgw.stores.lease``: the session's
(``session_lease_key``) and its venue account's (``account_lease_key``). A node holds both or neither.

- Start-up (``start``, after the books are rebuilt and before reconciliation): the node tries to
  acquire both leases of every session and account. Those it gets are *owned*: the store is fenced with
  their tokens (``PgWriter.fence``), per session: the rows of a session (its FIX messages and numbers,
  its journal) are written under its own lease and its account's (``scopes``), so once another node
  takes a session over every commit holding that session's rows fails, while commits for the node's
  other sessions go on. Those it does not get are *standby*: their book is emptied, so this node
  neither reconciles them nor applies venue events to them (``Router.locate`` finds no order), and so
  writes nothing for them. A standby bridge account is also held by the kill switch (``Router.halted``).
- Renewal (``run``): every ``ttl / 3`` seconds each owned lease is renewed. A renewal refused
  (``LeaseLost``: a newer token exists) or not achieved within ``ttl`` (the database unreachable: the
  lease may have run out) drops the session: it is disconnected, its book emptied. Its writes are
  already refused by the token; timing is only how soon this node notices. A standby bridge account
  whose owner's lease expired is taken over by the same loop.
- A Logon (``admit``, called by the acceptor before it hands the connection to the session): an owned
  session is accepted. For a standby one, if the owner's lease is live the Logon is answered with a
  Logout naming the owning node and its advertised address; if it expired the node acquires both leases
  (new tokens), fences the store with them, reloads the session's sequence numbers
  (``PostgresMessageStore.reload_session``) and its book from the journal (as a restart does), makes
  the venue adapter forget what it saw of those orders while standing by (``_forget_venue_view``), asks
  the venue about every open order (``_recovery.reconcile``), and then accepts the Logon: the client
  finds its sequence numbers, and what it missed comes through the normal resend.

The lease manager's connection is synchronous: its queries run in a worker thread, one at a time.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio

from ..config import ClusterConfig, Config
from ..errors import StoreError
from ..logsafe import printable
from ..orders import OrderBook
from ..stores.journal_postgres import journal_scope
from ..stores.lease import Lease, LeaseLost, LeaseManager, account_lease_key, session_lease_key
from ._ids import venue_cl_id
from ._orders import OrderFlow
from ._recovery import reconcile
from ._router import Router, SessionContext, log_text

__all__ = ["Ownership", "attach_ownership"]

log = logging.getLogger("fixgw.gateway")


class Ownership:
    """The leases of this node's sessions and accounts (see the module docstring)."""

    def __init__(self, cluster: ClusterConfig, dsn: str, store: Any, router: Router, flow: OrderFlow, *,
                 retention: int | None = None) -> None:
        self.cluster = cluster
        self.node = cluster.node_id
        self.ttl = cluster.lease_ttl
        self._store = store
        self._router = router
        self._flow = flow
        self._retention = retention
        self._leases = LeaseManager(dsn, self.node, ttl=self.ttl, address=cluster.advertise)
        self._lock = anyio.Lock()
        #: Order account key (a session's or a bridge account's) -> its own lease.
        self.owned: dict[str, Lease] = {}
        #: Venue account lease key -> the lease, shared by the sessions of that account on this node.
        self.accounts: dict[str, Lease] = {}
        #: Lease key -> monotonic time of its last renewal.
        self._renewed: dict[str, float] = {}
        self._halted_by_us: set[str] = set()
        #: Venue account lease key -> the fencing scopes of the sessions it covers on this node.
        self._account_scopes: dict[str, set[str]] = {}

    def __repr__(self) -> str:
        return f"Ownership(node={self.node!r}, ttl={self.ttl}, owned={sorted(self.owned)})"

    @staticmethod
    def keys(ctx: SessionContext) -> tuple[str, str]:
        """The session's (or bridge account's) lease key and its venue account's."""
        venue = ctx.venue.config.name
        if ctx.handle is None:  # a bridge account: no FIX session
            return f"bridge:{ctx.key}", account_lease_key(venue, f"bridge:{ctx.settings.account}")
        return session_lease_key(ctx.session_id), account_lease_key(venue, ctx.settings.account)

    # -- start-up ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Acquire what is free; leave the rest standby (synchronous: before the acceptor listens)."""
        for ctx in list(self._router.accounts.values()):
            got = self._acquire(ctx)
            if got is None:
                self._stand_by(ctx)
            else:
                self._adopt(ctx, *got)
        mine = ", ".join(sorted(self.owned)) or "none"
        log.info("cluster node %s (lease %.1fs): owns %s", printable(self.node), self.ttl, mine)

    def _acquire(self, ctx: SessionContext) -> tuple[Lease, Lease] | None:
        """Take both leases of ``ctx`` (database only: runs in a worker thread), or neither."""
        own_key, account_key = self.keys(ctx)
        own = self._leases.acquire(own_key)
        if own is None:
            return None
        account = self.accounts.get(account_key)
        if account is None:  # (acquiring a lease this node holds would raise its token: shared instead)
            account = self._leases.acquire(account_key)
            if account is None:
                self._leases.release(own)
                return None
        return own, account

    def _adopt(self, ctx: SessionContext, own: Lease, account: Lease) -> None:
        """Serve ``ctx`` under ``own`` and ``account``: fence the store's writes of ``ctx`` (its session's
        rows, its journal's) with their tokens (event-loop side)."""
        now = time.monotonic()
        scopes = self.scopes(ctx)
        if account.key not in self.accounts:
            self.accounts[account.key] = account
            self._renewed[account.key] = now
        covered = self._account_scopes.setdefault(account.key, set())
        covered.update(scopes)
        self._store.fence(account.key, self.accounts[account.key].token, frozenset(covered))
        self._store.fence(own.key, own.token, scopes)
        self.owned[ctx.key] = own
        self._renewed[own.key] = now

    @staticmethod
    def scopes(ctx: SessionContext) -> frozenset[str]:
        """The store's fencing scopes of ``ctx``'s writes: its journal's rows and its FIX session's."""
        scopes = {journal_scope(ctx.key)}
        if ctx.handle is not None:
            scopes.add(session_lease_key(ctx.session_id))
        return frozenset(scopes)

    def _stand_by(self, ctx: SessionContext) -> None:
        ctx.book = OrderBook(ctx.book.account, None, retention=self._retention)
        if ctx.handle is None and ctx.key not in self._router.halted:  # a bridge account: refuse its orders
            self._router.halted.add(ctx.key)
            self._halted_by_us.add(ctx.key)

    # -- Logon -----------------------------------------------------------------------------------------
    async def admit(self, handle: Any) -> str | None:
        """``None`` to accept a Logon for ``handle``'s session (taking it over if need be), else the
        Text of the Logout that refuses it."""
        ctx = self._router.sessions.get(handle.session_id)
        if ctx is None or ctx.key in self.owned:
            return None
        async with self._lock:
            if ctx.key in self.owned:
                return None
            return await self._take_over(ctx)

    async def _take_over(self, ctx: SessionContext) -> str | None:
        own_key, account_key = self.keys(ctx)
        try:
            taken = await anyio.to_thread.run_sync(self._acquire, ctx)
            if taken is not None:
                self._adopt(ctx, *taken)
            else:
                holder = await anyio.to_thread.run_sync(self._leases.owner, own_key)
                if holder is None or not holder.live:  # the account's lease is held elsewhere
                    holder = await anyio.to_thread.run_sync(self._leases.owner, account_key)
                if holder is None:
                    return "Logon rejected: this node cannot take the session now; try again"
                where = f" at {printable(holder.address)}" if holder.address else ""
                return f"Logon rejected: session owned by node {printable(holder.holder)}{where}"
            log.info("%s: taking over from the last owner (token %d)", ctx.key, self.owned[ctx.key].token)
            if ctx.handle is not None:
                self._store.reload_session(ctx.session_id, ctx.key)
            else:  # a bridge account: only its journal
                self._store.forget_journal_seq(ctx.key)
            ctx.book = OrderBook.recover(ctx.journal, retention=self._retention)
            open_orders = len(ctx.book.open_orders())
            _forget_venue_view(ctx)
            await reconcile(self._router, self._flow, [ctx])
            self._store.flush()
            if ctx.key in self._halted_by_us:
                self._halted_by_us.discard(ctx.key)
                self._router.halted.discard(ctx.key)
            log.info("%s: taken over: %d open order(s) reconciled with the venue", ctx.key, open_orders)
            return None
        except StoreError as exc:
            log.error("%s: takeover failed: %s", ctx.key, log_text(exc))
            self._drop(ctx, "takeover failed")
            return "Logon rejected: takeover failed on this node; try again"

    # -- renewal ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Renew every owned lease every ``ttl / 3`` seconds until cancelled; drop what is lost."""
        try:
            while True:
                await anyio.sleep(self.ttl / 3)
                async with self._lock:
                    await self._renew_all()
                    await self._adopt_bridge_accounts()
        finally:
            with anyio.CancelScope(shield=True):
                self._release_all()

    async def _renew_all(self) -> None:
        leases = [*self.owned.values(), *self.accounts.values()]
        for lease in leases:
            try:
                renewed = await anyio.to_thread.run_sync(self._leases.renew, lease)
            except LeaseLost as exc:
                log.error("lease lost: %s", log_text(exc))
                self._lost(lease.key, "session taken over by another node")
                continue
            except StoreError as exc:
                if time.monotonic() - self._renewed.get(lease.key, 0.0) >= self.ttl:
                    log.error("lease %s not renewed for %.1fs: %s", printable(lease.key), self.ttl, log_text(exc))
                    self._lost(lease.key, "lease not renewed in time")
                else:
                    log.warning("lease %s not renewed (will retry): %s", printable(lease.key), log_text(exc))
                continue
            self._renewed[lease.key] = time.monotonic()
            if self.accounts.get(lease.key) is lease:
                self.accounts[lease.key] = renewed
            else:
                for key, held in self.owned.items():
                    if held is lease:
                        self.owned[key] = renewed

    def _lost(self, lease_key: str, reason: str) -> None:
        """Drop every session and account that ``lease_key`` (its own, or its venue account's) covers."""
        for ctx in list(self._router.accounts.values()):
            if ctx.key in self.owned and lease_key in self.keys(ctx):
                self._drop(ctx, reason)
        if lease_key in self.accounts:
            self.accounts.pop(lease_key)
            self._account_scopes.pop(lease_key, None)
            self._store.unfence(lease_key)

    async def _adopt_bridge_accounts(self) -> None:
        for ctx in list(self._router.accounts.values()):
            if ctx.handle is None and ctx.key not in self.owned and await self._take_over(ctx) is None:
                log.info("%s: bridge account taken over", ctx.key)

    def _drop(self, ctx: SessionContext, reason: str) -> None:
        """Stop serving ``ctx``: forget its lease (the token already fences its writes), disconnect it."""
        own_key, account_key = self.keys(ctx)
        self.owned.pop(ctx.key, None)
        self._renewed.pop(own_key, None)
        self._store.unfence(own_key)
        covered = self._account_scopes.get(account_key)
        account = self.accounts.get(account_key)
        if covered is not None and account is not None:  # the account's fence no longer covers ctx's writes
            covered.difference_update(self.scopes(ctx))
            self._store.fence(account_key, account.token, frozenset(covered) or {journal_scope(ctx.key)})
        if ctx.handle is not None and ctx.handle.is_connected:
            ctx.handle.disconnect(reason)
        self._stand_by(ctx)

    def _release_all(self) -> None:
        """Let every lease go on a clean stop, so another node may take the sessions at once."""
        try:
            self._store.flush()
        except StoreError as exc:
            log.warning("store flush before releasing the leases failed: %s", log_text(exc))
        for lease in [*self.owned.values(), *self.accounts.values()]:
            try:
                self._leases.release(lease)
            except StoreError as exc:
                log.warning("lease %s not released: %s", printable(lease.key), log_text(exc))
        self.owned.clear()
        self.accounts.clear()
        self._leases.close()


def _forget_venue_view(ctx: SessionContext) -> None:
    """Make the venue adapter forget what it observed of ``ctx``'s open orders, so that reconciliation's
    queries reveal all of it again as events, as they do on a restart (whose adapter starts empty).

    A standby node consumes its venue account's event stream like the owner (the same API key): its
    adapter folded in the acceptances, fills and ends of the owner's orders and marked them known, while
    its empty book applied none of them. Left so, a query at takeover would find nothing new, and what the
    last owner never persisted (the acceptance of an order it sent just before it died, a fill made while
    no node served the session) would never be reported. The book drops what it already holds (a fill by
    its key, a second acceptance)."""
    forget = getattr(getattr(ctx.venue.adapter, "tracker", None), "forget", None)
    if forget is None:  # an adapter that keeps no such memory
        return
    for order in ctx.book.open_orders():
        legs = set(range(order.leg + 1))
        if order.pending_leg is not None:
            legs.add(order.pending_leg)
        for leg in sorted(legs):
            forget(order.symbol, venue_cl_id(order, leg))


def attach_ownership(config: Config, store: Any, router: Router, flow: OrderFlow, acceptor: Any) -> Ownership | None:
    """With ``[cluster]``: take the free leases now, hook ``admit`` into ``acceptor``; the caller runs
    ``run()`` (the renewal) in its task group. ``None`` without ``[cluster]``."""
    if not config.cluster.enabled:
        return None
    ownership = Ownership(config.cluster, config.store.dsn, store, router, flow,
                          retention=config.gateway.terminal_order_retention)
    ownership.start()
    acceptor.admit = ownership.admit
    return ownership
