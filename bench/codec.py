"""Codec throughput: compiled vs pure-Python twin vs simplefix, in one process.

    .venv/bin/python bench/codec.py [--messages 100000] [--repeat 3] [--chunk 4096]
    .venv/bin/python bench/codec.py --validate [--validations 20000] [--repeat 3]

Parses one stream of NewOrderSingle (~180 bytes), ExecutionReport (~250 bytes) and Heartbeat frames fed
in fixed-size chunks, and encodes one ExecutionReport many times. Each figure is the best of
``--repeat`` runs. Every parser must return every message of the stream, or the run aborts.

``--validate`` times ``load_dictionary("FIX.4.4").validate(msg)`` instead, in microseconds per message,
on a NewOrderSingle, an ExecutionReport and a NewOrderSingle with nested Parties groups, each freshly
parsed (a compiled message's ``fields`` not yet built): the pure walker on pure messages, the pure walker
on compiled messages (the path without the compiled twin, which builds ``fields``), and the compiled twin;
simplefix's parse of the same frame is the yardstick. Every message must pass, or the run aborts.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import simplefix  # noqa: E402

from fixgw.codec import _encoder as py_encoder  # noqa: E402
from fixgw.codec import _parser as py_parser  # noqa: E402
from fixgw.codec import format_utc_timestamp  # noqa: E402
from fixgw.codec.dictionary import load_dictionary  # noqa: E402

try:
    import fixgw_ext._codec as ext
except ImportError:  # pragma: no cover - reported below
    ext = None

NOW_NS = 1_732_500_000_123_456_789
TS = format_utc_timestamp(NOW_NS, 3)


def header(seq: int) -> list[tuple[int, object]]:
    return [(49, b"CLIENT01"), (56, b"FIXGW"), (34, seq), (52, TS)]


def new_order(seq: int) -> list[tuple[int, object]]:
    return header(seq) + [
        (11, b"ORD-%010d" % seq),
        (1, b"ACC-001"),
        (55, b"BTCUSDT"),
        (54, b"1"),
        (60, TS),
        (38, Decimal("0.00150000")),
        (40, b"2"),
        (44, Decimal("97123.45")),
        (59, b"1"),
    ]


def exec_report(seq: int) -> list[tuple[int, object]]:
    return header(seq) + [
        (37, b"8899776655"),
        (11, b"ORD-%010d" % seq),
        (17, b"EXEC-%08d" % seq),
        (150, b"F"),
        (39, b"1"),
        (55, b"BTCUSDT"),
        (54, b"1"),
        (38, Decimal("0.00150000")),
        (44, Decimal("97123.45")),
        (32, Decimal("0.00050000")),
        (31, Decimal("97120.10")),
        (14, Decimal("0.00100000")),
        (6, Decimal("97121.2700")),
        (60, TS),
    ]


def heartbeat(seq: int) -> list[tuple[int, object]]:
    return header(seq)


def build_stream(count: int) -> tuple[bytes, dict[str, int]]:
    parts = []
    sizes: dict[str, int] = {}
    for seq in range(1, count + 1):
        k = seq % 10
        if k == 0:
            kind, mt, fields = "Heartbeat", b"0", heartbeat(seq)
        elif k % 2:
            kind, mt, fields = "NewOrderSingle", b"D", new_order(seq)
        else:
            kind, mt, fields = "ExecutionReport", b"8", exec_report(seq)
        frame = py_encoder.encode(b"FIX.4.4", mt, fields)
        sizes.setdefault(kind, len(frame))
        parts.append(frame)
    return b"".join(parts), sizes


def chunks(stream: bytes, size: int) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def parse_fixgw(mod, pieces: list[bytes], touch_fields: bool = False) -> int:
    parser = mod.Parser()
    count = 0
    Message = mod.Message
    for piece in pieces:
        parser.feed(piece)
        for item in parser:
            if type(item) is not Message:
                raise SystemExit(f"unexpected {item!r}")
            if touch_fields:
                item.fields
            count += 1
    return count


def parse_simplefix(pieces: list[bytes]) -> int:
    parser = simplefix.FixParser()
    count = 0
    for piece in pieces:
        parser.append_buffer(piece)
        while parser.get_message() is not None:
            count += 1
    return count


def best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    times = []
    result = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def encode_simplefix(fields: list[tuple[int, object]]) -> bytes:
    msg = simplefix.FixMessage()
    msg.append_pair(8, b"FIX.4.4")
    msg.append_pair(35, b"8")
    for tag, value in fields:
        msg.append_pair(tag, value)
    return msg.encode()


def order_with_parties(seq: int) -> list[tuple[int, object]]:
    parties = [(453, 2), (448, b"ACCT-7"), (447, b"D"), (452, 3),
               (448, b"TRADER-1"), (447, b"D"), (452, 11), (802, 1), (523, b"desk-a"), (803, 2)]
    fields = new_order(seq)
    return fields[:5] + parties + fields[5:]


def validation_cases() -> list[tuple[str, bytes, list[tuple[int, object]]]]:
    # FIX 4.4 requires LeavesQty(151) on an ExecutionReport; the parse stream's report goes without.
    return [
        ("NewOrderSingle", b"D", new_order(7)),
        ("ExecutionReport", b"8", exec_report(7) + [(151, Decimal("0.00100000"))]),
        ("NOS + Parties group", b"D", order_with_parties(7)),
    ]


def bench_validate(count: int, repeat: int) -> None:
    d = load_dictionary("FIX.4.4")
    fast = d._fast
    if ext is None or fast is None:
        print("WARNING: fixgw_ext is not built; compiled figures skipped")

    def per_message_us(parser_mod, raw: bytes, compiled: bool) -> float:
        d._fast = fast if compiled else None
        try:
            times = []
            for _ in range(repeat):
                parser = parser_mod.Parser()
                msgs = []
                for _ in range(count):
                    parser.feed(raw)
                    msgs.append(parser.next_event())
                validate = d.validate
                t0 = time.perf_counter()
                for m in msgs:
                    validate(m)
                times.append(time.perf_counter() - t0)
            return min(times) / count * 1e6
        finally:
            d._fast = fast

    def simplefix_us(raw: bytes) -> float:
        parser = simplefix.FixParser()
        n = max(1, count // 10)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(n):
                parser.append_buffer(raw)
                if parser.get_message() is None:
                    raise SystemExit("simplefix did not parse the frame")
            times.append(time.perf_counter() - t0)
        return min(times) / n * 1e6

    print(f"validate, FIX.4.4 dictionary, {count} fresh messages per run, best of {repeat} (microseconds per message):")
    print(f"  {'message':<22}{'bytes':>6}{'simplefix parse':>17}{'pure':>9}{'compiled codec,':>17}{'compiled':>10}"
          f"{'pure /':>10}{'walker /':>10}{'simplefix /':>13}")
    print(f"  {'':<22}{'':>6}{'(yardstick)':>17}{'':>9}{'pure walker':>17}{'':>10}"
          f"{'compiled':>10}{'compiled':>10}{'compiled':>13}")
    worst = 0.0
    for name, mt, fields in validation_cases():
        raw = py_encoder.encode(b"FIX.4.4", mt, fields)
        sf = simplefix_us(raw)
        pure = per_message_us(py_parser, raw, False)
        row = f"  {name:<22}{len(raw):>6}{sf:>17.2f}{pure:>9.2f}"
        if ext is not None and fast is not None:
            before = per_message_us(ext, raw, False)
            comp = per_message_us(ext, raw, True)
            worst = max(worst, comp) if name == "NewOrderSingle" else worst
            row += f"{before:>17.2f}{comp:>10.2f}{pure / comp:>9.1f}x{before / comp:>9.1f}x{sf / comp:>12.1f}x"
        print(row)
    if ext is not None and fast is not None:
        verdict = "ok" if worst <= 3.0 else "MISSED"
        print("  (walker: the pure walker on compiled messages, i.e. validation with the codec but without the twin)")
        print(f"\n  compiled NewOrderSingle {worst:.2f} us  [<= 3 us]  {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--encodes", type=int, default=100_000)
    ap.add_argument("--validate", action="store_true", help="time dictionary validation instead")
    ap.add_argument("--validations", type=int, default=20_000)
    args = ap.parse_args()
    if args.validate:
        bench_validate(args.validations, args.repeat)
        return

    stream, sizes = build_stream(args.messages)
    pieces = chunks(stream, args.chunk)
    n = args.messages
    print(f"stream: {n} messages, {len(stream)} bytes, {len(pieces)} chunks of {args.chunk} bytes")
    print("frame sizes: " + ", ".join(f"{k} {v} B" for k, v in sizes.items()))
    if ext is None:
        print("WARNING: fixgw_ext._codec is not built; compiled figures skipped")

    rows: list[tuple[str, float]] = []

    def run(name: str, fn: Callable[[], int], count: int, repeat: int) -> float:
        secs, got = best(fn, repeat)
        if got != count:
            raise SystemExit(f"{name}: expected {count} items, got {got}")
        rate = count / secs
        rows.append((name, rate))
        print(f"  {name:<44} {rate:>14,.0f} msg/s   ({secs * 1e3:8.1f} ms)")
        return rate

    print("\nparse (framing, BodyLength and CheckSum checks, field splitting):")
    sf = run("simplefix FixParser", lambda: parse_simplefix(pieces), n, max(1, min(args.repeat, 2)))
    pp = run("fixgw pure", lambda: parse_fixgw(py_parser, pieces), n, args.repeat)
    cp = cpf = 0.0
    if ext is not None:
        cp = run("fixgw compiled", lambda: parse_fixgw(ext, pieces), n, args.repeat)
        cpf = run("fixgw compiled, .fields materialised", lambda: parse_fixgw(ext, pieces, True), n, args.repeat)

    er = exec_report(42)
    expected = py_encoder.encode(b"FIX.4.4", b"8", er)
    if encode_simplefix(er) != expected:
        raise SystemExit("simplefix and fixgw encode the ExecutionReport differently")
    k = args.encodes

    def loop(fn: Callable[[], bytes], count: int) -> Callable[[], int]:
        def go() -> int:
            for _ in range(count):
                fn()
            return count

        return go

    print(f"\nencode one ExecutionReport ({len(expected)} bytes, {len(er) + 3} fields before CheckSum):")
    se = run("simplefix FixMessage append_pair + encode", loop(lambda: encode_simplefix(er), k // 5), k // 5, 2)
    pe = run("fixgw pure encode", loop(lambda: py_encoder.encode(b"FIX.4.4", b"8", er), k), k, args.repeat)
    ce = 0.0
    if ext is not None:
        if ext.encode(b"FIX.4.4", b"8", er) != expected:
            raise SystemExit("compiled and pure encoders disagree")
        ce = run("fixgw compiled encode", loop(lambda: ext.encode(b"FIX.4.4", b"8", er), k), k, args.repeat)

    print("\nratios (targets in brackets):")
    if ext is not None:
        print(f"  compiled parse            {cp:>12,.0f} msg/s  [>= 1,000,000]  {'ok' if cp >= 1e6 else 'MISSED'}")
        print(f"  compiled / simplefix parse {cp / sf:>10.1f}x      [>= 50x]       {'ok' if cp / sf >= 50 else 'MISSED'}")
        print(f"  compiled+fields / simplefix {cpf / sf:>9.1f}x      (informative)")
    print(f"  pure / simplefix parse     {pp / sf:>10.1f}x      [>= 3x]        {'ok' if pp / sf >= 3 else 'MISSED'}")
    if ext is not None:
        print(f"  compiled / simplefix encode {ce / se:>9.1f}x      [>= 10x]       {'ok' if ce / se >= 10 else 'MISSED'}")
    print(f"  pure / simplefix encode    {pe / se:>10.1f}x      (informative)")


if __name__ == "__main__":
    main()
