"""The conformance runner against a QuickFIX acceptor: every case passes or shows its documented deviation.

QuickFIX is not installed in CI (its Python package builds the C++ engine, ~8 minutes), so these tests
are skipped unless an interpreter with ``quickfix`` is found: this one, or the one named by
``FIXGW_QUICKFIX_PYTHON``::

    FIXGW_QUICKFIX_PYTHON=/path/to/venv-with-quickfix/bin/python \\
        .venv/bin/python -m pytest tests/testing/test_conformance_quickfix.py

The acceptor (``quickfix_engine.py`` next to this file) runs in its own process under that
interpreter. ``KNOWN_DEVIATIONS`` is the table "Known results against QuickFIX 1.16" of docs/testing.md:
a case listed there must fail with that difference, every other case must pass.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from fixgw.testing.conformance import Target, run_cases, select_cases

HERE = Path(__file__).parent


def _quickfix_python() -> str | None:
    named = os.environ.get("FIXGW_QUICKFIX_PYTHON")
    if named:
        return named
    return sys.executable if importlib.util.find_spec("quickfix") is not None else None


QUICKFIX_PYTHON = _quickfix_python()
pytestmark = pytest.mark.skipif(
    QUICKFIX_PYTHON is None,
    reason="quickfix is not importable here and FIXGW_QUICKFIX_PYTHON is not set (see docs/testing.md)")

#: case -> the start of its first failure line, as QuickFIX 1.16 answers (docs/testing.md).
KNOWN_DEVIATIONS = {
    "2-f_PossDupOrigSendingTimeTooHigh": "the PossDup message numbered as expected was processed as a new one",
    "2-g_PossDupNoOrigSendingTime": "the PossDup message numbered as expected was processed as a new one",
    "10-e_GapFillNewSeqNoEqual": "no Reject for a GapFill with NewSeqNo 2 = its MsgSeqNum 2",
    "20_ResendRequestRevealsGap": "the request was served, but no ResendRequest came for the gap 3..4",
}


@contextlib.contextmanager
def _quickfix(work: Path, *args: str) -> Iterator[str]:
    """Run ``quickfix_engine.py`` with ``args``; yield its first line; stop it (stdin closed) afterwards."""
    proc = subprocess.Popen([str(QUICKFIX_PYTHON), str(HERE / "quickfix_engine.py"), "--dir", str(work), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(("listening ", "started")):
            pytest.fail(f"the QuickFIX engine did not start: {line}{proc.stdout.read()}")
        yield line
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def quickfix_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with _quickfix(tmp_path_factory.mktemp("quickfix")) as line:
        yield int(line.split()[1])


@pytest.mark.parametrize("begin", ("FIX.4.2", "FIX.4.4"))
def test_conformance_quickfix_acceptor_passes_or_shows_documented_deviation(begin: str, quickfix_port: int) -> None:
    target = Target(begin, "TESTER", "QFGW", port=quickfix_port, timeout=3.0, slow_timeout=10.0)
    results = {r.case.full_name: r for r in run_cases(select_cases(begin), target)}
    unexpected = ["\n".join(r.lines()) for name, r in results.items() if not r.passed and name not in KNOWN_DEVIATIONS]
    assert unexpected == []
    for name, start in KNOWN_DEVIATIONS.items():
        result = results[name]
        assert not result.passed, f"{name} now passes against QuickFIX: update docs/testing.md"
        assert result.failure[0].startswith(start), result.lines()
    # Where the specification allows two behaviours, the case says which QuickFIX showed.
    assert results["20_SimultaneousResendRequest"].notes[-1] == "its first ResendRequest stood"
    assert "EndSeqNo 0" in results["2-b_MsgSeqNumTooHigh"].notes
    assert results["1B-c_InvalidTargetCompID"].notes == ["disconnected"]
    # QuickFIX drops its whole buffer at a BodyLength that is not a number: the frame behind it too, when
    # both came in one read (a matter of timing), and the kit then resends that frame as PossDup.
    lost = "the message sent right after the garbled frame was lost with it; its PossDup resend (2) was processed"
    assert results["3-c_GarbledHeader"].notes in ([], [lost])
    assert results["2-t_FirstThreeFieldsOutOfOrder"].notes == []


@pytest.mark.parametrize("begin", ("FIX.4.2", "FIX.4.4"))
def test_conformance_quickfix_initiator_every_case_passes(begin: str, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        target = Target(begin, "TESTER", "QFGW", timeout=3.0, slow_timeout=10.0, listener=listener)
        with _quickfix(tmp_path, "--initiator", str(listener.getsockname()[1]), "--begin", begin):
            results = run_cases(select_cases(begin, role="initiator"), target)
    assert len(results) >= 10
    assert ["\n".join(r.lines()) for r in results if not r.passed] == []
    assert results[0].notes[0].startswith("HeartBtInt 30, MsgSeqNum ")
