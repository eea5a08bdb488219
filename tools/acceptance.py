"""Play scripted session acceptance tests (``.def`` files) against ``examples/echo_acceptor.py``.

    .venv/bin/python tools/acceptance.py DIR_OR_FILE... [-k NAME] [--isolate] [--loose-text] [-v]

See docs/acceptance.md for where the scripts come from (they are not part of this repository) and the
results. Exit status: 0 if every script passed, 1 otherwise, 2 on a usage or start-up error.

Theory of operation. A script is a list of lines, played top to bottom:

- ``#...`` is a comment; empty lines are skipped.
- ``iCONNECT`` / ``iDISCONNECT`` open / close a TCP connection to the acceptor.
- ``I<fields>`` sends a message; ``E<fields>`` reads the next message and compares it with the expected one.
- ``eDISCONNECT`` expects the acceptor to close the connection (no data first) within the timeout.
- ``i1,CONNECT``, ``I2,...``, ``e2,DISCONNECT``: the digit names one of several connections (default 1).
- In sent and expected messages ``<TIME>``, ``<TIME+N>`` and ``<TIME-N>`` become the UTC time (plus or
  minus N seconds) when the line is played, as ``YYYYMMDD-HH:MM:SS``. A message without BodyLength (9)
  gets the right one; one without CheckSum (10) gets the right one; a message that has them keeps them
  (so scripts can send wrong ones on purpose).

Comparison is field by field. The reference runner compares the fields in the order sent, which holds
its own engine to tag order; FIX fixes the place of BeginString, BodyLength, MsgType and CheckSum only
(and the order inside a repeating group), so by default the standard header and the body are each
compared in tag order (a stable sort: repeated tags keep their order); ``--strict-order`` compares the
order as sent. Values must be equal, except BodyLength and CheckSum, which must instead be right for
the bytes received, and the UTC timestamps 42, 52 (SendingTime), 60 (TransactTime) and 122
(OrigSendingTime), which need only be well-formed. ``--loose-text`` also leaves Text (58) out of the
comparison, present or not: it is free-form, and engines word their reasons differently. A missing or
extra field is reported before any order or value difference.

The acceptor under test runs as the reference acceptor is configured for these scripts: SenderCompID
ISLD, TargetCompID TW42 (FIX.4.2) and TW44 (FIX.4.4), reset on every Logon, every message validated
against its version's dictionary; on a free loopback port, with its store and log in a temporary
directory, its failed-Logon slow-down off (the scripts fail Logons on purpose, one after another). One
process serves every script, as in the reference run; ``--isolate`` starts a fresh one per script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOH = b"\x01"
#: The acceptor's sessions in the reference configuration: SenderCompID ISLD, one TargetCompID per version.
DEFAULT_SESSIONS = ("FIX.4.2:ISLD:TW42", "FIX.4.4:ISLD:TW44")
TIMESTAMP_TAGS = frozenset({42, 52, 60, 122})
#: Standard header tags after BeginString, BodyLength and MsgType; FIX lets them come in any order.
HEADER_TAGS = frozenset(b"%d" % t for t in (
    34, 43, 49, 50, 52, 56, 57, 90, 91, 97, 115, 116, 122, 128, 129, 142, 143, 144, 145, 212, 213, 347, 369, 627))
TIMESTAMP = re.compile(rb"\d{8}-\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?")
TIME_PLACEHOLDER = re.compile(r"<TIME(?:([+-])(\d+))?>")
CONNECTION_PREFIX = re.compile(r"^[IEie]\d,")


class ScriptFailure(Exception):
    """A script line did not play out as written; the message says how."""


# -- building messages --------------------------------------------------------------------------------


def fill_times(text: str, now: dt.datetime) -> str:
    """Replace every ``<TIME>``, ``<TIME+N>``, ``<TIME-N>`` with ``now`` (shifted by N seconds)."""

    def one(match: re.Match[str]) -> str:
        sign, seconds = match.groups()
        shift = dt.timedelta(seconds=int(seconds or 0)) * (-1 if sign == "-" else 1)
        return (now + shift).strftime("%Y%m%d-%H:%M:%S")

    return TIME_PLACEHOLDER.sub(one, text)


def frame(raw: bytes) -> bytes:
    """Add BodyLength after BeginString and CheckSum at the end where the script leaves them out."""
    if not raw.startswith(b"8="):
        return raw  # deliberately not a FIX message: sent as written
    end_of_begin = raw.find(SOH)
    if end_of_begin < 0:
        return raw
    head, rest = raw[: end_of_begin + 1], raw[end_of_begin + 1 :]
    trailer = rest.find(b"\x0110=")
    if trailer >= 0 and rest.endswith(SOH):  # a CheckSum written in the script, right or wrong
        body, checksum_field = rest[: trailer + 1], rest[trailer + 1 :]
    else:
        body, checksum_field = rest, b""
    length_field = b"" if re.search(rb"\x019=[^\x01]*\x01", raw) else b"9=%d\x01" % len(body)
    if not checksum_field:
        checksum_field = b"10=%03d\x01" % (sum(head + length_field + body) % 256)
    return head + length_field + body + checksum_field


def split_fields(message: bytes) -> list[tuple[bytes, bytes]]:
    """The ``(tag, value)`` pairs of a framed message, tags kept as written."""
    return [tuple(part.split(b"=", 1)) if b"=" in part else (part, b"") for part in message.split(SOH)[:-1]]  # type: ignore[misc]


# -- reading messages ---------------------------------------------------------------------------------


class Connection:
    """One TCP connection of the script, with a receive buffer that yields whole FIX frames."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.eof = False

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ScriptFailure(f"could not send, the connection was dropped ({exc})") from exc

    def _fill(self, deadline: float) -> bool:
        """Read what arrives before ``deadline``; False on timeout, sets ``eof`` when the peer closed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
            return False
        try:
            chunk = self.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
        self.buffer += chunk
        return True

    def read_frame(self, timeout: float) -> bytes:
        """The next whole frame; BodyLength locates its end. Raises ScriptFailure on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while True:
            header = re.match(rb"8=[^\x01]*\x019=(\d+)\x01", self.buffer)
            if header is not None:
                end = header.end() + int(header.group(1))
                trailer = re.match(rb"10=\d{3}\x01", self.buffer[end : end + 7])
                if trailer is not None:
                    data, self.buffer = self.buffer[: end + 7], self.buffer[end + 7 :]
                    return data
                if len(self.buffer) >= end + 7:
                    raise ScriptFailure(f"received a frame whose BodyLength is wrong: {show(self.buffer[:end + 40])}")
            elif len(self.buffer) >= 32 and not re.match(rb"8=[^\x01]*\x019=", self.buffer):
                raise ScriptFailure(f"received bytes that do not start a FIX frame: {show(self.buffer[:80])}")
            if self.eof:
                raise ScriptFailure("was disconnected, expected a message" + (f" (left: {show(self.buffer)})" if self.buffer else ""))
            if not self._fill(deadline):
                raise ScriptFailure(f"no message within {timeout:g}s" + (f" (partial: {show(self.buffer)})" if self.buffer else ""))

    def wait_disconnect(self, timeout: float) -> None:
        """Succeed when the peer closes the connection with nothing (more) to read first."""
        deadline = time.monotonic() + timeout
        while not self.buffer and not self.eof:
            if not self._fill(deadline):
                raise ScriptFailure(f"the connection is still open after {timeout:g}s")
        if self.buffer:
            raise ScriptFailure(f"expected a disconnection, received {show(self.buffer)}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def show(data: bytes) -> str:
    """Bytes for a report line: SOH as ``|``, anything else unprintable escaped."""
    return data.replace(SOH, b"|").decode("latin-1").encode("unicode_escape").decode("ascii")


# -- comparing ----------------------------------------------------------------------------------------


def frame_problem(received: bytes) -> str | None:
    """Why the received frame's own BodyLength or CheckSum is wrong, or None."""
    header = re.match(rb"8=[^\x01]*\x019=(\d+)\x01", received)
    if header is None:
        return "no BeginString/BodyLength at the start"
    if len(received) - header.end() - 7 != int(header.group(1)):
        return f"BodyLength {int(header.group(1))} but the body has {len(received) - header.end() - 7} bytes"
    if int(received[-4:-1]) != sum(received[:-7]) % 256:
        return f"CheckSum {received[-4:-1].decode()} but the bytes sum to {sum(received[:-7]) % 256:03d}"
    return None


def canonical(fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """8, 9, 35 first; then the standard header; then the body; then CheckSum: each part in tag order.

    FIX fixes the place of the first three fields and of CheckSum only (and the order inside a repeating
    group); the sort is stable, so repeated tags (group instances) keep their order.
    """
    head, rest = fields[:3], fields[3:]
    trailer = [rest.pop()] if rest and rest[-1][0] == b"10" else []
    key = lambda f: int(f[0]) if f[0].lstrip(b"-").isdigit() else -1  # noqa: E731
    header = sorted((f for f in rest if f[0] in HEADER_TAGS), key=key)
    body = sorted((f for f in rest if f[0] not in HEADER_TAGS), key=key)
    return head + header + body + trailer


def mismatch(expected: bytes, received: bytes, loose_text: bool, strict_order: bool = False) -> str | None:
    """The first difference between an expected and a received message, or None if they match."""
    problem = frame_problem(received)
    if problem is not None:
        return problem
    want, got = split_fields(expected), split_fields(received)
    if not strict_order:
        want, got = canonical(want), canonical(got)
    if loose_text:
        want, got = [f for f in want if f[0] != b"58"], [f for f in got if f[0] != b"58"]
    missing = Counter(t for t, _ in want) - Counter(t for t, _ in got)
    extra = Counter(t for t, _ in got) - Counter(t for t, _ in want)
    if missing or extra:
        return "; ".join(f"{what} field(s) {','.join(t.decode() for t in sorted(c.elements(), key=lambda t: (len(t), t)))}"
                         for what, c in (("missing", missing), ("extra", extra)) if c)
    for index, ((want_tag, want_value), (got_tag, got_value)) in enumerate(zip(want, got)):
        if want_tag != got_tag:
            return f"field #{index + 1}: expected tag {want_tag.decode()} but found tag {got_tag.decode()}"
        tag = int(want_tag) if want_tag.lstrip(b"-").isdigit() else None
        if tag in (9, 10):
            continue
        if tag in TIMESTAMP_TAGS:
            if not TIMESTAMP.fullmatch(got_value):
                return f"tag {tag}: {show(got_value)} is not a UTC timestamp"
        elif want_value != got_value:
            return f"tag {want_tag.decode()}: expected {show(want_value)} but was {show(got_value)}"
    return None


# -- playing a script ---------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    failure: str | None = None
    lines: list[str] = field(default_factory=list)  # expected / received lines of the failure


def play(path: Path, host: str, port: int, timeout: float, loose_text: bool, strict_order: bool = False) -> Result:
    """Play one script against ``host:port``."""
    result = Result(path.stem)
    connections: dict[int, Connection] = {}
    try:
        for number, line in enumerate(path.read_bytes().decode("latin-1").splitlines(), 1):
            line = line.rstrip("\r")
            if not line or line.startswith("#"):
                continue
            kind = line[0]
            cid, text = (int(line[1]), line[3:]) if CONNECTION_PREFIX.match(line) else (1, line[1:])
            try:
                step(kind, cid, text, connections, host, port, timeout, (loose_text, strict_order), result)
            except ScriptFailure as exc:
                result.failure = f"line {number}: {exc}"
                return result
    finally:
        for conn in connections.values():
            conn.close()
    return result


def step(kind: str, cid: int, text: str, connections: dict[int, Connection], host: str, port: int,
         timeout: float, compare: tuple[bool, bool], result: Result) -> None:
    """Play one script line."""
    if kind == "i" and text == "CONNECT":
        try:
            connections[cid] = Connection(host, port)
        except OSError as exc:
            raise ScriptFailure(f"could not connect ({exc})") from exc
    elif kind == "i" and text == "DISCONNECT":
        connections.pop(cid).close()
    elif kind == "e" and text == "CONNECT":
        raise ScriptFailure("eCONNECT (the acceptor connecting to us) is for initiator tests, not supported")
    elif kind == "e" and text == "DISCONNECT":
        connection(connections, cid).wait_disconnect(timeout)
        connections.pop(cid).close()
    elif kind in "IE":
        if "<FILE:" in text:
            raise ScriptFailure("<FILE:...> substitution is not supported")
        message = frame(fill_times(text, dt.datetime.now(dt.timezone.utc)).encode("latin-1"))
        if kind == "I":
            connection(connections, cid).send(message)
            return
        received = connection(connections, cid).read_frame(timeout)
        problem = mismatch(message, received, *compare)
        if problem is not None:
            result.lines = [f"expected: {show(message)}", f"received: {show(received)}"]
            raise ScriptFailure(problem)
    else:
        raise ScriptFailure(f"syntax error: {kind}{text}")


def connection(connections: dict[int, Connection], cid: int) -> Connection:
    if cid not in connections:
        raise ScriptFailure(f"connection {cid} is not open")
    return connections[cid]


# -- the acceptor under test --------------------------------------------------------------------------


class EchoAcceptor:
    """``examples/echo_acceptor.py`` in a subprocess on a free loopback port, its log in ``workdir``."""

    def __init__(self, workdir: Path, sessions: list[str], verbose: int) -> None:
        self.workdir = workdir
        self.log_path = workdir / "acceptor.log"
        self.command = [sys.executable, str(ROOT / "examples" / "echo_acceptor.py"), "--port", "0",
                        "--print-port", "--reset-on-logon", "--store", str(workdir / "echo.db"),
                        "--logon-failure-delay", "0"]  # the scripts fail Logons on purpose, one after another
        for session in sessions:
            self.command += ["--session", session]
        if verbose:
            self.command.append("-vv")
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> int:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, env=env)
        assert self.process.stdout is not None
        if not select.select([self.process.stdout], [], [], timeout)[0]:
            self.stop()
            raise RuntimeError(f"the acceptor printed no port within {timeout:g}s; see {self.log_path}")
        line = self.process.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the acceptor did not start ({line.strip()!r}); see {self.log_path}")
        self.port = int(line.split()[1])
        return self.port

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


# -- command line -------------------------------------------------------------------------------------


def scripts_of(paths: list[str], pattern: str | None) -> list[Path]:
    found: list[Path] = []
    for text in paths:
        p = Path(text)
        found.extend(sorted(p.glob("*.def")) if p.is_dir() else [p])
    return [p for p in found if pattern is None or pattern in p.name]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="+", help=".def files, or directories of them")
    p.add_argument("-k", dest="pattern", help="only the scripts whose file name contains this")
    p.add_argument("--session", dest="sessions", action="append", metavar="BEGIN:SENDER:TARGET",
                   help=f"a session of the acceptor (repeatable; default: {' '.join(DEFAULT_SESSIONS)})")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for each message or disconnection (default: %(default)s)")
    p.add_argument("--isolate", action="store_true", help="a fresh acceptor (and store) for every script")
    p.add_argument("--loose-text", action="store_true", help="leave Text (58) out of the comparison")
    p.add_argument("--strict-order", action="store_true", help="compare the fields in the order sent (the reference runner's rule)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (acceptor log and store)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="acceptor wire log in the work directory")
    args = p.parse_args(argv)
    scripts = scripts_of(args.paths, args.pattern)
    if not scripts:
        print("no .def scripts found", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="fixgw-acceptance-"))
    sessions = args.sessions or list(DEFAULT_SESSIONS)
    acceptor: EchoAcceptor | None = None
    tally: dict[str, list[int]] = {}
    try:
        for path in scripts:
            if acceptor is None or args.isolate:
                if acceptor is not None:
                    acceptor.stop()
                acceptor = EchoAcceptor(workdir, sessions, args.verbose)
                acceptor.start()
            result = play(path, "127.0.0.1", acceptor.port, args.timeout, args.loose_text, args.strict_order)
            counts = tally.setdefault(path.parent.name, [0, 0])
            counts[result.failure is not None] += 1
            print(f"{'PASS' if result.failure is None else 'FAIL'}  {path.parent.name}/{path.name}", flush=True)
            if result.failure is not None:
                for line in [result.failure, *result.lines]:
                    print(f"      {line}", flush=True)
            time.sleep(0.1)  # let the acceptor see the close before the next script logs on again
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        if acceptor is not None:
            acceptor.stop()
    for group, (passed, failed) in tally.items():
        print(f"{group}: {passed} passed, {failed} failed of {passed + failed}")
    if args.keep or args.verbose:
        print(f"work directory: {workdir}")
    else:
        for child in workdir.iterdir():
            child.unlink()
        workdir.rmdir()
    return 0 if all(failed == 0 for _, failed in tally.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
