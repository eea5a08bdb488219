"""fixgw.testing: a kit for testing FIX engines, fixgw's own or anyone's (docs/testing.md).

- ``SessionPair`` (``pair``): two sans-I/O sessions back to back on a fake clock, with a link that drops,
  delays, duplicates, reorders or garbles frames; ``advance`` time; ``check_invariants`` (no gap left
  unfilled, every application message delivered once, heartbeats on time).
- ``ScriptedPeer`` and ``PeerStep`` (``peer``): a hand-written counterparty of one sans-I/O session that
  plays gaps, duplicates, PossDup resends, resets, garbled frames and waits, and answers resends.
- ``strategies``: hypothesis strategies (valid messages of any FIX 4.2/4.4 type, field values by type,
  garbled frames, peer step sequences). Needs hypothesis: ``pip install fixgw[testing]``; it is
  imported only when ``fixgw.testing.strategies`` is.
- ``Counterparty``, ``Rules``, ``Expected`` (``counterparty``, ``compare``): a scripted counterparty over
  TCP, "send this, expect that", with the comparison rules explicit (field order, timestamps, texts).
- ``conformance``: the FIX Session Layer test cases against any acceptor or initiator
  (``fixgw conformance``), PASS/FAIL per case and JUnit XML.
- ``replay``: a recorded wire log fed into a sans-I/O session, every state change and event printed
  (``fixgw replay``).
"""

from __future__ import annotations

from typing import Any

from .compare import ANY, Expected, Rules, compare, one_of
from .counterparty import Counterparty, Expect, ExpectDisconnect, Mismatch, Send, play
from .pair import NS, T0, InvariantError, Link, SessionPair
from .peer import PeerStep, ScriptedPeer

__all__ = [
    "SessionPair",
    "Link",
    "InvariantError",
    "ScriptedPeer",
    "PeerStep",
    "Counterparty",
    "Mismatch",
    "Send",
    "Expect",
    "ExpectDisconnect",
    "play",
    "Rules",
    "Expected",
    "ANY",
    "one_of",
    "compare",
    "NS",
    "T0",
    "strategies",
]


def __getattr__(name: str) -> Any:
    if name == "strategies":  # hypothesis is needed only by those who use it
        import importlib

        return importlib.import_module(f"{__name__}.strategies")
    raise AttributeError(f"module 'fixgw.testing' has no attribute {name!r}")
