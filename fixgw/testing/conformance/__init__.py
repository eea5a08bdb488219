"""FIX Session Layer conformance cases, written from the FIX specification, runnable against any engine.

::

    fixgw conformance --host 127.0.0.1 --port 9878 --begin FIX.4.4 --sender CLIENT --target ECHO --junit out.xml

or from Python::

    from fixgw.testing.conformance import Target, select_cases, run_cases
    results = run_cases(select_cases("FIX.4.4"), Target("FIX.4.4", "CLIENT", "ECHO", port=9878))
    assert all(r.passed for r in results), [r.lines() for r in results if not r.passed]

``acceptor_cases`` test an acceptor (each case connects and logs on with ResetSeqNumFlag=Y);
``initiator_cases`` test an initiator that connects to a port we listen on (the cases share one
session, reconnecting when a case ended it). A case where the specification allows two behaviours
accepts both and its PASS line says which it saw.
"""

from __future__ import annotations

from ._case import CASES, Case, CaseContext, Target, case
from .runner import CaseResult, run_case, run_cases, select_cases, write_junit

__all__ = ["CASES", "Case", "CaseContext", "Target", "case", "CaseResult", "run_case", "run_cases", "select_cases",
           "write_junit"]
