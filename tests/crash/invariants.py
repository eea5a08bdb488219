"""What must hold after a crash run, checked from the client's side against the venue's truth.

Pure functions over plain data (so ``test_crash_invariants.py`` can show each check failing on a
hand-made history). ``check_run`` returns every violation found, as sentences naming the ClOrdIDs,
orders and amounts involved, and a few counts for the report:

1. answered: every NewOrderSingle and OrderCancelRequest the client sent got an ExecutionReport or an
   OrderCancelReject for its ClOrdID (a request the gateway lost after a crash must have come back by
   ResendRequest and then been answered);
2. at most once at the venue: one venue order per client order, told apart twice over, by the
   gateway's order id (the venue's client order id) and by the order's own terms (each client order
   has a quantity no other order of the run has); no venue order the client does not know;
3. every venue fill reported exactly once: ExecIDs unique; per order, the fills' LastQty add up to the
   venue's executed quantity, one fill report per venue trade, and the last CumQty equals it too;
   the order's last OrdStatus agrees with the venue's status;
4. sequence numbers continuous both ways: after the final logout each side expects exactly the next
   number the other would send; no Logout other than the final one and no session-level Reject.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

__all__ = ["Findings", "check_run", "venue_symbol"]

_FILL_EXEC_TYPES = frozenset({"F", "1", "2"})  # FIX 4.4 Trade; 4.2 Partial fill / Fill
#: Venue status -> the OrdStatus values a client may have been told last.
_STATUS = {
    "NEW": {"0", "E", "6"},
    "PARTIALLY_FILLED": {"1", "E", "6"},
    "FILLED": {"2"},
    "CANCELED": {"4"},
    "EXPIRED": {"4", "C"},
    "EXPIRED_IN_MATCH": {"4", "C"},
    "REJECTED": {"8"},
}


@dataclass
class Findings:
    violations: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # not failures: context for the report

    def add(self, text: str) -> None:
        self.violations.append(text)

    def summary(self, limit: int = 25) -> str:
        lines = [f"{len(self.violations)} violation(s); {self.stats}", *self.notes]
        lines += [f"  - {v}" for v in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more")
        return "\n".join(lines)


def venue_symbol(client_symbol: str) -> str:
    return client_symbol.replace("/", "")


def _short(items: Iterable[str], limit: int = 12) -> str:
    items = list(items)
    head = ", ".join(items[:limit])
    return head + (f" ... (+{len(items) - limit})" if len(items) > limit else "")


def check_run(
    sent: Iterable[Any],
    messages: list[dict[int, str]],
    wire: list[tuple[str, dict[int, str]]],
    venue: dict[str, Any],
    seqs: dict[str, int],
) -> Findings:
    """Check one run. ``sent``: the client's ``SentOrder``s; ``messages``: application messages the
    client received, in order, as {tag: value}; ``wire``: (direction, fields) of every message in and
    out of the client; ``venue``: the simulator's ``dump``; ``seqs``: client_next_sender,
    client_next_target, gateway_next_sender, gateway_next_target."""
    f = Findings()
    sent = list(sent)
    news = {o.cl_ord_id: o for o in sent if o.kind == "D"}
    f.stats.update(sent=len(sent), new_orders=len(news), cancels=len(sent) - len(news), reports=len(messages))
    _check_answered(f, sent, messages, wire)
    order_ids = _check_order_identity(f, news, messages)
    _check_venue_orders(f, news, order_ids, venue)
    _check_fills(f, messages, order_ids, venue)
    _check_sequences(f, wire, seqs)
    return f


def _check_answered(f: Findings, sent: list[Any], messages: list[dict[int, str]],
                    wire: list[tuple[str, dict[int, str]]]) -> None:
    answered = {m[11] for m in messages if m.get(35) in ("8", "9") and 11 in m}
    missing = [o.cl_ord_id for o in sent if o.cl_ord_id not in answered]
    if missing:
        bursts = Counter(o.burst for o in sent if o.cl_ord_id in set(missing))
        f.add(f"{len(missing)} request(s) never answered (per burst {dict(bursts)}): {_short(missing)}")
    resent = [m for d, m in wire if d == "out" and m.get(43) == "Y" and m.get(35) in ("D", "F")]
    f.stats["resend_requests_received"] = sum(1 for d, m in wire if d == "in" and m.get(35) == "2")
    f.stats["requests_resent"] = len(resent)
    f.stats["unanswered"] = len(missing)


def _check_order_identity(f: Findings, news: dict[str, Any], messages: list[dict[int, str]]) -> dict[str, str]:
    """ClOrdID -> the gateway's OrderID (37); one OrderID per ClOrdID and one ClOrdID per OrderID."""
    by_cl: dict[str, set[str]] = defaultdict(set)
    for m in messages:
        if m.get(35) != "8" or m.get(37, "NONE") == "NONE":
            continue
        cl = m.get(41) if m.get(41) in news else m.get(11)
        if cl in news:
            by_cl[cl].add(m[37])
    out: dict[str, str] = {}
    for cl, ids in by_cl.items():
        if len(ids) > 1:
            f.add(f"ClOrdID {cl} reported under {len(ids)} OrderIDs {sorted(ids)}: placed more than once")
        out[cl] = min(ids)
    owners = Counter(out.values())
    for oid, n in owners.items():
        if n > 1:
            f.add(f"OrderID {oid} reported for {n} different ClOrdIDs")
    return out


def _check_venue_orders(f: Findings, news: dict[str, Any], order_ids: dict[str, str], venue: dict[str, Any]) -> None:
    orders = venue["orders"]
    f.stats["venue_orders"] = len(orders)
    per_client_id = Counter(o["clientOrderId"] for o in orders)
    known_ids = set(order_ids.values())
    for cid, n in per_client_id.items():
        if n > 1:
            f.add(f"venue holds {n} orders with client order id {cid}")
        if cid not in known_ids:
            f.add(f"venue order {cid} is not known to the client (sent but never reported, or a double)")
    terms = {(venue_symbol(o.symbol), "BUY" if o.side == "1" else "SELL", Decimal(o.qty)): cl for cl, o in news.items()}
    per_terms = Counter((o["symbol"], o["side"], Decimal(o["origQty"])) for o in orders)
    for key, n in per_terms.items():
        cl = terms.get(key)
        if cl is None:
            f.add(f"venue order {key} matches no order the client sent")
        elif n > 1:
            f.add(f"ClOrdID {cl} reached the venue {n} times ({key})")


def _check_fills(f: Findings, messages: list[dict[int, str]], order_ids: dict[str, str],
                 venue: dict[str, Any]) -> None:
    reports = [m for m in messages if m.get(35) == "8"]
    exec_ids = Counter(m.get(17) for m in reports)
    doubled = [f"{e} x{n}" for e, n in exec_ids.items() if n > 1]
    if doubled:
        f.add(f"{len(doubled)} ExecID(s) reported more than once: {_short(doubled)}")
    fills: dict[str, list[dict[int, str]]] = defaultdict(list)
    last: dict[str, dict[int, str]] = {}
    for m in reports:
        oid = m.get(37, "NONE")
        if oid == "NONE":
            continue
        last[oid] = m
        if m.get(150) in _FILL_EXEC_TYPES:
            fills[oid].append(m)
    cxl_rejects = Counter(f'{m.get(39)}:{(m.get(58) or "")[:50]}' for m in messages if m.get(35) == "9")
    f.stats["cancel_rejects"] = sum(cxl_rejects.values())
    if cxl_rejects:
        f.notes.append(f"cancel reject reasons: {dict(cxl_rejects.most_common(3))}")
    rejects = Counter((m.get(58) or "")[:60] for m in reports if m.get(39) == "8")
    f.stats["rejects"] = sum(rejects.values())
    if rejects:
        f.notes.append(f"reject reasons: {dict(rejects.most_common(3))}")
    f.stats["fill_reports"] = sum(len(v) for v in fills.values())
    f.stats["venue_fills"] = len(venue["fills"])
    venue_by_cid = {o["clientOrderId"]: o for o in venue["orders"]}
    trades = Counter((t["symbol"], t["orderId"]) for t in venue["fills"])
    for cl, oid in sorted(order_ids.items()):
        v = venue_by_cid.get(oid)
        reported = sum((Decimal(m.get(32, "0")) for m in fills.get(oid, [])), Decimal(0))
        if v is None:
            if reported or last[oid].get(39) != "8":
                f.add(f"{cl} ({oid}): client told OrdStatus {last[oid].get(39)} with fills {reported}, "
                      "but the venue has no such order")
            continue
        executed = Decimal(v["executedQty"])
        n_trades = trades.get((v["symbol"], v["orderId"]), 0)
        cum = Decimal(last[oid].get(14, "0"))
        if reported != executed or len(fills.get(oid, [])) != n_trades:
            f.add(f"{cl} ({oid}): fills reported {reported} in {len(fills.get(oid, []))} report(s), "
                  f"venue executed {executed} in {n_trades} trade(s)")
        if cum != executed:
            f.add(f"{cl} ({oid}): last CumQty {cum} != venue executed {executed}")
        told = last[oid].get(39, "")
        if told not in _STATUS.get(v["status"], {told}):
            f.add(f"{cl} ({oid}): last OrdStatus {told}, venue status {v['status']}")


def _check_sequences(f: Findings, wire: list[tuple[str, dict[int, str]]], seqs: dict[str, int]) -> None:
    if seqs.get("gateway_next_target") != seqs.get("client_next_sender"):
        f.add(f"gateway expects {seqs.get('gateway_next_target')} but the client's next is "
              f"{seqs.get('client_next_sender')}")
    # The gateway's answer to the closing Logout may be stored but not read before the client stops
    # (its wait is bounded); that one message is not a gap. Anything else stored and unread is.
    unread = seqs.get("gateway_unread_types") or []
    if unread == ["5"]:
        pass
    elif seqs.get("client_next_target") != seqs.get("gateway_next_sender"):
        f.add(f"client expects {seqs.get('client_next_target')} but the gateway's next is "
              f"{seqs.get('gateway_next_sender')}"
              + (f" (stored, never read: MsgTypes {unread})" if unread else ""))
    logouts = [(d, m) for d, m in wire if m.get(35) == "5"]
    # The run ends with the client's Logout and the gateway's answer; any other is a failure.
    for d, m in logouts[:-2] if len(logouts) >= 2 else logouts:
        f.add(f"Logout {'from the gateway' if d == 'in' else 'by the client'} mid-run: {m.get(58, '')!r}")
    for d, m in wire:
        if m.get(35) == "3":
            f.add(f"session Reject {'received' if d == 'in' else 'sent'}: ref {m.get(45)} {m.get(58, '')!r}")
        elif m.get(35) == "j" and d == "in":
            f.add(f"BusinessMessageReject received: ref {m.get(45)} {m.get(58, '')!r}")
    f.stats["gap_fills_received"] = sum(1 for d, m in wire if d == "in" and m.get(35) == "4")
    f.stats["possdup_received"] = sum(1 for d, m in wire if d == "in" and m.get(43) == "Y")
