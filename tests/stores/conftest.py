"""Helpers for the store tests: a child process killed with SIGKILL at a chosen point."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Callable

import pytest


def _kill_child(code: str, *args: str, at: Callable[[str], bool]) -> str:
    """Run ``code`` in a fresh interpreter, SIGKILL it once a line it prints satisfies ``at``; return that line."""
    child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    line = ""
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if at(line.strip()):
                break
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return line.strip()


@pytest.fixture
def kill_child() -> Callable[..., str]:
    """``kill_child(code, *args, at=predicate)``: see ``_kill_child``."""
    return _kill_child


# -- PostgreSQL: one throwaway cluster per test session (tests/pg_cluster.py) ----------------------


@pytest.fixture(scope="session")
def pg_cluster():
    """A running throwaway PostgreSQL cluster, started once when the first test needs it.

    Skipped (with the reason) only when PostgreSQL or psycopg is not installed; with ``CI`` set in the
    environment that fails instead, so CI really runs the PostgreSQL tests.
    """
    from pg_cluster import PgCluster, find_bin_dir

    missing = None
    bindir = find_bin_dir()
    if bindir is None:
        missing = "no PostgreSQL binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin"
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            missing = f"psycopg cannot be imported: {exc}"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL store tests: {missing}")
        pytest.skip(missing)
    cluster = PgCluster(bindir)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_dsn(pg_cluster):
    """A connection string whose tables live in a fresh schema of the session's cluster (dropped after)."""
    dsn = pg_cluster.new_schema_dsn()
    yield dsn
    pg_cluster.drop_schema(dsn)
