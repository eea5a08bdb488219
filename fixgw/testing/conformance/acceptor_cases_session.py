"""The FIX Session Layer test cases 4 to 21 against an acceptor: heartbeats, TestRequest, Reject, resend,
SequenceReset, Logout, field-level rejects (see ``acceptor_cases`` for the conventions).
"""

from __future__ import annotations

from ...codec import encode
from ..compare import ANY, one_of
from ..counterparty import Counterparty, Mismatch
from ._case import CaseContext, case, valid_order
from ._checks import expect_reject, read_resend, resend_note

__all__: list[str] = []


# -- 4-7: heartbeats, test requests, rejects -----------------------------------------------------------------


@case("4-a", "NoDataSentDuringHeartBtInt", "An idle acceptor sends a Heartbeat every HeartBtInt")
def _4a(t: CaseContext) -> None:
    hb = t.target.short_heartbeat
    cp = t.logon(heartbeat=hb)
    cp.expect("0", absent=(112,), timeout=hb * 2.5 + 1)
    t.logout(cp)


@case("4-b", "ReceivedTestRequest", "A TestRequest is answered by a Heartbeat with its TestReqID")
def _4b(t: CaseContext) -> None:
    cp = t.logon()
    ids = [t.test_id("A"), t.test_id("B")]
    for test_id in ids:
        cp.send("1", [(112, test_id)])
    for test_id in ids:
        cp.expect("0", {112: test_id})
    t.logout(cp)


@case("5", "ReceiveHeartbeat", "A Heartbeat is accepted without an answer")
def _5(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("0", seq=2)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("6", "SendTestRequest", "A silent peer gets a TestRequest after HeartBtInt; its answer keeps the session")
def _6(t: CaseContext) -> None:
    hb = t.target.short_heartbeat
    cp = t.logon(heartbeat=hb)
    cp.skip_heartbeats = True
    request = cp.expect("1", {112: ANY}, timeout=hb * 3 + 1)
    cp.send("0", [(112, request.get(112))])
    cp.skip_heartbeats = False
    for _ in range(20):  # Heartbeats sent before our answer arrived are fine
        msg = cp.next_frame()
        if msg is None:
            raise Mismatch("disconnected although the TestRequest was answered")
        if msg.get(35) == b"0" and msg.get(112) is None:
            break
        if msg.get(35) != b"0" and msg.get(35) not in (b"1",):
            raise Mismatch("expected the session to go on", received=msg.raw.decode("latin-1"))
    t.logout(cp)


@case("6", "TestRequestUnanswered", "A peer that does not answer the TestRequest is disconnected")
def _6b(t: CaseContext) -> None:
    hb = t.target.short_heartbeat
    cp = t.logon(heartbeat=hb)
    cp.skip_heartbeats = True
    cp.expect("1", {112: ANY}, timeout=hb * 3 + 1)
    t.saw(cp.expect_disconnect(timeout=hb * 4 + t.target.timeout, allow=(b"0", b"1", b"5")))


@case("7", "ReceiveReject", "A session Reject from the peer is accepted (its number used), the session goes on")
def _7(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("3", [(45, 1), (58, "conformance test reject")], seq=2)
    t.sync(cp, seq=3)
    t.logout(cp)


# -- 8: ResendRequest ---------------------------------------------------------------------------------------


@case("8", "ResendRequestAdminOnly", "A ResendRequest over admin messages is answered with a GapFill")
def _8a(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    last = cp.expected_seq - 1
    cp.send("2", [(7, 1), (16, 0)], seq=3)
    resent, filled, _ = read_resend(cp, 1, last)
    resend_note(t, resent, filled)
    t.sync(cp, seq=4)
    t.logout(cp)


@case("8", "ResendRequestWithApplicationMessages", "A resend covers application and admin messages in order")
def _8b(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("D", valid_order(t.target.begin_string, t.test_id("O")), seq=2)
    t.sync(cp, seq=3)
    last = cp.expected_seq - 1
    cp.send("2", [(7, 1), (16, 0)], seq=4)
    resent, filled, _ = read_resend(cp, 1, last)
    resend_note(t, resent, filled)
    t.sync(cp, seq=5)
    t.logout(cp)


@case("8", "ResendRequestBoundedRange", "A ResendRequest with an EndSeqNo is answered for that range only")
def _8c(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    t.sync(cp, seq=3)
    cp.send("2", [(7, 2), (16, 2)], seq=4)
    resent, filled, _ = read_resend(cp, 2, 2)
    resend_note(t, resent, filled)
    t.sync(cp, seq=5)
    t.logout(cp)


# -- 10, 11: SequenceReset -----------------------------------------------------------------------------------


@case("10-a", "GapFillAboveExpected", "A GapFill numbered too high first gets a ResendRequest")
def _10a(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("4", [(123, "Y"), (36, 10)], seq=5, poss_dup=True)
    cp.expect("2", {7: 2})
    cp.send("4", [(123, "Y"), (36, 5)], seq=2, poss_dup=True)
    t.sync(cp, seq=10)
    t.logout(cp)


@case("10-b", "GapFillAtExpected", "A GapFill numbered as expected moves the expected number to NewSeqNo")
def _10b(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("4", [(123, "Y"), (36, 10)], seq=2, poss_dup=True)
    t.sync(cp, seq=10)
    t.logout(cp)


@case("10-c", "GapFillPossDupBelowExpected", "A PossDup GapFill numbered too low is ignored")
def _10c(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    t.sync(cp, seq=3)
    cp.send("4", [(123, "Y"), (36, 3)], seq=2, poss_dup=True)
    t.sync(cp, seq=4)
    t.logout(cp)


@case("10-d", "GapFillBelowExpectedNoPossDup", "A GapFill numbered too low without PossDupFlag ends the session")
def _10d(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    t.sync(cp, seq=3)
    cp.send("4", [(123, "Y"), (36, 5)], seq=2)
    t.expect_logout_and_disconnect(cp)


@case("10-e", "GapFillNewSeqNoEqual", "A GapFill whose NewSeqNo equals its MsgSeqNum is rejected")
def _10e_equal(t: CaseContext) -> None:
    # Test case 10e: a GapFill with NewSeqNo <= MsgSeqNum, MsgSeqNum as expected: a Reject
    # ("attempt to lower sequence number"). Here NewSeqNo = MsgSeqNum = the number expected.
    cp = t.logon()
    cp.send("4", [(123, "Y"), (36, 2)], seq=2, poss_dup=True)
    try:
        expect_reject(cp, t, 2, (5,), 36)
    except Mismatch as exc:
        if exc.problem.startswith("nothing received"):
            raise Mismatch("no Reject for a GapFill with NewSeqNo 2 = its MsgSeqNum 2 (test case 10e: NewSeqNo "
                           "<= MsgSeqNum is rejected)", exc.expected) from None
        raise
    t.logout(cp)


@case("10-e", "GapFillNewSeqNoLess", "A GapFill whose NewSeqNo is below its MsgSeqNum is rejected")
def _10e_less(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    cp.send("4", [(123, "Y"), (36, 2)], seq=3, poss_dup=True)
    expect_reject(cp, t, 3, (5,), 36)
    t.logout(cp)


@case("11-a", "SequenceResetNewSeqNoGreater", "A SequenceReset-Reset moves the expected number up")
def _11a(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("4", [(36, 20)], seq=2)
    t.sync(cp, seq=20)
    t.logout(cp)


@case("11-b", "SequenceResetNewSeqNoEqual", "A SequenceReset-Reset to the expected number is accepted")
def _11b(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    cp.send("4", [(36, 3)], seq=3)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("11-c", "SequenceResetNewSeqNoLess", "A SequenceReset-Reset that would lower the number: Reject 373=5")
def _11c(t: CaseContext) -> None:
    cp = t.logon()
    t.sync(cp, seq=2)
    t.sync(cp, seq=3)
    cp.send("4", [(36, 2)], seq=4)
    expect_reject(cp, t, 4, (5,), 36)
    t.logout(cp)


# -- 13: Logout ---------------------------------------------------------------------------------------------


@case("13-b", "UnsolicitedLogout", "A Logout from the peer is answered with a Logout, then the link closes")
def _13b(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("5")
    cp.expect("5")
    cp.finish(timeout=t.target.timeout)
    t.saw("closed by the acceptor" if cp.eof else "left open for us to close")


# -- 14: field-level errors ----------------------------------------------------------------------------------


@case("14-a", "InvalidTagNumber", "An undefined tag: Reject 373=0 (or 3, undefined tag)")
def _14a(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("1", [(112, t.test_id()), (999, "X")], seq=2)
    expect_reject(cp, t, 2, (0, 3), 999)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("14-b", "RequiredFieldMissing", "A required field missing: Reject 373=1")
def _14b(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("1", [], seq=2)
    expect_reject(cp, t, 2, (1,), 112)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("14-c", "TagNotDefinedForMsgType", "A field of another message type: Reject 373=2")
def _14c(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("0", [(55, "BTCUSDT")], seq=2)
    expect_reject(cp, t, 2, (2,), 55)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("14-d", "TagSpecifiedWithoutValue", "A field without a value: Reject 373=4")
def _14d(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("1", [(112, "")], seq=2)
    expect_reject(cp, t, 2, (4,), 112)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("14-e", "IncorrectEnumValue", "A value outside the field's enumeration: Reject 373=5")
def _14e(t: CaseContext) -> None:
    cp = t.logon()
    order = [(tag, "Z" if tag == 54 else value) for tag, value in valid_order(t.target.begin_string, t.test_id("O"))]
    cp.send("D", order, seq=2)
    expect_reject(cp, t, 2, (5,), 54)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("14-f", "IncorrectDataFormat", "A value of the wrong type: Reject 373=6")
def _14f(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("2", [(7, "abc"), (16, 0)], seq=2)
    expect_reject(cp, t, 2, (6,), 7)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("14-g", "HeaderBodyTrailerFieldsOutOfOrder", "A header field after a body field: Reject 373=14")
def _14g(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("1", [(112, t.test_id()), (43, "N")], seq=2)
    expect_reject(cp, t, 2, (14,), 43)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("14-h", "RepeatedTag", "A field repeated outside a group: Reject 373=13")
def _14h(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("1", [(112, "ONE"), (112, "TWO")], seq=2)
    expect_reject(cp, t, 2, (13,), 112)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("14-i", "RepeatingGroupCountNotEqual", "NumInGroup not equal to the instances: Reject 373=16")
def _14i(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("D", valid_order(t.target.begin_string, t.test_id("O"), (78, 2), (79, "ACC1")), seq=2)
    expect_reject(cp, t, 2, (16,), 78)
    t.sync(cp, seq=3)
    t.logout(cp)


@case("15", "HeaderFieldsInAnyOrder", "Standard header fields in another order are accepted")
def _15(t: CaseContext) -> None:
    cp = t.logon()
    test_id = t.test_id()
    raw = encode(t.target.begin_string, "1", [(52, t.timestamp()), (34, 2), (56, t.target.target),
                                              (49, t.target.sender), (112, test_id)])
    cp.next_seq = 3
    cp.send_raw(raw)
    cp.expect("0", {112: test_id})
    t.logout(cp)


@case("20", "SimultaneousResendRequest", "A ResendRequest while awaiting its own resend is served; the gap then filled")
def _20(t: CaseContext) -> None:
    # Test case 20: the engine has sent a ResendRequest and awaits the resend when our ResendRequest comes:
    # it performs the resend asked for; its own ResendRequest stands (it may send it again).
    cp = t.logon()
    t.sync(cp, seq=2)
    test_id = t.test_id()
    cp.send("1", [(112, test_id)], seq=5)  # 3 and 4 lost on the way
    cp.expect("2", {7: 3, 16: one_of(0, 4, 999999)})
    last = cp.expected_seq - 1
    cp.send("2", [(7, 1), (16, 0)], seq=6)
    resent, filled, others = read_resend(cp, 1, last)
    again = [m for m in others if m.get(35) == b"2"]
    resend_note(t, resent, filled)
    cp.send("4", [(123, "Y"), (36, 5)], seq=3, poss_dup=True)
    for _ in range(1000):  # the TestRequest held above the gap is now answered; resends may come first
        msg = cp.next_frame()
        if msg is None:
            raise Mismatch("disconnected after the gap was filled", expected=f"35=0 112={test_id}")
        if msg.get(35) == b"0" and msg.get(112) == test_id.encode():
            break
        if msg.get(35) == b"2":
            again.append(msg)
        elif msg.get(43) != b"Y" and msg.get(35) in (b"1", b"3", b"4", b"5", b"A"):
            raise Mismatch("expected the Heartbeat answering the TestRequest held above the gap",
                           expected=f"35=0 112={test_id}", received=msg.raw.decode("latin-1"))
    t.saw("its ResendRequest sent again" if again else "its first ResendRequest stood")
    t.logout(cp)


@case("20", "ResendRequestRevealsGap", "A ResendRequest numbered too high is served and a ResendRequest sent")
def _20_reveals(t: CaseContext) -> None:
    # Our ResendRequest is the first message above a gap: the engine serves it (test case 8) and, the
    # number being too high, asks for the gap (test case 2b), before or after its resend.
    cp = t.logon()
    t.sync(cp, seq=2)
    last = cp.expected_seq - 1
    cp.send("2", [(7, 1), (16, 0)], seq=5)
    resent, filled, others = read_resend(cp, 1, last)
    own = [m for m in others if m.get(35) == b"2"]
    if not own:
        try:
            own = [cp.expect("2", {7: 3})]
        except Mismatch as exc:
            if not exc.problem.startswith("nothing received"):
                raise
            raise Mismatch(_20_no_request(t, cp), "35=2 7=3 (a ResendRequest for 3..4)") from None
    elif own[0].get(7) != b"3":
        raise Mismatch(f"its ResendRequest asks from {own[0].get(7)!r}, expected 3")
    resend_note(t, resent, filled)
    t.logout(cp)


def _20_no_request(t: CaseContext, cp: Counterparty) -> str:
    """What the engine does instead: does it ask for the gap once the next message comes?"""
    problem = ("the request was served, but no ResendRequest came for the gap 3..4 it revealed (test case 2b: a "
               "message numbered too high is answered with a ResendRequest)")
    cp.send("0", seq=6)
    try:
        msg = cp.receive(timeout=min(2.0, t.target.timeout))
    except Mismatch:
        return problem
    if msg is not None and msg.get(35) == b"2" and msg.get(7) == b"3":
        return problem + "; it asked only when the next message (6) came"
    return problem


@case("21", "RepeatingGroupWithCountZero", "A repeating group counted 0 with no instances is accepted")
def _21(t: CaseContext) -> None:
    cp = t.logon()
    cp.send("D", valid_order(t.target.begin_string, t.test_id("O"), (78, 0)), seq=2)
    t.sync(cp, seq=3)
    t.logout(cp)
