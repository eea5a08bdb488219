"""The seed corpus: one frame of each message type for the parser, diverse programs for the session.

``tools/fuzz.py --write-corpus`` writes them to ``corpus/``; the files are kept in the repository so
a change here shows in review. Parser seeds are plain FIX bytes; session seeds are programs for
``targets.session_target`` chosen greedily for the variety of what they make the session do.
"""

from __future__ import annotations

import random
import re
from typing import Any

from fixgw.codec import encode

from .targets import frame, session_target

__all__ = ["parser_seeds", "session_seeds"]

TS = b"20240102-03:04:05.678"


def _hdr(seq: int = 2, sender: bytes = b"CLIENT", target: bytes = b"GW") -> list[tuple[int, Any]]:
    return [(49, sender), (56, target), (34, seq), (52, TS)]


def _f(msg_type: bytes, body: list[tuple[int, Any]], begin: bytes = b"FIX.4.4", seq: int = 2) -> bytes:
    return encode(begin, msg_type, _hdr(seq) + body)


def parser_seeds() -> dict[str, bytes]:
    """Name -> frame(s): every session message, the order flow, groups, data fields, odd cases."""
    order = [(11, b"ORD-1"), (1, b"ACC"), (55, b"BTCUSDT"), (54, b"1"), (60, TS), (38, b"0.0015"), (40, b"2"),
             (44, b"97000.5"), (59, b"1")]
    er44 = [(37, b"OID1"), (11, b"ORD-1"), (17, b"E1"), (150, b"F"), (39, b"1"), (55, b"BTCUSDT"), (54, b"1"),
            (38, b"0.0015"), (32, b"0.0005"), (31, b"97000"), (151, b"0.001"), (14, b"0.0005"), (6, b"97000")]
    er42 = [(37, b"OID1"), (11, b"ORD-1"), (17, b"E1"), (20, b"0"), (150, b"2"), (39, b"2"), (55, b"BTCUSDT"),
            (54, b"2"), (38, b"1"), (32, b"1"), (31, b"100"), (151, b"0"), (14, b"1"), (6, b"100")]
    news_data = b"line1\x01line2=\x01"
    seeds = {
        "logon": _f(b"A", [(98, 0), (108, 30), (141, b"Y")], seq=1),
        "logon_user": _f(b"A", [(98, 0), (108, 30), (553, b"user"), (554, b"secret"), (789, 5)], seq=1),
        "heartbeat": _f(b"0", []),
        "heartbeat_test_id": _f(b"0", [(112, b"TEST1")]),
        "test_request": _f(b"1", [(112, b"TEST1")]),
        "resend_request": _f(b"2", [(7, 1), (16, 0)]),
        "reject": _f(b"3", [(45, 5), (371, 54), (372, b"D"), (373, 5), (58, b"Value is incorrect")]),
        "gap_fill": _f(b"4", [(43, b"Y"), (122, TS), (123, b"Y"), (36, 10)]),
        "sequence_reset": _f(b"4", [(36, 20)]),
        "logout": _f(b"5", [(58, b"bye")]),
        "new_order": _f(b"D", order),
        "cancel": _f(b"F", [(41, b"ORD-1"), (11, b"ORD-2"), (55, b"BTCUSDT"), (54, b"1"), (60, TS)]),
        "replace": _f(b"G", [(41, b"ORD-1"), (11, b"ORD-3"), *order[2:]]),
        "status": _f(b"H", [(11, b"ORD-1"), (55, b"BTCUSDT"), (54, b"1")]),
        "exec_report_44": _f(b"8", er44),
        "exec_report_42": _f(b"8", er42, begin=b"FIX.4.2"),
        "cancel_reject": _f(b"9", [(37, b"OID1"), (11, b"ORD-2"), (41, b"ORD-1"), (39, b"8"), (434, b"1"), (102, 1)]),
        "business_reject": _f(b"j", [(45, 3), (372, b"ZZ"), (380, 3), (58, b"unsupported")]),
        "mass_cancel": _f(b"q", [(11, b"MC1"), (530, b"7"), (60, TS)]),
        "md_request": _f(b"V", [(262, b"MD1"), (263, b"1"), (264, 1), (267, 2), (269, b"0"), (269, b"1"),
                                (146, 2), (55, b"BTCUSDT"), (55, b"ETHUSDT")]),
        "md_snapshot": _f(b"W", [(262, b"MD1"), (55, b"BTCUSDT"), (268, 2), (269, b"0"), (270, b"97000"),
                                 (271, b"1.5"), (269, b"1"), (270, b"97001"), (271, b"0.2")]),
        "news_raw_data": _f(b"B", [(148, b"news"), (33, 1), (58, b"t"), (95, len(news_data)), (96, news_data)]),
        "xml_data": _f(b"0", [(212, 6), (213, b"<a\x01b/>")]),
        "encoded_text": _f(b"3", [(45, 2), (373, 1), (354, 4), (355, b"\xe4\xb8\x80\x01")]),
        "signature_trailer": _f(b"0", [(93, 3), (89, b"s\x01g")]),
        "malformed_field": frame(b"FIX.4.4", b"35=D\x0149=CLIENT\x0156=GW\x0134=2\x010=x\x0111=O\x01"),
        "two_frames": _f(b"0", []) + _f(b"1", [(112, b"T")], seq=3),
        "checksum_wrong": _f(b"0", [])[:-4] + b"000\x01" + _f(b"0", [], seq=3),
        "garbage_then_frame": b"\x00junk\r\n8=FI" + _f(b"0", []),
    }
    return seeds


def _features(trace: list[str]) -> set[tuple]:
    out: set[tuple] = set()
    for line in trace:
        if line.startswith("op "):
            op, state = line.split()[1:3]
            out.add(("op", op, state))
        elif line.startswith("   event "):
            out.add(("event", line.split()[1].split("(")[0], line[-40:] if "Rejected" in line else ""))
        elif line.startswith("   out "):
            out.update(("out", t) for t in re.findall(r"\\x0135=([^\\]*)\\x01", line))
    return out


def session_seeds(count: int = 40, seed: int = 7, candidates: int = 3000) -> list[bytes]:
    """Pick ``count`` programs out of ``candidates`` random ones, each adding the most new behaviour."""
    rng = random.Random(seed)
    pool = []
    for _ in range(candidates):
        data = rng.randbytes(40 + rng.randrange(200))
        trace: list[str] = []
        try:
            session_target(data, trace)
        except Exception:  # noqa: BLE001 - a failing program is a finding, not a seed
            continue
        pool.append((data, _features(trace)))
    chosen: list[bytes] = []
    seen: set[tuple] = set()
    while pool and len(chosen) < count:
        best = max(pool, key=lambda p: len(p[1] - seen))
        if not best[1] - seen:
            break
        chosen.append(best[0])
        seen |= best[1]
        pool.remove(best)
    return chosen
