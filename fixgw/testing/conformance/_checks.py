"""Checks the conformance cases share: a session Reject as FIX 4.2 or 4.4 words it, a resend covering a range,
the resync after a garbled frame."""

from __future__ import annotations

from ..compare import one_of, show
from ..counterparty import Counterparty, Mismatch
from ._case import CaseContext

__all__ = ["OTHER_VERSION", "LAST_42_REASON", "expect_reject", "read_resend", "resend_note",
           "sync_after_garbled"]

OTHER_VERSION = "FIX.4.3"
#: The last SessionRejectReason (373) value FIX 4.2 defines (13 and up came with FIX 4.3).
LAST_42_REASON = 11


def expect_reject(cp: Counterparty, t: CaseContext, ref_seq: int, reasons: tuple[int, ...], ref_tag: int | None = None) -> None:
    """Expect a session Reject of ``ref_seq`` with one of ``reasons``; note the RefTagID (optional)."""
    notes: list[str] = []
    if t.target.begin_string == "FIX.4.2" and min(reasons) > LAST_42_REASON:
        # FIX 4.2 enumerates 373 up to 11 only: a Reject for a later reason may leave 373 out.
        msg = cp.expect("3", {45: ref_seq})
        got = msg.get(373)
        if got is None:
            t.saw("no SessionRejectReason (FIX 4.2 has no code for this)")
        elif got not in {b"%d" % r for r in reasons}:
            raise Mismatch(f"tag 373: expected {'/'.join(map(str, reasons))} or none but was {got.decode('latin-1')}")
        else:
            t.saw(f"Reject 373={got.decode()}")
    else:
        msg = cp.expect("3", {45: ref_seq, 373: one_of(*reasons)}, notes=notes)
    t.notes.extend(f"Reject {n}" for n in notes)
    got_tag = msg.get(371)
    if ref_tag is not None:
        if got_tag is None:
            t.saw("no RefTagID (371, optional)")
        elif got_tag != b"%d" % ref_tag:
            raise Mismatch(f"tag 371: expected {ref_tag} (or no RefTagID) but was {got_tag.decode('latin-1')}")


def read_resend(cp: Counterparty, begin: int, end: int, *, limit: int = 10_000) -> tuple[int, int, list]:
    """Read a resend covering ``begin..end``; return (messages resent, numbers gap-filled, others).

    Every number must be covered once, in order, by a message with PossDupFlag=Y or by a
    SequenceReset-GapFill (123=Y) with PossDupFlag=Y; messages without PossDupFlag (live traffic, such
    as the engine's own ResendRequest) may come in between and are returned as ``others``.
    """
    resent = filled = 0
    others = []
    need = begin
    for _ in range(limit):
        if need > end:
            return resent, filled, others
        msg = cp.next_frame()
        if msg is None:
            raise Mismatch(f"disconnected during the resend, {need}..{end} not covered")
        if msg.get(43) != b"Y":
            others.append(msg)
            continue
        seq = int(msg.get(34) or b"0")
        if seq != need:
            raise Mismatch(f"resend: MsgSeqNum {seq} received, {need} expected next", received=msg.raw.decode("latin-1"))
        mt = msg.get(35)
        if mt == b"4":
            if msg.get(123) != b"Y":
                raise Mismatch("resend: a SequenceReset without GapFillFlag=Y", received=msg.raw.decode("latin-1"))
            new = int(msg.get(36) or b"0")
            if new <= seq:
                raise Mismatch(f"resend: GapFill NewSeqNo {new} not above its MsgSeqNum {seq}")
            filled += new - seq
            need = new
        else:
            if mt in (b"0", b"1", b"2", b"5", b"A"):
                raise Mismatch(f"resend: admin message 35={mt.decode()} resent instead of gap-filled")
            if msg.get(122) is None:
                raise Mismatch("resend: a resent message without OrigSendingTime (122)")
            resent += 1
            need = seq + 1
    raise Mismatch("resend never ended")


def resend_note(t: CaseContext, resent: int, filled: int) -> None:
    t.saw(f"{resent} message(s) resent, {filled} number(s) gap-filled")


def sync_after_garbled(t: CaseContext, cp: Counterparty, seq: int) -> None:
    """After a garbled frame, the next message, numbered ``seq``, must be processed; then ``seq + 1``.

    FIX says a garbled message is ignored, its number not counted, and messages go on being accepted; it
    does not say where a garbled frame ends when its framing is broken. An engine may discard the bytes
    that came right behind it with it. So when the TestRequest sent next gets no answer within a short
    wait, it is sent again as a PossDup resend with the same number and OrigSendingTime: an engine that
    did process the first ignores the resend (test case 2e) and answers the first; one that lost it
    processes the resend. Either way ``seq`` must still be the number expected (the garbled frame did
    not count), and the next message, ``seq + 1``, is then answered too.
    """
    first, sent_at = t.test_id(), t.timestamp()
    cp.send("1", [(112, first)], seq=seq, sending_time=sent_at)
    try:
        cp.expect("0", {112: first}, timeout=min(2.0, t.target.timeout))
    except Mismatch as exc:
        if not exc.problem.startswith("nothing received"):
            raise
        second = t.test_id()
        cp.send("1", [(112, second)], seq=seq, poss_dup=True, orig_sending_time=sent_at)
        msg = cp.expect("0", {112: one_of(first, second)})
        if msg.get(112) == second.encode():
            t.saw(f"the message sent right after the garbled frame was lost with it; its PossDup resend "
                  f"({seq}) was processed")
        else:
            t.saw(f"a slow answer to {show(first)}; the PossDup resend was ignored")
    t.sync(cp, seq=seq + 1)
