"""Run crash-suite seeds outside pytest and print one report per seed (see docs/reliability.md).

    .venv/bin/python tools/crash.py --seeds 1-50            # seeds 1..50, 3 kills each
    .venv/bin/python tools/crash.py --seeds 17 --kills 5 --keep --log-level INFO   # one seed, look at it

Each seed starts a simulator process and a ``fixgw run`` process, kills the gateway with SIGKILL
mid-burst ``--kills`` times and checks the invariants of ``tests/crash/invariants.py``. The exit status
is 1 if any seed found a violation. ``--keep`` leaves the work directories (gateway log, store file,
configuration) in place and prints their paths; without it they are removed after a passing seed and
kept after a failing one. The same runs are ``FIXGW_CRASH_SEEDS=N .venv/bin/python -m pytest tests/crash``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import anyio

# This checkout's fixgw and test helpers, whatever else is installed.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_ROOT), str(_ROOT / "tests")]

from crash.scenario import run_crash  # noqa: E402


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="1-4", help="seeds: 7, 1-50 or 1,5,9 (default 1-4)")
    p.add_argument("--kills", type=int, default=3, help="kills per seed (default 3)")
    p.add_argument("--burst", type=int, default=200, help="requests per burst (default 200)")
    p.add_argument("--keep", action="store_true", help="keep every work directory")
    p.add_argument("--log-level", help="the gateway's log level (default WARNING; INFO adds the wire log)")
    p.add_argument("--phases", action="store_true", help="print where each seed's time went")
    args = p.parse_args(argv)
    if args.log_level:
        os.environ["FIXGW_CRASH_LOG_LEVEL"] = args.log_level
    failed: list[int] = []
    intake: list[int] = []
    started = time.monotonic()
    for seed in _seeds(args.seeds):
        workdir = Path(tempfile.mkdtemp(prefix=f"fixgw-crash-{seed}-"))
        result = anyio.run(lambda: run_crash(seed, workdir, kills=args.kills, burst=args.burst))
        print(result.report(), flush=True)
        intake.extend(result.intake)
        if args.phases:
            print("  phases: " + ", ".join(result.phases), flush=True)
        if result.findings.violations:
            failed.append(seed)
        if args.keep or result.findings.violations:
            print(f"  kept: {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.monotonic() - started
    mid = sum(1 for n in intake if 0 < n < args.burst)
    print(f"{len(failed)} failing seed(s) {failed} in {total:.0f}s; {len(intake)} kills: {mid} while a burst "
          f"was being taken in, {intake.count(0)} before it was counted at all, {intake.count(args.burst)} after",
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
