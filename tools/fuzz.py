"""Long fuzz runs of the codec parser and the session engine (the suite runs a short one).

    .venv/bin/python tools/fuzz.py --inputs 10000000              # the long run, both targets
    .venv/bin/python tools/fuzz.py --target parser --inputs 1000000 --jobs 2 --seed 5
    .venv/bin/python tools/fuzz.py --engine atheris --target session --inputs 200000
    .venv/bin/python tools/fuzz.py --replay var/fuzz/crashes/session-1a2b3c4d5e6f.bin
    .venv/bin/python tools/fuzz.py --write-corpus                  # regenerate tests/fuzz/corpus/

The targets and their invariants are in ``tests/fuzz/targets.py``. ``--inputs`` is split between the
targets by ``--share`` (default: 90 % parser, 10 % session, as the session target is ~10x slower);
``--engine random`` (default) is the suite's seeded mutator spread over ``--jobs`` processes, with a
watchdog of ``--time-limit`` seconds per input; ``--engine atheris`` is coverage-guided (libFuzzer),
one process per target, keeping what it learns in ``var/fuzz/<target>/``. Failing inputs are written to
``var/fuzz/crashes/`` with their traceback; the exit status is 1 if there was any new one.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

OUT = ROOT / "var" / "fuzz"


def _work(args: tuple[str, int, int, float]) -> dict:
    name, count, seed, time_limit = args
    logging.disable(logging.CRITICAL)
    from fuzz import engine, targets

    report = engine.run(name, targets.TARGETS[name], engine.inputs(name, count, seed, reframing=name == "parser"),
                        time_limit=time_limit, max_failures=50)
    new = [f for f in report.failures if targets.known_finding(f.error, f.trace) is None]
    known = len(report.failures) - len(new)
    crashes = OUT / "crashes"
    for f in new:
        crashes.mkdir(parents=True, exist_ok=True)
        (crashes / f"{name}-{f.digest}.bin").write_bytes(f.data)
        (crashes / f"{name}-{f.digest}.txt").write_text(f.trace)
    return {"target": name, "inputs": report.inputs, "seconds": report.cpu_seconds, "slowest": report.slowest,
            "new": [f"{f.digest}: {f.error}" for f in new], "known": known}


def run_random(shares: dict[str, int], jobs: int, seed: int, time_limit: float) -> int:
    tasks = []
    for name, count in shares.items():
        per = [count // jobs + (1 if i < count % jobs else 0) for i in range(jobs)]
        tasks += [(name, n, seed * 1000 + i, time_limit) for i, n in enumerate(per) if n]
    t0 = time.perf_counter()
    if jobs == 1:
        results = [_work(t) for t in tasks]
    else:
        with multiprocessing.Pool(jobs) as pool:
            results = pool.map(_work, tasks, chunksize=1)
    wall = time.perf_counter() - t0
    status = 0
    for name in shares:
        rs = [r for r in results if r["target"] == name]
        n = sum(r["inputs"] for r in rs)
        cpu = sum(r["seconds"] for r in rs)
        print(f"{name:8} {n:>10,} inputs  {n / cpu if cpu else 0:>9,.0f} inputs/CPU-s  "
              f"slowest {max(r['slowest'] for r in rs) * 1e3:.1f} ms  known findings {sum(r['known'] for r in rs)}")
        for r in rs:
            for line in r["new"]:
                status = 1
                print(f"  NEW FAILURE {line}  (var/fuzz/crashes/{name}-<digest>.bin)")
    print(f"wall {wall:.1f} s on {jobs} process(es)")
    return status


def run_atheris(name: str, count: int, time_limit: float) -> int:
    work = OUT / name
    work.mkdir(parents=True, exist_ok=True)
    (OUT / "crashes").mkdir(parents=True, exist_ok=True)
    code = f"""
import logging, sys
logging.disable(logging.CRITICAL)
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
import atheris
with atheris.instrument_imports(include=["fixgw", "fuzz"]):
    from fuzz import targets
target = targets.TARGETS[{name!r}]
def one(data):
    try:
        target(data)
    except Exception as exc:
        if targets.known_finding(f"{{type(exc).__name__}}: {{exc}}", __import__("traceback").format_exc()) is None:
            raise
atheris.Setup(sys.argv, one)
atheris.Fuzz()
"""
    argv = [sys.executable, "-c", code, f"-runs={count}", f"-timeout={max(1, int(time_limit))}",
            f"-artifact_prefix={OUT / 'crashes'}/{name}-", "-print_final_stats=1",
            str(work), str(ROOT / "tests" / "fuzz" / "corpus" / name)]
    return subprocess.call(argv)


def replay(path: Path) -> int:
    from fuzz import targets

    logging.basicConfig(level=logging.INFO, format="      log: %(message)s")
    data = path.read_bytes()
    name = "session" if path.name.startswith("session") else "parser"
    trace: list[str] = []
    try:
        if name == "session":
            targets.session_target(data, trace)
        else:
            targets.parser_target(data)
    except Exception:
        print("\n".join(trace))
        raise
    print("\n".join(trace))
    print(f"{name}: no failure on {path}")
    return 0


def write_corpus() -> None:
    logging.disable(logging.CRITICAL)
    from fuzz import seeds

    base = ROOT / "tests" / "fuzz" / "corpus"
    for sub, items in (("parser", sorted(seeds.parser_seeds().items())),
                       ("session", [(f"program{i:02d}", d) for i, d in enumerate(seeds.session_seeds())])):
        folder = base / sub
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for stem, data in items:
            (folder / f"{stem}.{'fix' if sub == 'parser' else 'bin'}").write_bytes(data)
        print(f"{sub}: {len(items)} seeds, {sum(len(d) for _, d in items):,} bytes")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=1_000_000, help="inputs in total over the targets")
    ap.add_argument("--target", choices=["parser", "session", "all"], default="all")
    ap.add_argument("--share", type=float, default=0.9, help="parser's share of --inputs with --target all")
    ap.add_argument("--engine", choices=["random", "atheris"], default="random")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    ap.add_argument("--time-limit", type=float, default=5.0, help="seconds per input before it counts as a hang")
    ap.add_argument("--replay", type=Path)
    ap.add_argument("--write-corpus", action="store_true")
    args = ap.parse_args()
    if args.replay:
        return replay(args.replay)
    if args.write_corpus:
        write_corpus()
        return 0
    if args.target == "all":
        parser_n = int(args.inputs * args.share)
        shares = {"parser": parser_n, "session": args.inputs - parser_n}
    else:
        shares = {args.target: args.inputs}
    print(f"seed {args.seed}, engine {args.engine}, {args.inputs:,} inputs: {shares}")
    if args.engine == "atheris":
        return max(run_atheris(name, n, args.time_limit) for name, n in shares.items() if n)
    return run_random({k: v for k, v in shares.items() if v}, max(1, args.jobs), args.seed, args.time_limit)


if __name__ == "__main__":
    sys.exit(main())
