"""The FIX Session Layer test cases, played against an acceptor (written from the FIX specification).

Each case is named by its test-case id in the specification's "Session-level test cases and expected
behaviors" (1B..21) and a short name. Every case logs on with ResetSeqNumFlag(141)=Y, so it starts at
MsgSeqNum 1 on both sides. Where the specification lets an engine behave two ways (a Logout before a
disconnect or a silent one; EndSeqNo 0 or 999999 or the last number; a RefTagID or none), the case
accepts both and records which it saw. Where it says nothing (where a garbled frame ends), the case
tolerates what a careful engine may do: the frame behind a garbled one lost with it is resent as
PossDup (``sync_after_garbled``). Application messages the acceptor sends (an ExecutionReport, an echo,
a BusinessMessageReject) are passed over: the cases test the session layer only.
"""

from __future__ import annotations

from ..compare import one_of
from ..counterparty import Counterparty, Mismatch
from ._case import CaseContext, case
from ._checks import OTHER_VERSION, expect_reject, sync_after_garbled

__all__: list[str] = []


# -- 1B: receive Logon ---------------------------------------------------------------------------------------


@case("1B-a", "ValidLogon", "A valid Logon is answered with a Logon (HeartBtInt echoed)")
def _1a(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp)
    t.logout(cp)


@case("1B-b", "DuplicateIdentity", "A second Logon for a live session is refused; the first goes on")
def _1b(t: CaseContext) -> None:
    first = t.logon()
    second = t.connect(check_numbering=False)
    second.send("A", t.logon_fields(t.target.heartbeat_interval, reset=False), seq=1)
    t.saw("second connection: " + second.expect_disconnect(timeout=t.target.slow_timeout, allow=(b"5",)))
    t.sync(first)
    t.logout(first)


@case("1B-c", "InvalidTargetCompID", "A Logon naming an unknown TargetCompID is refused")
def _1c_target(t: CaseContext) -> None:
    cp = t.connect(check_numbering=False)  # a refused Logon resets nothing: its answer is numbered freely
    cp.send("A", t.logon_fields(t.target.heartbeat_interval), seq=1, target=t.target.target + "X")
    t.saw(cp.expect_disconnect(timeout=t.target.slow_timeout, allow=(b"3", b"5")))


@case("1B-c", "InvalidSenderCompID", "A Logon from an unknown SenderCompID is refused")
def _1c_sender(t: CaseContext) -> None:
    cp = t.connect(check_numbering=False)  # a refused Logon resets nothing: its answer is numbered freely
    cp.send("A", t.logon_fields(t.target.heartbeat_interval), seq=1, sender=t.target.sender + "X")
    t.saw(cp.expect_disconnect(timeout=t.target.slow_timeout, allow=(b"3", b"5")))


@case("1B-d", "InvalidLogonBadSendingTime", "A Logon whose SendingTime is an hour off is refused")
def _1d_time(t: CaseContext) -> None:
    cp = t.connect(check_numbering=False)  # a refused Logon resets nothing: its answer is numbered freely
    cp.send("A", t.logon_fields(t.target.heartbeat_interval), seq=1, sending_time=t.timestamp(-3600))
    t.saw(cp.expect_disconnect(timeout=t.target.slow_timeout, allow=(b"3", b"5")))


@case("1B-d", "InvalidLogonWrongBeginString", "A Logon with another BeginString is refused")
def _1d_begin(t: CaseContext) -> None:
    cp = t.connect(check_numbering=False)  # a refused Logon resets nothing: its answer is numbered freely
    cp.send("A", t.logon_fields(t.target.heartbeat_interval), seq=1, begin=OTHER_VERSION)
    t.saw(cp.expect_disconnect(timeout=t.target.slow_timeout, allow=(b"3", b"5")))


@case("1B-d", "InvalidLogonLengthInvalid", "A garbled Logon (wrong BodyLength) is not answered; the link closes")
def _1d_length(t: CaseContext) -> None:
    cp = t.connect(check_numbering=False)  # a refused Logon resets nothing: its answer is numbered freely
    logon = cp.build("A", t.logon_fields(t.target.heartbeat_interval), seq=1)
    cp.send_raw(logon.replace(b"\x019=", b"\x019=1", 1))
    t.saw(cp.expect_disconnect(timeout=t.target.slow_timeout, allow=()))


@case("1B-e", "FirstMessageNotLogon", "A first message other than Logon is not accepted; the link closes")
def _1e(t: CaseContext) -> None:
    cp = t.connect(check_numbering=False)  # a refused Logon resets nothing: its answer is numbered freely
    cp.send("1", [(112, t.test_id())], seq=1)
    t.saw(cp.expect_disconnect(timeout=t.target.slow_timeout, allow=(b"3", b"5")))


# -- 2: the standard header ------------------------------------------------------------------------------


@case("2-a", "MsgSeqNumCorrect", "A message numbered as expected is accepted")
def _2a(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("2-b", "MsgSeqNumTooHigh", "A message numbered too high gets a ResendRequest; after the gap fill it is processed")
def _2b(t: CaseContext) -> None:
    cp = t.logon()
    test_id = t.test_id()
    cp.send("1", [(112, test_id)], seq=5)
    notes: list[str] = []
    cp.expect("2", {7: 2, 16: one_of(0, 4, 999999)}, notes=notes)
    t.saw("EndSeqNo " + notes[0].split("=", 1)[1] if notes else "EndSeqNo as expected")
    cp.send("4", [(123, "Y"), (36, 5)], seq=2, poss_dup=True)
    cp.expect("0", {112: test_id})
    t.sync(cp, seq=6)
    t.logout(cp)


@case("2-c", "MsgSeqNumTooLow", "A message numbered too low without PossDupFlag ends the session with a Logout")
def _2c(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    cp.send("1", [(112, t.test_id())], seq=2)
    t.expect_logout_and_disconnect(cp)


@case("2-d", "GarbledMessage", "Bytes that are not a FIX frame are ignored; the next message is processed")
def _2d(t: CaseContext) -> None:
    cp = t.logon()
    cp.send_raw(b"garbage\x01that is not\x01a FIX frame\x01")
    sync_after_garbled(t, cp, 2)
    t.logout(cp)


@case("2-e", "PossDupAlreadyReceived", "A PossDup message numbered below the expected one is ignored")
def _2e_dup(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    cp.send("1", [(112, "DUPLICATE")], seq=2, poss_dup=True, orig_sending_time=t.timestamp(-1))
    t.sync(cp, seq=3)  # its Heartbeat must come next: none for the duplicate
    t.logout(cp)


@case("2-e", "PossDupNotReceived", "A PossDup message numbered as expected is processed")
def _2e_new(t: CaseContext) -> None:
    cp = t.logon()
    test_id = t.test_id()
    cp.send("1", [(112, test_id)], seq=2, poss_dup=True, orig_sending_time=t.timestamp(-1))
    cp.expect("0", {112: test_id})
    t.logout(cp)


@case("2-f", "PossDupOrigSendingTimeTooHigh", "OrigSendingTime after SendingTime: Reject 373=10")
def _2f(t: CaseContext) -> None:
    # Test case 2f: PossDupFlag=Y, OrigSendingTime after SendingTime, MsgSeqNum as expected: a Reject
    # (SendingTime accuracy problem), the number counted; a Logout and disconnect may follow (optional).
    cp = t.logon()
    cp.send("1", [(112, t.test_id())], seq=2, poss_dup=True, orig_sending_time=t.timestamp(600))
    _expect_poss_dup_reject(t, cp, 10, "test case 2f wants Reject 373=10 when OrigSendingTime is after "
                                       "SendingTime and MsgSeqNum is as expected")
    _go_on_or_logout(t, cp, seq=3)


@case("2-g", "PossDupNoOrigSendingTime", "PossDupFlag without OrigSendingTime: Reject 373=1")
def _2g(t: CaseContext) -> None:
    # Test case 2g: PossDupFlag=Y without OrigSendingTime: a Reject (required tag missing), the number counted.
    cp = t.logon()
    cp.send("1", [(112, t.test_id())], seq=2, header=[(43, "Y")])
    _expect_poss_dup_reject(t, cp, 1, "test case 2g wants Reject 373=1 for a PossDup message without "
                                      "OrigSendingTime, whatever its MsgSeqNum")
    _go_on_or_logout(t, cp, seq=3)


def _expect_poss_dup_reject(t: CaseContext, cp: Counterparty, reason: int, rule: str) -> None:
    try:
        expect_reject(cp, t, 2, (reason,), 122)
    except Mismatch as exc:
        if "|35=0|" in exc.received:
            raise Mismatch("the PossDup message numbered as expected was processed as a new one (its Heartbeat "
                           f"came): OrigSendingTime not checked; {rule}", exc.expected, exc.received) from None
        raise


def _go_on_or_logout(t: CaseContext, cp: Counterparty, seq: int) -> None:
    """After a Reject the session goes on (the next message answered) or, optionally, ends with a Logout."""
    test_id = t.test_id()
    try:
        cp.send("1", [(112, test_id)], seq=seq)
    except Mismatch:
        pass  # the engine may have closed right after a Logout of its own: read it
    msg = cp.receive()
    if msg is not None and msg.get(35) == b"5":
        t.saw("Logout after the Reject (optional)")
        cp.push_back(msg)
        t.expect_logout_and_disconnect(cp)
        return
    cp.push_back(msg)
    cp.expect("0", {112: test_id})
    t.saw("the session went on")
    t.logout(cp)


@case("2-i", "BeginStringValueUnexpected", "A message with another BeginString ends the session")
def _2i(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("1", [(112, t.test_id())], seq=2, begin=OTHER_VERSION)
    t.saw(cp.expect_disconnect(allow=(b"3", b"5")))


@case("2-k", "CompIDDoesNotMatchProfile", "A message with a wrong SenderCompID: Reject 373=9, Logout, disconnect")
def _2k(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("1", [(112, t.test_id())], seq=2, sender=t.target.sender + "X")
    msg = cp.receive()
    if msg is not None and msg.get(35) == b"3":
        if msg.get(373) != b"9":
            raise Mismatch(f"Reject 373={(msg.get(373) or b'').decode()} (expected 9, CompID problem)")
        t.saw("Reject 373=9")
        t.expect_logout_and_disconnect(cp)
    elif msg is not None and msg.get(35) == b"5":
        t.saw("Logout without a Reject")
        cp.send("5")
        t.saw(cp.expect_disconnect(allow=(b"5",)))
    else:
        raise Mismatch("expected Reject 373=9 and Logout", received="disconnect" if msg is None else msg.raw.decode("latin-1"))


@case("2-m", "BodyLengthValueNotCorrect", "A frame with a wrong BodyLength is ignored; the next one is processed")
def _2m(t: CaseContext) -> None:
    cp = t.logon()
    bad = cp.build("1", [(112, "BADLENGTH")], seq=2)
    length = bad.split(b"\x019=", 1)[1].split(b"\x01", 1)[0]
    cp.send_raw(bad.replace(b"\x019=" + length, b"\x019=%d" % (int(length) - 5), 1))
    sync_after_garbled(t, cp, 2)
    t.logout(cp)


@case("2-o", "SendingTimeValueOutOfRange", "SendingTime ten minutes off: Reject 373=10, Logout, disconnect")
def _2o(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("1", [(112, t.test_id())], seq=2, sending_time=t.timestamp(-600))
    expect_reject(cp, t, 2, (10,), 52)
    t.expect_logout_and_disconnect(cp)


@case("2-q", "MsgTypeNotValid", "An undefined MsgType: Reject 373=11")
def _2q(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("ZZ", [(112, t.test_id())], seq=2)
    expect_reject(cp, t, 2, (11,), 35)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("2-t", "FirstThreeFieldsOutOfOrder", "BeginString, BodyLength, MsgType out of order: ignored as garbled")
def _2t(t: CaseContext) -> None:
    cp = t.logon()
    good = cp.build("1", [(112, "ORDER")], seq=2)
    head, rest = good.split(b"\x01", 1)
    _length, rest = rest.split(b"\x01", 1)
    msg_type, rest = rest.split(b"\x01", 1)
    body = rest[:-7]  # up to the CheckSum field, which is always 10=NNN<SOH>
    # MsgType before BodyLength; the BodyLength and CheckSum are right for the bytes, so the order is the only fault.
    bad = head + b"\x01" + msg_type + b"\x01" + b"9=%d\x01" % len(body) + body
    cp.send_raw(bad + b"10=%03d\x01" % (sum(bad) % 256))
    sync_after_garbled(t, cp, 2)
    t.logout(cp)


# -- 3: the standard trailer ---------------------------------------------------------------------------------


@case("3-b", "InvalidChecksum", "A frame with a wrong CheckSum is ignored; the next one is processed")
def _3b(t: CaseContext) -> None:
    cp = t.logon()
    bad = cp.build("1", [(112, "BADSUM")], seq=2)
    wrong = (int(bad[-4:-1]) + 1) % 256
    cp.send_raw(bad[:-4] + b"%03d\x01" % wrong)
    sync_after_garbled(t, cp, 2)
    t.logout(cp)


@case("3-c", "GarbledHeader", "A frame whose header fields run together is ignored; the next one is processed")
def _3c(t: CaseContext) -> None:
    cp = t.logon()
    bad = cp.build("1", [(112, "GLUED")], seq=2)
    cp.send_raw(bad.replace(b"\x0135=", b"35=", 1))
    sync_after_garbled(t, cp, 2)
    t.logout(cp)
