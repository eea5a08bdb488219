"""Kraken's batch endpoints behind the venue port: ``submit_batch`` over ``AddOrderBatch`` and
``cancel_batch`` over ``CancelOrderBatch`` (a mixin of ``KrakenAdapter``).

Theory of operation
-------------------
``submit_batch`` sends an AddOrderBatch per pair and per 15 orders (``plan_batches``: as few requests
as the rules allow, as even as can be); a lone order goes by AddOrder, since a batch needs two. An
order our rules refuse stays out of its batch, since the venue validates a batch whole and would
refuse it all. The venue's answer lists the entries in request order: a txid is folded into the
tracker as AddOrder's is (``_took``) before the first wait, an ``error`` refuses that order alone; a
refusal of the whole request refuses each order with its text; a lost answer sends each order through
the outcome resolver by client order id, as a lost AddOrder does. The trading counter charges a batch
n/2, counted here rounded up.

``cancel_batch`` (the gateway's mass cancel) names up to 50 orders per CancelOrderBatch, never the
account's other orders (a shared account). The venue answers a count only, so each order's end comes
from the feed or a query, as for a single cancel.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import anyio

from fixgw.errors import FixgwError, VenueError, VenueRejected, VenueUnknownOutcome
from fixgw.logsafe import printable
from fixgw.venues.base import CancelOrder, NewOrder, OrderReport, each_outcome
from fixgw.venues.kraken.parsing import add_order_params, error_from_envelope

__all__ = ["KrakenBatches", "plan_batches", "BATCH_MAX", "CANCEL_BATCH_MAX"]

log = logging.getLogger("fixgw.venues.kraken")

#: AddOrderBatch carries 2 to 15 orders, all of one pair (docs.kraken.com, Add Order Batch)
BATCH_MAX = 15
#: CancelOrderBatch names at most 50 orders (txids and cl_ord_ids together)
CANCEL_BATCH_MAX = 50


def plan_batches(items: Sequence[tuple[int, str]], size: int) -> list[tuple[str, list[int]]]:
    """Split (index, symbol) items into batches of one symbol and at most ``size`` items, each symbol's
    as few and as even as can be (17 -> 9 + 8, never 15 + a lone one), indexes in their order."""
    by_symbol: dict[str, list[int]] = {}
    for i, symbol in items:
        by_symbol.setdefault(symbol, []).append(i)
    out = []
    for symbol, indexes in by_symbol.items():
        parts = -(-len(indexes) // size)
        out += [(symbol, indexes[k * len(indexes) // parts:(k + 1) * len(indexes) // parts]) for k in range(parts)]
    return out


class KrakenBatches:
    """``submit_batch`` and ``cancel_batch`` of ``KrakenAdapter`` (module docstring)."""

    # provided by the adapter
    http: Any
    config: Any
    outcomes: Any

    async def submit_batch(self, orders: Sequence[NewOrder]) -> list[OrderReport | FixgwError]:
        """Place ``orders`` with ``AddOrderBatch``: one request per pair and per 15 orders (the chunks of
        a pair as even as can be), a lone order by ``AddOrder``. An order our rules refuse is left out
        of its batch and answered ``VenueRejected`` (the venue would refuse the whole batch for it)."""
        outcomes: list[OrderReport | FixgwError] = [VenueRejected("LOCAL", "not sent")] * len(orders)
        sendable: list[tuple[int, str]] = []
        for i, order in enumerate(orders):
            try:
                self.refuse_unchecked(order)
                add_order_params(order, "")  # what Kraken cannot carry is refused before the batch
            except VenueRejected as exc:
                outcomes[i] = exc
                continue
            sendable.append((i, order.symbol))
        for symbol, chunk in plan_batches(sendable, BATCH_MAX):
            results = await self._add_batch(symbol, [orders[i] for i in chunk])
            for i, outcome in zip(chunk, results):
                outcomes[i] = outcome
        return outcomes

    async def _add_batch(self, symbol: str, orders: list[NewOrder]) -> list[OrderReport | FixgwError]:
        if len(orders) == 1:
            try:
                return [await self.submit(orders[0])]
            except FixgwError as exc:
                return [exc]
        pair = self.instrument(symbol).venue_symbol
        entries = [{k: v for k, v in add_order_params(o, pair) if k != "pair"} for o in orders]
        for order in orders:
            self._venue_client_id(order.client_order_id)
        try:
            result = await self.http.private("AddOrderBatch", [], json_fields={"pair": pair, "orders": entries},
                                             trading_cost=-(-len(orders) // 2))
        except VenueUnknownOutcome as exc:
            log.warning("batch of %d %s orders: outcome unknown (%s); asking the venue", len(orders), symbol,
                        printable(str(exc)))
            return await self._each_unknown(orders)
        except VenueError as exc:  # the venue refused the whole request: every order carries its words
            return [exc] * len(orders)
        rows = result.get("orders") if isinstance(result, dict) else None
        if not isinstance(rows, list) or len(rows) != len(orders):
            log.warning("batch of %d %s orders: an answer of another shape; asking the venue", len(orders), symbol)
            return await self._each_unknown(orders)
        out: list[OrderReport | FixgwError] = [VenueRejected("LOCAL", "not sent")] * len(orders)
        taken: list[tuple[int, str]] = []
        for i, (order, row) in enumerate(zip(orders, rows)):
            txid = row.get("txid") if isinstance(row, dict) else None
            if isinstance(txid, list):  # the docs give a scalar; AddOrder's list is taken too
                txid = txid[0] if txid else None
            if txid:
                self._took(order, str(txid))  # every one known before the first wait
                taken.append((i, str(txid)))
                continue
            text = str(row.get("error") or "no txid") if isinstance(row, dict) else "no txid"
            err = error_from_envelope(200, {"error": [text]})
            out[i] = err if err is not None else VenueRejected(text, text, reason="other")

        async def report(i: int, txid: str) -> None:
            try:
                out[i] = await self._report_taken(orders[i], txid)
            except FixgwError as exc:
                out[i] = exc

        async with anyio.create_task_group() as tg:
            for i, txid in taken:
                tg.start_soon(report, i, txid)
        return out

    async def _each_unknown(self, orders: list[NewOrder]) -> list[OrderReport | FixgwError]:
        """Each order of a batch whose answer was lost, asked for by client order id (as ``submit``)."""
        async def one(order: NewOrder) -> OrderReport:
            pending = self.outcomes.add(order.client_order_id, order.symbol, self.config.accept_window_s)
            return await self.outcomes.resolve(pending, self._lookup, wait_s=self.config.accept_window_s + 5)

        return await each_outcome(orders, one, VenueUnknownOutcome("not asked"))

    async def cancel_batch(self, requests: Sequence[CancelOrder]) -> list[OrderReport | FixgwError]:
        """Cancel with ``CancelOrderBatch``, up to 50 orders a request (of any pairs); each order's
        report once the feed (or a query) shows it ended. The venue answers only a count, so an order
        that had ended already is reported as it ended (filled, say), not refused."""
        out: list[OrderReport | FixgwError] = [VenueRejected("LOCAL", "not sent")] * len(requests)
        known: list[tuple[int, str, str]] = []
        for i, r in enumerate(requests):
            try:
                self.instrument(r.symbol)
                txid = self._venue_id(r.symbol, r.venue_order_id, r.client_order_id)
                if txid is None:  # not tracked here (a restart): learn it first
                    txid = (await self.query(r.symbol, client_order_id=r.client_order_id)).venue_order_id
            except FixgwError as exc:
                out[i] = exc
                continue
            known.append((i, r.symbol, txid))

        async def confirm(i: int, symbol: str, txid: str) -> None:
            try:
                out[i] = await self._confirmed(symbol, txid, lambda: self._ended(symbol, txid))
            except FixgwError as exc:
                out[i] = exc

        for k in range(0, len(known), CANCEL_BATCH_MAX):
            chunk = known[k:k + CANCEL_BATCH_MAX]
            try:
                await self.http.private("CancelOrderBatch", [], urgent=True, trading_cost=len(chunk),
                                        json_fields={"orders": [txid for _, _, txid in chunk]})
            except VenueUnknownOutcome as exc:
                log.warning("batch cancel of %d: outcome unknown (%s); asking the venue", len(chunk),
                            printable(str(exc)))
            except VenueError as exc:
                for i, _, _ in chunk:
                    out[i] = exc
                continue
            async with anyio.create_task_group() as tg:
                for i, symbol, txid in chunk:
                    tg.start_soon(confirm, i, symbol, txid)
        return out
