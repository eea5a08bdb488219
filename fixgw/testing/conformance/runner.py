"""Run conformance cases against an engine; print PASS/FAIL per case; write JUnit XML; ``fixgw conformance``.

Exit status of the command: 0 when every case passed, 1 when one failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Iterable, Sequence

from ...logsafe import printable
from ..compare import Rules
from ..counterparty import Mismatch
from ._case import CASES, Case, CaseContext, Target

__all__ = ["CaseResult", "select_cases", "run_case", "run_cases", "write_junit", "add_arguments", "run", "main"]


@dataclass
class CaseResult:
    """The outcome of one case: passed or not, the difference, what was seen, how long it took."""

    case: Case
    begin_string: str
    passed: bool
    seconds: float
    failure: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"{'PASS' if self.passed else 'FAIL'}  {self.begin_string} {self.case.full_name}"
        if self.notes:
            head += f"  ({printable('; '.join(self.notes))})"
        return [head, *(f"      {printable(line)}" for line in self.failure)]


def _load_cases() -> None:
    from . import acceptor_cases, acceptor_cases_session, initiator_cases  # noqa: F401 - importing registers


def select_cases(begin_string: str, role: str = "acceptor", patterns: Iterable[str] = ()) -> list[Case]:
    """The cases for an engine of ``role`` on ``begin_string``; ``patterns`` match ids or names (any case)."""
    _load_cases()
    wanted = [p.lower() for p in patterns]
    out = []
    for c in CASES:
        if c.role != role or begin_string not in c.versions:
            continue
        if wanted and not any(p == c.id.lower() or p in c.full_name.lower() for p in wanted):
            continue
        out.append(c)
    return out


def run_case(c: Case, target: Target, shared: dict | None = None) -> CaseResult:
    """Play one case; a ``Mismatch`` is a failure, and so is any other error (with its type)."""
    t = CaseContext(target, shared)
    started = time.monotonic()
    failure: list[str] = []
    try:
        c.run(t)
    except Mismatch as exc:
        failure = exc.lines()
    except (OSError, TimeoutError, ValueError) as exc:
        failure = [f"{type(exc).__name__}: {exc}"]
    finally:
        if shared is None:
            t.close_all()
    return CaseResult(c, target.begin_string, not failure, time.monotonic() - started, failure, t.notes)


def run_cases(cases: Sequence[Case], target: Target, out: IO[str] | None = None) -> list[CaseResult]:
    """Run ``cases`` in order, printing each result to ``out`` as it comes."""
    results = []
    shared: dict | None = {} if target.listener is not None else None
    for c in cases:
        result = run_case(c, target, shared)
        results.append(result)
        if out is not None:
            print("\n".join(result.lines()), file=out, flush=True)
        if shared is None:
            time.sleep(0.02)  # let the engine see the close before the next case logs on
    if shared:
        session = shared.get("session")
        if session is not None:
            session.close()
    return results


def write_junit(results: Sequence[CaseResult], path: str | Path, suite_name: str = "fixgw conformance") -> None:
    """Write ``results`` as a JUnit XML file (one testsuite per BeginString)."""
    root = ET.Element("testsuites", name=suite_name)
    by_version: dict[str, list[CaseResult]] = {}
    for r in results:
        by_version.setdefault(r.begin_string, []).append(r)
    for version, rs in by_version.items():
        suite = ET.SubElement(root, "testsuite", name=f"{suite_name} {version}", tests=str(len(rs)),
                              failures=str(sum(not r.passed for r in rs)), errors="0",
                              time=f"{sum(r.seconds for r in rs):.3f}")
        for r in rs:
            tc = ET.SubElement(suite, "testcase", classname=f"conformance.{version.replace('.', '_')}.{r.case.role}",
                               name=r.case.full_name, time=f"{r.seconds:.3f}")
            if not r.passed:
                failure = ET.SubElement(tc, "failure", message=printable(r.failure[0] if r.failure else "failed"))
                failure.text = "\n".join(printable(line) for line in r.failure)
            if r.notes:
                ET.SubElement(tc, "system-out").text = "; ".join(printable(n) for n in r.notes)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


# -- the command ------------------------------------------------------------------------------------------

DESCRIPTION = ("Run the FIX Session Layer test cases against an acceptor (or, with --initiator, an initiator "
               "that connects to us) and print PASS/FAIL per case with the message that differed.")


def add_arguments(p: argparse.ArgumentParser, port_type: type | None = None) -> None:
    """Add the options of ``fixgw conformance`` to ``p``."""
    port = port_type or int
    p.add_argument("--host", default="127.0.0.1", help="the acceptor's address (default: %(default)s)")
    p.add_argument("--port", type=port, help="the acceptor's port (required unless --initiator)")
    p.add_argument("--begin", choices=("FIX.4.2", "FIX.4.4"), default="FIX.4.4", help="BeginString (default: %(default)s)")
    p.add_argument("--sender", help="our SenderCompID (the engine's TargetCompID; required)")
    p.add_argument("--target", help="our TargetCompID (the engine's SenderCompID; required)")
    p.add_argument("--case", dest="cases", action="append", default=[], metavar="ID|NAME",
                   help="run only the cases with this id (2-b) or whose name contains this (repeatable)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML to FILE")
    p.add_argument("--initiator", action="store_true", help="test an initiator: listen and let it connect")
    p.add_argument("--listen-port", type=port, default=0, help="port to listen on with --initiator (default: any)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each message (default: %(default)s)")
    p.add_argument("--slow-timeout", type=float, default=15.0,
                   help="seconds to wait where an engine may answer only at its logon timeout (default: %(default)s)")
    p.add_argument("--heartbeat", type=int, default=1,
                   help="HeartBtInt of the heartbeat and TestRequest timing cases (default: %(default)s)")
    p.add_argument("--username", help="Username (553) for our Logons")
    p.add_argument("--password-env", metavar="VAR", help="read the Password (554) for our Logons from this variable")
    p.add_argument("--strict-order", action="store_true", help="compare field order strictly (default: sections)")
    p.add_argument("--text", choices=("ignore", "contains", "exact"), default="ignore",
                   help="how Text (58) is compared where a case names one (default: %(default)s)")


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run ``fixgw conformance`` with parsed ``args``."""
    out = out or sys.stdout
    err = err or sys.stderr
    role = "initiator" if args.initiator else "acceptor"
    cases = select_cases(args.begin, role, args.cases)
    if args.list:
        for c in select_cases(args.begin, role):
            print(f"{c.full_name:45} {c.summary}", file=out)
        return 0
    if not (args.sender and args.target):
        print("fixgw conformance: --sender and --target are required", file=err)
        return 2
    if not cases:
        print(f"fixgw conformance: no case matches {', '.join(args.cases)}", file=err)
        return 2
    if not args.initiator and args.port is None:
        print("fixgw conformance: --port is required (or --initiator)", file=err)
        return 2
    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            print(f"fixgw conformance: ${args.password_env} is not set", file=err)
            return 2
    rules = Rules(field_order="strict" if args.strict_order else "sections", text=args.text)
    target = Target(args.begin, args.sender, args.target, host=args.host, port=args.port or 0, timeout=args.timeout,
                    slow_timeout=args.slow_timeout, short_heartbeat=args.heartbeat, rules=rules,
                    username=args.username, password=password)
    listener = None
    if args.initiator:
        try:
            listener = socket.create_server((args.host, args.listen_port))
        except OSError as exc:
            print(f"fixgw conformance: cannot listen on {args.host}:{args.listen_port}: {exc.strerror or exc}", file=err)
            return 2
        target = replace(target, listener=listener)
        print(f"listening on {args.host}:{listener.getsockname()[1]} for the initiator", file=out, flush=True)
    started = time.monotonic()
    try:
        results = run_cases(cases, target, out)
    finally:
        if listener is not None:
            listener.close()
    failed = sum(not r.passed for r in results)
    print(f"{args.begin} {role}: {len(results) - failed} passed, {failed} failed of {len(results)} "
          f"({time.monotonic() - started:.1f}s)", file=out)
    if args.junit:
        try:
            write_junit(results, args.junit)
        except OSError as exc:
            print(f"fixgw conformance: cannot write {args.junit}: {exc.strerror or exc}", file=err)
            return 2
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fixgw conformance`` with ``argv`` (without the program name)."""
    p = argparse.ArgumentParser(prog="fixgw conformance", description=DESCRIPTION)
    add_arguments(p)
    return run(p.parse_args(argv))
