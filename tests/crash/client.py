"""The FIX client of a crash run: what a real client does across a gateway crash, nothing more.

It is the project's own ``Session`` engine driven by an ``Initiator``, over one ``MemoryMessageStore``
kept for the whole run: its sequence numbers and every message it sent survive the gateway's restarts,
it reconnects without reset, and it answers the gateway's ResendRequests with its stored messages
(PossDupFlag=Y, OrigSendingTime). It records every application message delivered to it and, through
the session's wire logger, every message in and out (to count ResendRequests, resent orders and any
Logout or Reject). ``arm_kill`` makes it kill the gateway from inside ``on_message`` once a number of
reports arrived, so a kill can land at an exact point of the report stream.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Callable

import anyio

from fixgw.codec import format_utc_timestamp
from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Application, Backoff, Initiator, wire_logger_name

__all__ = ["CrashClient", "SentOrder", "parse_frame", "OPEN_STATUSES", "DONE_STATUSES"]

#: OrdStatus (39) values of an order that can still trade or be cancelled.
OPEN_STATUSES = frozenset({"0", "1", "A", "E", "6"})
DONE_STATUSES = frozenset({"2", "3", "4", "8", "C"})
_TICK = Decimal("0.01")
#: Per client symbol: the first quantity and the step between two orders' quantities. Every order of
#: a run has its own quantity, so a venue order names the client order it came from by itself.
_QTY = {"BTC/USDT": (Decimal("0.001"), Decimal("0.00001")), "ETH/USDT": (Decimal("0.02"), Decimal("0.0001"))}


@dataclass
class SentOrder:
    """A NewOrderSingle (kind "D") or OrderCancelRequest ("F") the client sent, and what it learnt."""

    cl_ord_id: str
    kind: str
    symbol: str
    side: str  # FIX 54: "1" buy, "2" sell
    qty: str = ""
    price: str = ""
    tif: str = ""
    orig: str = ""  # the order a cancel is about
    burst: int = 0
    status: str = ""  # last OrdStatus reported for this order (D only)
    order_id: str = ""
    cancel_sent: bool = False
    cancel_refusals: int = 0


def parse_frame(text: str) -> dict[int, str]:
    """Fields of a wire-log line (``8=FIX.4.4|9=...|10=...|``): first occurrence of each tag."""
    out: dict[int, str] = {}
    for part in text.split("|"):
        tag, sep, value = part.partition("=")
        if sep and tag.isdigit():
            out.setdefault(int(tag), value)
    return out


class _WireTap(logging.Handler):
    def __init__(self, sink: list[tuple[str, dict[int, str]]]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        direction = getattr(record, "direction", "?")
        text = record.getMessage()
        self.sink.append((direction, parse_frame(text.split(" ", 1)[1] if " " in text else text)))


class CrashClient(Application):
    """Session CLIENT44 -> FIXGW (FIX 4.4) that keeps its store across the gateway's crashes."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.session_id = SessionID("FIX.4.4", "CLIENT44", "FIXGW")
        self.store = MemoryMessageStore()
        config = SessionConfig(self.session_id, role="initiator", heartbeat_interval=30, reset_on_logon=False,
                               username=username, password=password)
        self.initiator = Initiator(config, self, self.store, host="127.0.0.1", port=port,
                                   backoff=Backoff(initial=0.05, maximum=0.25), connect_timeout=2.0)
        self.orders: dict[str, SentOrder] = {}
        self.messages: list[dict[int, str]] = []  # application messages, in delivery order
        self.arrivals: list[float] = []  # time.monotonic() of each of them
        self.events: list[Any] = []  # other session events (rejects, gaps)
        self.wire: list[tuple[str, dict[int, str]]] = []
        self.logons = 0
        self._changed = anyio.Event()
        self._kill_after: int | None = None
        self._kill: Callable[[], None] | None = None
        self._n = {"BTC/USDT": 0, "ETH/USDT": 0}
        self._ids = 0
        self._tap = _WireTap(self.wire)
        self._wire_logger = logging.getLogger(wire_logger_name(self.session_id))

    # -- life ----------------------------------------------------------------------------------
    def __enter__(self) -> "CrashClient":
        self._saved = (self._wire_logger.level, self._wire_logger.propagate)
        self._wire_logger.setLevel(logging.INFO)
        self._wire_logger.propagate = False
        self._wire_logger.addHandler(self._tap)
        return self

    def __exit__(self, *exc: object) -> None:
        self._wire_logger.removeHandler(self._tap)
        self._wire_logger.setLevel(self._saved[0])
        self._wire_logger.propagate = self._saved[1]

    @property
    def handle(self) -> Any:
        return self.initiator.handle

    @property
    def session(self) -> Any:
        return self.initiator.handle.session

    # -- callbacks -----------------------------------------------------------------------------
    def on_logon(self, session: Any) -> None:
        self.logons += 1
        self._poke()

    def on_message(self, session: Any, message: Any) -> None:
        fields: dict[int, str] = {}
        for tag, value in message.fields:
            fields.setdefault(tag, value.decode("ascii", "replace"))
        self.messages.append(fields)
        self.arrivals.append(time.monotonic())
        sent = self.orders.get(fields.get(11, ""))
        order = self.orders.get(sent.orig) if sent is not None and sent.kind == "F" else sent
        if order is not None and fields.get(35) == "8":
            order.status = fields.get(39, order.status)
            if fields.get(37, "NONE") != "NONE":
                order.order_id = fields[37]
        elif order is not None and fields.get(35) == "9":
            order.cancel_sent = False  # refused: the order may be cancelled again at the end
            order.cancel_refusals += 1
            order.status = fields.get(39, order.status)
        if self._kill_after is not None:
            self._kill_after -= 1
            if self._kill_after <= 0 and self._kill is not None:
                self._kill()  # SIGKILL from inside the report stream: no await between
                self._kill_after = None
        self._poke()

    def on_event(self, session: Any, event: Any) -> None:
        self.events.append(event)

    def _poke(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def changed(self, timeout: float) -> bool:
        """Wait for the next message or logon; False if ``timeout`` passed first."""
        with anyio.move_on_after(timeout):
            await self._changed.wait()
            return True
        return False

    # -- what has been answered ----------------------------------------------------------------
    def answered(self) -> set[str]:
        # A PendingCancel / PendingReplace acknowledgement (150=6 / E) is not the answer: the request's
        # outcome (Canceled, Replaced or OrderCancelReject) follows once the venue has spoken.
        return {m[11] for m in self.messages
                if m.get(35) in ("8", "9") and 11 in m and m.get(150) not in ("6", "E")}

    def unanswered(self) -> list[str]:
        done = self.answered()
        return [cl for cl in self.orders if cl not in done]

    def open_orders(self) -> list[SentOrder]:
        return [o for o in self.orders.values() if o.kind == "D" and o.status in OPEN_STATUSES]

    def arm_kill(self, after_reports: int, kill: Callable[[], None]) -> None:
        self._kill_after, self._kill = after_reports, kill

    def disarm_kill(self) -> bool:
        """Forget an armed kill; True if it had not fired yet."""
        pending = self._kill_after is not None
        self._kill_after = self._kill = None
        return pending

    # -- orders --------------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids}"

    def _quantity(self, symbol: str) -> str:
        first, step = _QTY[symbol]
        n = self._n[symbol]
        self._n[symbol] = n + 1
        return str(first + step * n)

    def burst(self, rng: random.Random, books: dict[str, tuple[Decimal, Decimal]], size: int,
              burst_no: int) -> list[SentOrder]:
        """Plan ``size`` requests: cancels of open orders and new IOC/GTC limits that cross or rest.

        ``books`` maps a client symbol to (best bid, best ask). Nothing is sent yet.
        """
        planned: list[SentOrder] = []
        open_now = [o for o in self.open_orders() if not o.cancel_sent and o.status in ("0", "1")]
        rng.shuffle(open_now)
        for victim in open_now[: min(len(open_now), rng.randint(0, size // 3))]:
            victim.cancel_sent = True
            planned.append(SentOrder(self._next_id(f"b{burst_no}c"), "F", victim.symbol, victim.side,
                                     orig=victim.cl_ord_id, burst=burst_no))
        while len(planned) < size:
            symbol = rng.choice(tuple(_QTY))
            bid, ask = books[symbol]
            side = rng.choice(("1", "2"))
            kind = rng.choices(("ioc", "gtc", "rest"), weights=(4, 3, 3))[0]
            if kind == "rest":
                away = Decimal(str(round(rng.uniform(0.0005, 0.003), 6)))
                price = bid * (1 - away) if side == "1" else ask * (1 + away)
            else:
                through = Decimal(str(round(rng.uniform(0.0, 0.0004), 6)))
                price = ask * (1 + through) if side == "1" else bid * (1 - through)
            rounding = ROUND_FLOOR if (side == "1") == (kind == "rest") else ROUND_CEILING
            price = price.quantize(_TICK, rounding=rounding)
            planned.append(SentOrder(self._next_id(f"b{burst_no}n"), "D", symbol, side,
                                     qty=self._quantity(symbol), price=str(price),
                                     tif="3" if kind == "ioc" else "1", burst=burst_no))
        rng.shuffle(planned)
        return planned

    def send_all(self, planned: list[SentOrder], now_ns: int) -> None:
        """Send every planned request in this loop turn: they leave in one write, as one burst."""
        ts = format_utc_timestamp(now_ns)
        handle = self.handle
        for o in planned:
            self.orders[o.cl_ord_id] = o
            if o.kind == "D":
                handle.send(b"D", [(11, o.cl_ord_id), (21, "1"), (55, o.symbol), (54, o.side), (60, ts),
                                   (38, o.qty), (40, "2"), (44, o.price), (59, o.tif)])
            else:
                handle.send(b"F", [(41, o.orig), (11, o.cl_ord_id), (55, o.symbol), (54, o.side), (60, ts)])

    def cancel_all_open(self, now_ns: int, max_refusals: int = 2) -> list[SentOrder]:
        """Cancel every order still open (end of a run: the venue's state stops moving).

        An order whose cancel was refused ``max_refusals`` times is left alone: it is done at the
        venue and its last report is on its way (the checks then compare it with the venue).
        """
        planned = [SentOrder(self._next_id("endc"), "F", o.symbol, o.side, orig=o.cl_ord_id, burst=-1)
                   for o in self.open_orders()
                   if not o.cancel_sent and o.status in ("0", "1") and o.cancel_refusals < max_refusals]
        for o in planned:
            self.orders[o.orig].cancel_sent = True
        self.send_all(planned, now_ns)
        return planned
