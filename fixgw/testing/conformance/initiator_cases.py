"""Session test cases played against an initiator that connects to us (``fixgw conformance --initiator``).

The initiator under test connects to our listening port and logs on; we answer as an acceptor would.
The cases then share that one session, in order, so the initiator need not reconnect between them
(its reconnect interval may be long); a case that needs a session after one was ended waits for the
initiator to come back. Our outbound numbers go on across reconnections, unless its Logon asks for
a reset (141=Y). Its Heartbeats are passed over and its TestRequests answered by the counterparty.
"""

from __future__ import annotations

from ..compare import ANY, Expected, compare
from ..counterparty import Counterparty, Mismatch
from ._case import CaseContext, case
from ._checks import read_resend, sync_after_garbled

__all__ = ["session"]

_ROLE = "initiator"


def session(t: CaseContext) -> Counterparty:
    """The live session with the initiator: the one of the last case, or a new one when it ended."""
    cp: Counterparty | None = t.shared.get("session")
    if cp is not None and not cp.eof:
        return cp
    target = t.target
    if target.listener is None:
        raise Mismatch("initiator cases need a listening socket (--initiator)")
    previous_next = cp.next_seq if cp is not None else 1
    cp = Counterparty.listen(target.listener, target.begin_string, sender=target.sender, target=target.target,
                             accept_timeout=target.slow_timeout * 2, rules=target.rules, timeout=target.timeout,
                             skip_heartbeats=True, answer_test_requests=True)
    t.shared["session"] = cp
    cp.check_numbering = False
    logon = cp.next_frame(target.slow_timeout)
    if logon is None:
        raise Mismatch("the initiator connected and closed without a Logon")
    problem = compare(Expected.of("A", {98: 0, 108: ANY, 34: ANY}), logon, target.rules)
    if problem is not None:
        raise Mismatch(f"its first message: {problem}", received=logon.raw.decode("latin-1"))
    reset = logon.get(141) == b"Y"
    cp.next_seq = 1 if reset else previous_next
    cp.expected_seq = int(logon.get(34) or b"1") + 1
    cp.check_numbering = True
    answer = [(98, 0), (108, logon.get(108))] + ([(141, "Y")] if reset else [])
    cp.send("A", answer)
    t.shared["logon"] = logon
    return cp


def _sync(t: CaseContext, cp: Counterparty) -> None:
    t.sync(cp)


@case("1-S", "InitiatorLogon", "The initiator's first message is a Logon (EncryptMethod 0, HeartBtInt)", role=_ROLE)
def _i1(t: CaseContext) -> None:
    cp = session(t)
    logon = t.shared["logon"]
    t.saw(f"HeartBtInt {logon.get(108).decode()}, MsgSeqNum {logon.get(34).decode()}"
          + (", ResetSeqNumFlag=Y" if logon.get(141) == b"Y" else ""))
    _sync(t, cp)


@case("4-b", "ReceivedTestRequest", "A TestRequest is answered by a Heartbeat with its TestReqID", role=_ROLE)
def _i4b(t: CaseContext) -> None:
    _sync(t, session(t))


@case("5", "ReceiveHeartbeat", "A Heartbeat is accepted without an answer", role=_ROLE)
def _i5(t: CaseContext) -> None:
    cp = session(t)
    cp.send("0")
    _sync(t, cp)


@case("7", "ReceiveReject", "A session Reject is accepted and the session goes on", role=_ROLE)
def _i7(t: CaseContext) -> None:
    cp = session(t)
    cp.send("3", [(45, 1), (58, "conformance test reject")])
    _sync(t, cp)


@case("2-b", "MsgSeqNumTooHigh", "A message numbered too high gets a ResendRequest", role=_ROLE)
def _i2b(t: CaseContext) -> None:
    cp = session(t)
    expected = cp.next_seq
    test_id = t.test_id()
    cp.send("1", [(112, test_id)], seq=expected + 3)
    cp.expect("2", {7: expected})
    cp.send("4", [(123, "Y"), (36, expected + 3)], seq=expected, poss_dup=True)
    cp.expect("0", {112: test_id})


@case("2-d", "GarbledMessage", "Bytes that are not a FIX frame are ignored", role=_ROLE)
def _i2d(t: CaseContext) -> None:
    cp = session(t)
    cp.send_raw(b"garbage\x01that is not\x01a FIX frame\x01")
    sync_after_garbled(t, cp, cp.next_seq)


@case("3-b", "InvalidChecksum", "A frame with a wrong CheckSum is ignored", role=_ROLE)
def _i3b(t: CaseContext) -> None:
    cp = session(t)
    seq = cp.next_seq
    bad = cp.build("1", [(112, "BADSUM")], seq=seq)
    cp.send_raw(bad[:-4] + b"%03d\x01" % ((int(bad[-4:-1]) + 1) % 256))
    sync_after_garbled(t, cp, seq)


@case("8", "ResendRequest", "A ResendRequest is answered by resent messages and GapFills", role=_ROLE)
def _i8(t: CaseContext) -> None:
    cp = session(t)
    _sync(t, cp)
    first = int(t.shared["logon"].get(34) or b"1")
    last = cp.expected_seq - 1
    cp.send("2", [(7, first), (16, 0)])
    resent, filled, _ = read_resend(cp, first, last)
    t.saw(f"{resent} message(s) resent, {filled} number(s) gap-filled")
    _sync(t, cp)


@case("10-b", "GapFillAtExpected", "A GapFill numbered as expected moves the expected number", role=_ROLE)
def _i10(t: CaseContext) -> None:
    cp = session(t)
    seq = cp.next_seq
    cp.send("4", [(123, "Y"), (36, seq + 5)], seq=seq, poss_dup=True)
    t.sync(cp, seq=seq + 5)


@case("11-a", "SequenceResetNewSeqNoGreater", "A SequenceReset-Reset moves the expected number up", role=_ROLE)
def _i11a(t: CaseContext) -> None:
    cp = session(t)
    seq = cp.next_seq
    cp.send("4", [(36, seq + 10)], seq=seq)
    t.sync(cp, seq=seq + 10)


@case("14-b", "RequiredFieldMissing", "A required field missing: Reject 373=1", role=_ROLE)
def _i14b(t: CaseContext) -> None:
    cp = session(t)
    seq = cp.next_seq
    cp.send("1", [], seq=seq)
    msg = cp.expect("3", {45: seq, 373: 1})
    if msg.get(371) not in (None, b"112"):
        raise Mismatch(f"tag 371: expected 112 (or no RefTagID) but was {msg.get(371)!r}")
    _sync(t, cp)


@case("13-b", "UnsolicitedLogout", "A Logout is answered with a Logout", role=_ROLE)
def _i13b(t: CaseContext) -> None:
    cp = session(t)
    cp.send("5")
    cp.expect("5")
    cp.finish(timeout=t.target.timeout)
