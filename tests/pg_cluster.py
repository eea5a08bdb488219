"""A throwaway PostgreSQL cluster for tests and benchmarks: ``initdb`` into a temporary directory, its own
free port on 127.0.0.1, its unix socket in that directory, ``pg_ctl start``; ``stop()`` stops it and
deletes the directory.

The binaries are found on PATH or under ``/usr/lib/postgresql/*/bin`` (Debian installs them there).
``initdb`` and ``postgres`` refuse to run as root: as root the cluster runs as the ``postgres`` user
(``nobody`` without one) through ``setpriv``, and the directory is handed to that user. The bootstrap
superuser is ``fixgw`` with ``trust`` authentication, so clients connect without a password.

``fast=True`` (the tests' setting) turns fsync off: the tests kill clients, never the server, and a
commit still has to reach the server before it returns. Benchmarks use ``fast=False`` (the defaults).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

__all__ = ["PgCluster", "find_bin_dir"]


def find_bin_dir() -> Path | None:
    """Return the directory holding ``initdb`` and ``pg_ctl``, or ``None`` when PostgreSQL is not installed."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    for initdb in reversed(candidates):
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """One running throwaway cluster. ``dsn(dbname)`` connects over the unix socket."""

    def __init__(self, bindir: Path, *, fast: bool = True) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="fixgw-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._prefix: list[str] = []
        if os.getuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                user = pwd.getpwnam("nobody")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "fixgw", "--auth=trust", "-E", "UTF8",
                  "--no-locale", *(["--no-sync"] if fast else []))
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.root}",
                   "-c max_connections=60", "-c shared_buffers=32MB"]
        if fast:
            options += ["-c fsync=off", "-c full_page_writes=off"]
        try:
            self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.root / "log"),
                      "-o", " ".join(options))
        except Exception:
            self._cleanup()
            raise

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self._prefix, str(self.bindir / tool), *args]
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                                cwd=self.root)
        if result.returncode != 0:
            log = self.root / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stdout[-2000:]}{tail}")

    def dsn(self, dbname: str = "postgres", **options: str) -> str:
        """A connection string to ``dbname`` over the unix socket (``options``: more libpq keywords)."""
        parts = [f"host={self.root}", f"port={self.port}", "user=fixgw", f"dbname={dbname}"]
        parts += [f"{k}={v}" for k, v in options.items()]
        return " ".join(parts)

    def tcp_dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=fixgw dbname={dbname}"

    def new_schema_dsn(self) -> str:
        """Create an empty schema and return a DSN whose tables live in it (one per test: no leftovers)."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return self.dsn(options=f"-csearch_path={name}")

    def drop_schema(self, dsn: str) -> None:
        import psycopg

        name = dsn.rsplit("search_path=", 1)[1]
        try:
            with psycopg.connect(self.dsn(), autocommit=True) as conn:
                conn.execute("SET lock_timeout = '5s'")  # a connection a test left open must not hang us
                conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        except psycopg.Error:
            pass  # the cluster is deleted at the end anyway

    def warm_wal(self, megabytes: int = 64) -> int:
        """Leave about ``megabytes`` of recycled WAL segments ahead of the server's write position, as on a
        server that has been running (a checkpoint renames the segments it no longer needs for reuse);
        return how many segment files ``pg_wal`` then holds. On a fresh cluster every new segment is
        created and filled with 16 MB of zeros first, inside the commit that crosses into it: a stall of
        tens of milliseconds that a benchmark of a running server should not count."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE fixgw_warm_wal (b TEXT)")
            # ~1 kB rows of incompressible text: about ``megabytes`` of WAL, then all of it made reusable.
            conn.execute("INSERT INTO fixgw_warm_wal SELECT repeat(md5(random()::text), 30)"
                         " FROM generate_series(1, %s)", (megabytes * 1000,))
            conn.execute("DROP TABLE fixgw_warm_wal")
            conn.execute("SELECT pg_switch_wal()")
            conn.execute("CHECKPOINT")
        return sum(1 for p in (self.data / "pg_wal").iterdir() if p.is_file())

    def stop(self) -> None:
        """Stop the server (fast) and delete its directory."""
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "30")
        except Exception:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30")
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
