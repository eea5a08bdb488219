"""The wire log never carries secrets."""

from __future__ import annotations

import logging

from fixgw.codec import encode
from fixgw.session import SessionID
from fixgw.transport.wirelog import WireLog, mask_secrets

SID = SessionID("FIX.4.4", "GW", "CLIENT")


def _logon(password: str) -> bytes:
    return encode("FIX.4.4", "A", [(49, "CLIENT"), (56, "GW"), (34, 1), (52, "20260101-00:00:00.000"),
                                   (98, 0), (108, 30), (553, "alice"), (554, password), (925, "next-" + password)])


def test_wirelog_logon_with_password_logged_without_it(caplog) -> None:
    wire = WireLog(SID)
    with caplog.at_level(logging.INFO, logger="fixgw.wire"):
        frame = _logon("s3cr3t-pw")
        wire.inbound(frame[:20])  # split across reads, as a socket delivers it
        wire.inbound(frame[20:])
        wire.outbound(frame)
    texts = [r.getMessage() for r in caplog.records]
    assert len(texts) == 2
    assert all("s3cr3t-pw" not in t for t in texts)
    assert all("553=alice" in t and "554=***" in t and "925=***" in t for t in texts)


def test_wirelog_mask_secrets_leaves_lookalike_tags_alone() -> None:
    frame = b"8=FIX.4.4\x019=5\x0135=A\x011554=keep\x0155400=keep\x01554=hide\x0110=000\x01"
    assert mask_secrets(frame) == b"8=FIX.4.4\x019=5\x0135=A\x011554=keep\x0155400=keep\x01554=***\x0110=000\x01"
