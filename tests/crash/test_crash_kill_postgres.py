"""The crash suite on PostgreSQL: kill -9 the gateway mid-burst while its commits are pipelined (on a
thread of their own, the bytes and venue calls held until their commit has landed); after each restart
nothing is lost or doubled, exactly as on SQLite (``test_crash_kill.py``, ``scenario.py``).

The cluster runs with the server's durable defaults (fsync on), so a commit takes the time it takes in
production and the window between sealing a commit and its landing is real. ``FIXGW_CRASH_PG_SEEDS``
(default 1; each kills the gateway 3 times) seeds from ``FIXGW_CRASH_FIRST_SEED``. Skipped when PostgreSQL or psycopg is not installed
(CI installs both).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from .conftest import _env_int, crash_kills
from .scenario import run_crash

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.crash,
              pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and POSIX process control")]


def _pg_seeds() -> list[int]:
    first = _env_int("FIXGW_CRASH_FIRST_SEED", 1)
    return list(range(first, first + max(0, _env_int("FIXGW_CRASH_PG_SEEDS", 1))))


@pytest.fixture(scope="module")
def durable_cluster():
    from pg_cluster import PgCluster, find_bin_dir

    bindir = find_bin_dir()
    missing = None if bindir is not None else "no PostgreSQL binaries (initdb, pg_ctl)"
    if missing is None:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            missing = f"psycopg cannot be imported: {exc}"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL crash tests: {missing}")
        pytest.skip(missing)
    cluster = PgCluster(bindir, fast=False)
    yield cluster
    cluster.stop()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", _pg_seeds())
async def test_crash_kill9_mid_burst_on_postgres_nothing_lost_nothing_doubled(seed: int, tmp_path: Path,
                                                                              durable_cluster) -> None:
    dsn = durable_cluster.new_schema_dsn()
    try:
        result = await run_crash(seed, tmp_path, kills=crash_kills(), pg_dsn=dsn)
        print(result.report())
        assert not result.findings.violations, result.report()
    finally:
        durable_cluster.drop_schema(dsn)
