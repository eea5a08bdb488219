"""Fuzz targets: functions of one ``bytes`` input that raise ``FuzzFailure`` when an invariant breaks.

Used by ``test_fuzz.py`` (a bounded, seeded run in the suite) and by ``tools/fuzz.py`` (the long runs,
with atheris or the same mutator). A target must be deterministic: the same input always does the same
thing, so every failure is replayed from its bytes alone.

``parser``  Bytes (chunking plan and limits from their CRC) fed to the pure and the compiled parser.
            Invariants: no exception; both give the same items however the stream is chunked; every
            byte is accounted for (items' bytes + buffered = input); every Message is well formed; a
            valid message appended after the input is never lost.
``session`` Bytes read as a small program driving one ``Session`` (FIX 4.4 dictionary,
            ``MemoryMessageStore``) as a driver would: peer frames (well formed, mutated, chunked) and
            raw garbage into ``receive_data``, ``on_tick`` with advancing (and sometimes stepped back)
            time, ``send``, ``logout``, ``connection_lost`` / ``connection_made``, EOF.
            Invariants: only ``LocalProtocolError`` escapes, and only from a call that does not fit the
            state (which then changes nothing); store numbers never go backwards except by ``reset``;
            every byte out parses as well-formed frames of our session, each new one already stored;
            a resend drains in bounded calls.
"""

from __future__ import annotations

from typing import Callable

from .common import FuzzFailure, frame
from .parser_target import SENTINEL, parser_target
from .session_target import NS, OUR_ID, T0, WatchedStore, session_target

__all__ = ["FuzzFailure", "TARGETS", "KNOWN_FINDINGS", "known_finding", "parser_target", "session_target",
           "frame", "SENTINEL", "WatchedStore", "OUR_ID", "T0", "NS"]

TARGETS: dict[str, Callable[[bytes], None]] = {"parser": parser_target, "session": session_target}

#: Findings reported but not yet fixed (in files the fuzz suite does not own): (name, error text,
#: frame of the traceback). Each has a strict-xfail regression test in test_fuzz.py; remove the entry
#: together with the xfail marker once it is fixed.
KNOWN_FINDINGS: tuple[tuple[str, str, str], ...] = ()


def known_finding(error: str, trace: str) -> str | None:
    """Return the name of the known finding ``error`` (with its traceback ``trace``) is, or None."""
    for name, text, where in KNOWN_FINDINGS:
        if error.startswith(text) and where in trace:
            return name
    return None
