"""Kill -9 the gateway at random instants of order bursts; after each restart nothing is lost or doubled.

Each seed runs ``FIXGW_CRASH_KILLS`` (default 3) kills against a real ``fixgw run`` process and a real
simulator process; see ``scenario.py`` for the plan and ``invariants.py`` for what is checked. Long run:
``FIXGW_CRASH_SEEDS=500 .venv/bin/python -m pytest tests/crash -q`` (docs/reliability.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .conftest import crash_kills, crash_seeds
from .scenario import run_crash

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.crash,
              pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and POSIX process control")]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", crash_seeds())
async def test_crash_kill9_mid_burst_nothing_lost_nothing_doubled(seed: int, tmp_path: Path) -> None:
    result = await run_crash(seed, tmp_path, kills=crash_kills())
    print(result.report())
    assert not result.findings.violations, result.report()
