"""The FIX client of ``bench/gateway.py``: one session, orders paced open-loop, every answer timed.

Order ``i`` leaves at ``t0 + i / rate`` whatever the gateway does (a slow gateway cannot slow the sender,
so queueing shows up as latency). Each order is timed from just before its bytes are written to three
answers, matched by ClOrdID: the first ExecutionReport, the first one carrying a trade (LastQty > 0:
ExecType F in FIX 4.4, a partial or full fill in 4.2) and the terminal one (filled, canceled, expired,
rejected). The client logs on with ResetSeqNumFlag and logs out at the end, so several runs can use one
gateway in turn; ``tag`` keeps their ClOrdIDs apart.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from fixgw.codec import Message, Parser, encode, format_utc_timestamp

__all__ = ["run_client", "far_buy", "pct"]

TERMINAL = (b"C", b"8", b"2", b"4")  # expired, rejected, filled, canceled

#: The default order: a limit IOC buy far below the market, accepted then expired, never filled.
_FAR_BUY = [(21, "1"), (55, "BTC/USDT"), (54, "1"), (38, "0.001"), (40, "2"), (44, "30000"), (59, "3")]


def far_buy(i: int) -> list[tuple[int, Any]]:
    return _FAR_BUY


def pct(values: list[float], p: float) -> float:
    """The p-th percentile of sorted ``values`` (NaN when empty)."""
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def _traded(m: Message) -> bool:
    raw = m.get(32)
    if raw is None:
        return False
    try:
        return Decimal(raw.decode("ascii")) > 0
    except (InvalidOperation, UnicodeDecodeError):
        return False


def _summary(name: str, lat: list[float]) -> dict[str, float]:
    return {
        f"{name}p50_ms": pct(lat, 50), f"{name}p90_ms": pct(lat, 90), f"{name}p99_ms": pct(lat, 99),
        f"{name}p999_ms": pct(lat, 99.9), f"{name}max_ms": lat[-1] if lat else float("nan"),
        f"{name}mean_ms": statistics.fmean(lat) if lat else float("nan"),
    }


async def run_client(port: int, rate: float, seconds: float, warmup: int, *,
                     order_fields: Callable[[int], list[tuple[int, Any]]] = far_buy, tag: str = "b",
                     drain_s: float = 30.0) -> dict[str, Any]:
    """Run one paced session against the gateway on ``port``; return counts and latency figures (ms)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seq = 1

    def frame(msg_type: str, fields: list) -> bytes:
        nonlocal seq
        header = [(49, "BENCH"), (56, "FIXGW"), (34, seq), (52, format_utc_timestamp(time.time_ns()))]
        seq += 1
        return encode("FIX.4.4", msg_type, header + fields)

    writer.write(frame("A", [(98, 0), (108, 30), (141, "Y")]))
    parser = Parser()
    sent: dict[bytes, int] = {}
    first: dict[bytes, int] = {}
    fill: dict[bytes, int] = {}
    final: dict[bytes, bytes] = {}  # ClOrdID -> terminal OrdStatus
    logged_on, logged_out, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()
    expected = warmup + int(rate * seconds)

    async def read() -> None:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                return
            now = time.perf_counter_ns()
            parser.feed(data)
            for m in parser:
                if not isinstance(m, Message):
                    continue
                mt = m.msg_type
                if mt == b"8":
                    cl = m.get(11)
                    if cl is None:
                        continue
                    if cl not in first:
                        first[cl] = now
                    if cl not in fill and _traded(m):
                        fill[cl] = now
                    status = m.get(39)
                    if status in TERMINAL and cl not in final:
                        final[cl] = status
                        if len(final) >= expected:
                            finished.set()
                elif mt == b"A":
                    logged_on.set()
                elif mt == b"1":
                    writer.write(frame("0", [(112, m[112])]))
                elif mt == b"5":
                    logged_out.set()

    reader_task = asyncio.create_task(read())
    await asyncio.wait_for(logged_on.wait(), 10)
    prefix = tag.encode()

    def order(i: int) -> bytes:
        cl = b"%s%d" % (prefix, i)
        sent[cl] = time.perf_counter_ns()
        return frame("D", [(11, cl), (60, format_utc_timestamp(time.time_ns())), *order_fields(i)])

    for i in range(warmup):  # connections, caches, JIT-free Python warm-up
        writer.write(order(i))
        await asyncio.sleep(0.002)
    warm_deadline = time.monotonic() + drain_s
    while len(first) < warmup and time.monotonic() < warm_deadline:
        await asyncio.sleep(0.01)
    interval = 1.0 / rate
    total = int(rate * seconds)
    t0 = time.perf_counter()
    i = warmup
    while i < warmup + total:
        due = t0 + (i - warmup) * interval
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        batch = bytearray()
        # Send everything that is due (the event loop's sleep granularity is ~1 ms).
        while i < warmup + total and t0 + (i - warmup) * interval <= time.perf_counter():
            batch += order(i)
            i += 1
        writer.write(bytes(batch))
        await writer.drain()
    send_elapsed = time.perf_counter() - t0
    try:
        await asyncio.wait_for(finished.wait(), drain_s)
    except asyncio.TimeoutError:
        pass
    elapsed = time.perf_counter() - t0
    writer.write(frame("5", []))
    try:
        await asyncio.wait_for(logged_out.wait(), 5)
    except asyncio.TimeoutError:
        pass
    reader_task.cancel()
    writer.close()

    measured = list(sent)[warmup:]
    lat = sorted((first[cl] - sent[cl]) / 1e6 for cl in measured if cl in first)
    fill_lat = sorted((fill[cl] - sent[cl]) / 1e6 for cl in measured if cl in fill)
    acked = len(lat)
    last_ack = max((first[cl] for cl in measured if cl in first), default=0)
    span = (last_ack - sent[measured[0]]) / 1e9 if acked else float("nan")
    statuses = [final.get(cl) for cl in measured]
    return {
        "orders_sent": total,
        "acked": acked,
        "completed": sum(s is not None for s in statuses),
        "rejected": statuses.count(b"8"),
        "filled": statuses.count(b"2"),
        "traded": len(fill_lat),
        "send_s": send_elapsed,
        "ack_span_s": span,
        "orders_per_s": acked / span if acked else 0.0,
        **_summary("", lat),
        **_summary("fill_", fill_lat),
        "elapsed_s": elapsed,
    }
