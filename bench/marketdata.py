"""Market data throughput: depth updates applied per second by the local book, W/X encode rates.

Run: ``python bench/marketdata.py [--events N] [--levels-per-event K] [--book-levels L] [--seed S]``.

The stream is built before timing by a small venue model (fixed mid, so the book never crosses): a
snapshot of ``L`` levels a side, then ``N`` diff events of ``K`` levels each, drawn mostly near the top
(about 70 % size changes, 15 % deletes, 15 % new levels), with consecutive update ids. One "depth
update" is one price level set or removed. Printed beside each figure is a baseline measured on the
same machine in the same run (a plain dict update loop over the same levels, fresh Decimal objects
for each run, as a venue's are; the bare codec
``encode`` of the same fields), so a noisy machine still gives a ratio. Levels are Decimals already:
the cost of turning a venue's strings into them (``parse_levels``) is printed on its own line.

Last line: the fan-out of X frames to ``--sessions`` sessions, with each body encoded once and only a
header and CheckSum per session (``SharedBody``, as the gateway does) against the whole message encoded
for every session; the first wins as bodies grow (on a busy book an X carries tens of entries), the
second can win for X of a few entries when the compiled encoder is in use.

The fan-out latency to many subscribed FIX sessions is ``bench/marketdata_fanout.py``.
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal

from fixgw.codec import encode
from fixgw.session import SharedBody
from fixgw.session.messages import FrameWriter, encode_body
from fixgw.translate.marketdata import book_changes, incremental_refresh, snapshot_full_refresh
from fixgw.venues._common.book import DepthSnapshot, DepthUpdate, LocalBook, parse_levels

MID = 60_000_00  # in ticks of 0.01
TICK = Decimal("0.01")
HEADER = [(49, "GW"), (56, "CLIENT"), (34, 1), (52, "20260101-00:00:00.000")]


def workload(events: int, per_event: int, book_levels: int, seed: int = 1):
    """Return ``(snapshot, [DepthUpdate...], [raw string rows...])`` of a consistent venue stream."""
    rng = random.Random(seed)
    price = {t: (Decimal(t) * TICK) for t in range(MID - 3 * book_levels, MID + 3 * book_levels + 1)}
    sides = [dict.fromkeys(range(MID - book_levels, MID), None), dict.fromkeys(range(MID + 1, MID + book_levels + 1), None)]
    for s in sides:
        for t in s:
            s[t] = Decimal(rng.randint(1, 5000)).scaleb(-3)
    snap = DepthSnapshot(1000, [(price[t], q) for t, q in sides[0].items()], [(price[t], q) for t, q in sides[1].items()])
    out, raw = [], []
    uid = 1000
    for _ in range(events):
        chg: list[list[tuple[Decimal, Decimal]]] = [[], []]
        for _ in range(per_event):
            side = rng.random() < 0.5
            lv = sides[side]
            dist = min(int(rng.expovariate(1 / 20)) + 1, 3 * book_levels)
            t = MID + dist if side else MID - dist
            r = rng.random()
            if t in lv and r < 0.15:
                del lv[t]
                chg[side].append((price[t], Decimal(0)))
            else:
                q = Decimal(rng.randint(1, 5000)).scaleb(-3)
                lv[t] = q
                chg[side].append((price[t], q))
        uid += 1
        out.append(DepthUpdate(uid, uid, chg[0], chg[1]))
        raw.append([[format(p, "f"), format(q, "f")] for p, q in chg[0] + chg[1]])
    return snap, out, raw


def fresh(events):
    """Copy the events with new Decimal objects: a Decimal caches its hash, and a venue's are new."""
    return [DepthUpdate(e.first_id, e.last_id, [(p.copy_abs(), q) for p, q in e.bids],
                        [(p.copy_abs(), q) for p, q in e.asks]) for e in events]


def bench_book(snap, events) -> tuple[float, int]:
    book = LocalBook("BTC/USDT", max_levels=100_000)
    book.on_event(events[0])
    book.on_snapshot(snap)
    t0 = time.perf_counter()
    on_event = book.on_event
    for e in events[1:]:
        on_event(e)
    dt = time.perf_counter() - t0
    assert book.is_live and book.resyncs == 0, book
    return dt, sum(len(e.bids) + len(e.asks) for e in events[1:])


def bench_dict(snap, events) -> float:
    bids, asks = dict(snap.bids), dict(snap.asks)
    t0 = time.perf_counter()
    for e in events[1:]:
        for d, levels in ((bids, e.bids), (asks, e.asks)):
            for p, q in levels:
                if q:
                    d[p] = q
                else:
                    d.pop(p, None)
    return time.perf_counter() - t0


def bench_parse(raw) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    for rows in raw:
        n += len(parse_levels(rows))
    return time.perf_counter() - t0, n


def bench_encode(snap, events, depth: int, n: int):
    """Time (top-N view + diff + X build + encode) per event, W build + encode, and the bare encodes."""
    book = LocalBook("BTC/USDT", max_levels=100_000)
    book.on_snapshot(snap)
    prev = book.top(depth)
    xs, built_x = 0, []
    t0 = time.perf_counter()
    for e in events[:n]:
        book.on_event(e)
        cur = book.top(depth)
        entries = book_changes("BTC/USDT", prev, cur)
        prev = cur
        if entries:
            mt, f = incremental_refresh("FIX.4.4", entries, md_req_id="r1")
            encode("FIX.4.4", mt, HEADER + f)
            built_x.append(f)
            xs += 1
    t_x = time.perf_counter() - t0
    assert book.is_live and book.resyncs == 0, book
    bids, asks = book.top(depth)
    t0 = time.perf_counter()
    for _ in range(n):
        mt, f = snapshot_full_refresh("FIX.4.4", "BTC/USDT", md_req_id="r1", bids=bids, asks=asks)
        encode("FIX.4.4", mt, HEADER + f)
    t_w = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        encode("FIX.4.4", b"W", HEADER + f)
    t_w_bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in built_x:
        encode("FIX.4.4", b"X", HEADER + f)
    t_x_bare = time.perf_counter() - t0
    return xs, t_x, t_x_bare, t_w, t_w_bare


def bench_shared(bodies, sessions: int = 100) -> tuple[float, float, int]:
    """Fan-out of X: each body to ``sessions`` sessions. Time (a) the body encoded once and only each
    session's header and CheckSum written (``SharedBody`` + ``FrameWriter.frame_shared``, the gateway's
    way) and (b) the whole message encoded for every session; return both and the frames made."""
    writers = [FrameWriter("FIX.4.4", "GW", f"C{i:03d}") for i in range(sessions)]
    stamp = b"20260101-00:00:00.000"
    lead = b"262=r1\x01"
    t0 = time.perf_counter()
    for f in bodies:
        shared = SharedBody.of(encode_body(f[1:]))  # what follows MDReqID, once
        for seq, w in enumerate(writers, 1):
            w.frame_shared(b"X", seq, stamp, shared.led_by(lead))
    t_shared = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in bodies:
        for seq, w in enumerate(writers, 1):
            w.frame_fields(b"X", seq, stamp, f)
    t_each = time.perf_counter() - t0
    return t_shared, t_each, len(bodies) * sessions


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--levels-per-event", type=int, default=10)
    ap.add_argument("--book-levels", type=int, default=5000)
    ap.add_argument("--depth", type=int, default=20, help="top-N levels per side for W/X")
    ap.add_argument("--encodes", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sessions", type=int, default=100, help="sessions of the X fan-out figure")
    ap.add_argument("--repeat", type=int, default=3, help="best of R runs of each measurement")
    a = ap.parse_args(argv)
    snap, events, raw = workload(a.events, a.levels_per_event, a.book_levels, a.seed)
    dt = base = float("inf")
    for _ in range(a.repeat):  # interleaved, so a noisy neighbour hits both alike
        t, levels = bench_book(snap, fresh(events))
        dt = min(dt, t)
        base = min(base, bench_dict(snap, fresh(events)))
    print(f"book apply: {levels / dt:,.0f} depth updates/s ({(len(events) - 1) / dt:,.0f} events/s of "
          f"{a.levels_per_event} levels, book {a.book_levels} levels/side)")
    print(f"  baseline plain dict loop: {levels / base:,.0f} updates/s; book/baseline = {base / dt:.2f}")
    pt, pn = min(bench_parse(raw) for _ in range(a.repeat))
    print(f"parse_levels (strings -> Decimal, checked): {pn / pt:,.0f} levels/s")
    n = min(a.encodes, len(events) - 1)
    runs = [bench_encode(snap, fresh(events[: n + 1]), a.depth, n) for _ in range(a.repeat)]
    xs = runs[0][0]
    t_x, t_x_bare, t_w, t_w_bare = (min(r[i] for r in runs) for i in range(1, 5))
    print(f"X (apply + top-{a.depth} view + diff + build + encode): {xs / t_x:,.0f} X/s over {n} events "
          f"({xs} non-empty); bare encode of the same X: {xs / t_x_bare:,.0f}/s")
    print(f"W (top-{a.depth} a side, build + encode): {n / t_w:,.0f} W/s; bare encode: {n / t_w_bare:,.0f}/s")
    snap_book = LocalBook("BTC/USDT", max_levels=100_000)
    snap_book.on_snapshot(snap)
    bodies = []
    prev = snap_book.top(a.depth)
    for e in fresh(events[: min(n, 2000) + 1]):
        snap_book.on_event(e)
        cur = snap_book.top(a.depth)
        changes = book_changes("BTC/USDT", prev, cur)
        prev = cur
        if changes:
            bodies.append(incremental_refresh("FIX.4.4", changes, md_req_id="r1")[1])
    shared = [bench_shared(bodies, a.sessions) for _ in range(a.repeat)]
    t_sh, t_each = min(r[0] for r in shared), min(r[1] for r in shared)
    frames = shared[0][2]
    print(f"X fan-out to {a.sessions} sessions: {frames / t_sh:,.0f} frames/s with the body encoded once "
          f"and a header per session; {frames / t_each:,.0f} frames/s encoding it for each session")


if __name__ == "__main__":
    main()
