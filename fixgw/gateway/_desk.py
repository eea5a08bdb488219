"""Order entry without FIX: the bridge accounts' books, and the desk that places, changes and halts orders.

A ``[[bridge.accounts]]`` entry is an order account of its own (``AccountContext``): a book, a journal
and a venue, like a FIX session's, but no FIX handle. Its key (``<name>_R``) starts its order ids, so
venue events find its orders as they find a session's (``_ids``), and start-up recovery and
reconciliation treat it as a session (``_wiring``, ``_recovery``).

``OrderDesk`` takes the ``orders`` commands (``SubmitOrder``, ``CancelOrder``, ``ReplaceOrder``) for a
bridge account and answers a ``DeskAnswer``: the order, or a refusal with a code and a reason. It runs
the steps ``OrderFlow`` runs for FIX (``place``, ``cancel_order``, ``replace_order``, ``replace_terms``),
so an order entered here passes the same kill switch, risk limits, venue rules, book, journal and
venue workers.

- ``submit_batch``: several submits answered in order, each as ``submit``; only the venue calls are
  fewer where the venue has a batch entry (one ``submit_batch`` call per account after the commit).
- A submit is idempotent by client order id: the same command again (same id, same terms) answers
  the order it made (``created`` false), whatever became of it; different terms under that id are
  refused (``order_conflict``). A pre-trade refusal makes a rejected order, journaled, as for FIX.
- Kill switch (``halt``/``release``): per FIX session or bridge account (its key), or ``GLOBAL``. Halting
  cancels the open orders it covers and refuses new ones until released (``Router.halt_refusal``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from ..clock import Clock
from ..config import BridgeAccount, SessionSettings
from ..errors import DuplicateClOrdID, InvalidTransition, OrderError
from ..orders import CancelOrder, OrderBook, ReplaceOrder, SubmitOrder
from ._batch import batches_orders, cancel_orders, send_new_orders
from ._orders import OrderFlow, cancellable, order_refusal, unsupported_feature
from ._router import GLOBAL, Router, SessionContext, VenueContext

__all__ = ["AccountContext", "OrderDesk", "DeskAnswer", "account_key", "GLOBAL"]

#: Fields of a submit that must match for a retry to be the same order.
_TERMS = ("cl_ord_id", "symbol", "side", "order_type", "quantity", "quote_quantity", "price", "trigger_price",
          "time_in_force", "expire_time_ns", "post_only", "display_quantity")


def account_key(name: str) -> str:
    """A bridge account's order account key (session keys end ``_42``/``_44``, so none collides)."""
    return f"{name}_R"


class AccountContext(SessionContext):
    """A bridge account: a book, a journal and a venue, and no FIX session to report to."""

    def __init__(self, account: BridgeAccount, key: str, book: OrderBook, journal: Any, venue: VenueContext) -> None:
        settings = SessionSettings(begin_string="FIX.4.4", sender_comp_id="FIXGW", target_comp_id=key,
                                   venue=account.venue, account=account.name, limits=account.limits)
        super().__init__(settings, key, book, journal, venue)
        self.account = account

    def report(self, order: Any, event: Any, reject_reason: str | None = None) -> None:
        return None  # no FIX peer: the bridge reads the book


@dataclass(frozen=True, slots=True)
class DeskAnswer:
    """What the desk did: ``order`` (and its ``ctx``), or ``code`` and ``text`` of a refusal.

    ``created``: a submit made a new order (not a retry). ``refused``: the order exists but was
    rejected before the venue (``text`` says why).
    """

    order: Any = None
    ctx: SessionContext | None = None
    created: bool = False
    code: str | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code is None


def _no(code: str, text: str) -> DeskAnswer:
    return DeskAnswer(code=code, text=text)


class OrderDesk:
    """Order entry for the bridge accounts, through the FIX sessions' own steps (module docstring)."""

    def __init__(self, router: Router, flow: OrderFlow, clock: Clock) -> None:
        self._router = router
        self._flow = flow
        self._clock = clock
        #: The store's flush (set by the gateway): the bridge runs it before answering a command, so a 201
        #: or 200 is never sent for an order that is not yet on disk (group commit defers the commit).
        self.flush: Callable[[], None] = lambda: None

    # -- accounts ------------------------------------------------------------------------------

    def accounts(self) -> list[AccountContext]:
        return [c for c in self._router.accounts.values() if isinstance(c, AccountContext)]

    def account(self, name: str | None) -> AccountContext | None:
        """The bridge account ``name``; with ``None``, the only one (``None`` if there are several)."""
        accounts = self.accounts()
        if name is None:
            return accounts[0] if len(accounts) == 1 else None
        return next((c for c in accounts if c.account.name == name), None)

    def find(self, ident: str, account: str | None = None) -> tuple[AccountContext, Any] | None:
        """The bridge order whose id, venue order id or client order id is ``ident``."""
        for ctx in self.accounts():
            if account is not None and ctx.account.name != account:
                continue
            order = ctx.book.find(order_id=ident) or ctx.book.find(cl_ord_id=ident)
            if order is not None:
                return ctx, order
        return None

    # -- commands ------------------------------------------------------------------------------

    def submit(self, account: str | None, cmd: SubmitOrder) -> DeskAnswer:
        """Place ``cmd`` (``cmd.symbol``: the client spelling) in bridge account ``account``."""
        return self._admit(account, cmd, None)

    def submit_batch(self, orders: Sequence[tuple[str | None, SubmitOrder]]) -> list[DeskAnswer]:
        """Place several orders, each (bridge account, command) as ``submit`` would, answered in order.

        Every order passes the same steps as one alone (idempotency, kill switch, limits, the venue's
        rules, book, journal, state machine). Only the venue calls differ: the new orders of an account
        whose venue has a batch entry (``capabilities.batch_orders`` above 1) go to it in one venue call,
        ``submit_batch`` (the adapter splits it by its rules), after the commit that holds them all
        (``_batch``); the others are queued one by one, as single orders, and the venue workers send
        them concurrently.
        """
        batches: dict[str, tuple[SessionContext, list[tuple[str, Any]]]] = {}
        answers = []
        try:
            for account, cmd in orders:
                ctx = self.account(account)
                batch = None
                if ctx is not None and batches_orders(ctx):
                    batch = batches.setdefault(ctx.key, (ctx, []))[1]
                answers.append(self._admit(account, cmd, batch))
        finally:  # what was journaled is sent, even if a later order failed (a store error) midway
            for ctx, items in batches.values():
                send_new_orders(self._router, ctx, items)
        return answers

    def _admit(self, account: str | None, cmd: SubmitOrder, batch: list[tuple[str, Any]] | None) -> DeskAnswer:
        """``submit``'s steps; with ``batch``, a new order's venue call is appended to it, not queued."""
        ctx = self.account(account)
        if ctx is None:
            return _no("unknown_account", "no such bridge account" if account else "name the account")
        symbol = ctx.venue.symbols.normalized(cmd.symbol)
        if symbol is None:
            return _no("unknown_symbol", "the venue lists no such symbol")
        client_symbol = cmd.symbol
        now = self._clock.now_ns()
        cmd = _with(cmd, symbol=symbol, owner=ctx.key, route=None, ts_ns=now)
        known = ctx.book.find(cl_ord_id=cmd.cl_ord_id)
        if known is not None:
            first = ctx.journal.load_order(known.order_id)
            if first and isinstance(first[0], SubmitOrder) and all(
                    getattr(first[0], f) == getattr(cmd, f) for f in _TERMS):
                return DeskAnswer(known, ctx)
            return _no("order_conflict", "this client_order_id already names a different order")
        unsupported = unsupported_feature(ctx, cmd)
        if unsupported is not None:  # the venue cannot do it at all: nothing to keep
            return _no("unsupported_order", unsupported)
        try:
            order, refusal = self._flow.place(ctx, cmd, client_symbol, now, batch=batch)
        except DuplicateClOrdID:  # pragma: no cover - found above
            return _no("order_conflict", "this client_order_id names a live order")
        return DeskAnswer(order, ctx, created=True, text="" if refusal is None else refusal.text)

    def cancel(self, account: str, cmd: CancelOrder) -> DeskAnswer:
        """Cancel the order ``cmd`` names in bridge account ``account``."""
        ctx = self.account(account)
        if ctx is None:
            return _no("not_found", "no such bridge account")
        order = ctx.book.find(order_id=cmd.order_id, cl_ord_id=cmd.orig_cl_ord_id)
        refused = order_refusal(order)
        if refused is not None:
            return _refused(refused[1])
        try:
            self._flow.cancel_order(ctx, order, _with(cmd, ts_ns=self._clock.now_ns()))
        except (OrderError, InvalidTransition) as exc:
            return _no("order_not_open", str(exc))
        return DeskAnswer(order, ctx)

    def replace(self, account: str, cmd: ReplaceOrder) -> DeskAnswer:
        """Replace the order ``cmd`` names (``None`` terms keep the order's) in bridge account ``account``."""
        ctx = self.account(account)
        if ctx is None:
            return _no("not_found", "no such bridge account")
        order = ctx.book.find(order_id=cmd.order_id, cl_ord_id=cmd.orig_cl_ord_id)
        refused = order_refusal(order)
        if refused is not None:
            return _refused(refused[1])
        qty = cmd.quantity if cmd.quantity is not None else order.quantity
        price = cmd.price if cmd.price is not None else order.price
        stop = cmd.trigger_price if cmd.trigger_price is not None else order.trigger_price
        if qty is None:
            return _no("replace_refused", "an order by quote amount cannot be replaced")
        now = self._clock.now_ns()
        terms, refused = self._flow.replace_terms(ctx, order, cmd.cl_ord_id, qty, price, stop,
                                                  ctx.venue.symbols.client(order.symbol), now)
        if refused is not None:
            return _no("replace_refused", refused[1])
        assert terms is not None
        try:
            self._flow.replace_order(ctx, order, _with(cmd, quantity=qty, ts_ns=now, price=price if order.price else None,
                                                       trigger_price=stop if order.trigger_price else None), terms)
        except (OrderError, InvalidTransition) as exc:
            return _no("replace_refused", str(exc))
        return DeskAnswer(order, ctx)

    def mass_cancel(self, contexts: Iterable[SessionContext], symbol: str | None = None) -> list[tuple[SessionContext, Any]]:
        """Ask the venue to cancel every open order of ``contexts`` (of ``symbol``, a client spelling,
        when given); each is reported canceled as the venue confirms it. Returns the orders asked.
        Where the venue cancels in batches (``capabilities.batch_cancels``), a context's orders go in one
        venue call (Kraken ``CancelOrderBatch``); elsewhere one cancel per order (a shared account's
        cancel-all would take other sessions' orders too)."""
        asked = []
        for ctx in contexts:
            normalized = None if symbol is None else ctx.venue.symbols.normalized(symbol)
            if symbol is not None and normalized is None:
                continue
            orders = cancellable(ctx, normalized)
            cancel_orders(self._router, self._flow, ctx, orders)
            asked.extend((ctx, order) for order in orders)
        return asked

    # -- kill switch ---------------------------------------------------------------------------

    def scope(self, target: str) -> list[SessionContext] | None:
        """The contexts a kill switch on ``target`` covers: ``GLOBAL``, a bridge account's name, or a FIX
        session's key or id; ``None`` when it names none."""
        if target == GLOBAL:
            return list(self._router.accounts.values())
        ctx = self.account(target)
        if ctx is not None:
            return [ctx]
        for s in self._router.sessions.values():
            if target in (s.key, str(s.session_id)):
                return [s]
        return None

    def halt(self, target: str) -> list[tuple[SessionContext, Any]] | None:
        """Engage the kill switch on ``target``: refuse new orders, cancel the open ones (returned)."""
        contexts = self.scope(target)
        if contexts is None:
            return None
        self._router.halted.add(GLOBAL if target == GLOBAL else contexts[0].key)
        return self.mass_cancel(contexts)

    def release(self, target: str) -> bool:
        """Release the kill switch on ``target``; ``False`` when it names nothing."""
        contexts = self.scope(target)
        if contexts is None:
            return False
        self._router.halted.discard(GLOBAL if target == GLOBAL else contexts[0].key)
        return True

    def halted(self) -> list[str]:
        """The kill switches engaged, as targets: ``GLOBAL``, bridge account names, FIX session keys."""
        names = {c.key: c.account.name for c in self.accounts()}
        return sorted(names.get(key, key) for key in self._router.halted)


def _refused(text: str) -> DeskAnswer:
    return _no("not_found" if text == "unknown order" else "order_not_open", text)


def _with(cmd: Any, **changes: Any) -> Any:
    return dataclasses.replace(cmd, **changes)
