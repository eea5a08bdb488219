"""The conformance runner against fixgw's own acceptor and initiator over loopback, and against a broken one."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from fixgw.backoff import Backoff
from fixgw.cli import main as cli_main
from fixgw.codec import Garbled, Parser
from fixgw.session import SessionConfig, SessionID
from fixgw.stores import MemoryMessageStore
from fixgw.testing.conformance import Target, run_cases, select_cases
from fixgw.transport import Application, Initiator

from .conftest import running_acceptor

VERSIONS = ("FIX.4.2", "FIX.4.4")


def _target(begin: str, port: int, **kw) -> Target:
    return Target(begin, "CLIENT" + begin[-3] + begin[-1], "ECHO", port=port, timeout=3.0, slow_timeout=5.0, **kw)


@pytest.mark.parametrize("begin", VERSIONS)
def test_conformance_fixgw_acceptor_every_case_passes(begin: str, acceptor_port: int) -> None:
    cases = select_cases(begin)
    assert len(cases) >= 25
    results = run_cases(cases, _target(begin, acceptor_port))
    failed = ["\n".join(r.lines()) for r in results if not r.passed]
    assert failed == []
    # Where the specification allows two behaviours, the case says which it saw.
    by_name = {r.case.full_name: r for r in results}
    assert by_name["1B-c_InvalidTargetCompID"].notes == ["Logout, then disconnected"]
    assert by_name["2-b_MsgSeqNumTooHigh"].notes == ["EndSeqNo 0"]
    assert "the session went on" in by_name["2-f_PossDupOrigSendingTimeTooHigh"].notes
    assert by_name["20_SimultaneousResendRequest"].notes[-1] == "its ResendRequest sent again"
    # fixgw keeps the frame that came right behind a garbled one.
    assert not any("lost with it" in n for n in by_name["3-c_GarbledHeader"].notes)


def test_conformance_broken_acceptor_without_sending_time_check_fails_2o(tmp_path: Path) -> None:
    # An acceptor that does not check SendingTime: case 2-o must fail and say what differed.
    with running_acceptor(max_sending_time_skew=None) as port:
        (result,) = run_cases(select_cases("FIX.4.4", patterns=["2-o"]), _target("FIX.4.4", port))
        assert not result.passed
        assert result.failure[0].startswith("expected MsgType 3 but received 0")
        assert result.failure[1] == "expected: 35=3 45=2 373=one of 10"
        junit = tmp_path / "out.xml"
        status = cli_main(["conformance", "--port", str(port), "--begin", "FIX.4.4", "--sender", "CLIENT44",
                           "--target", "ECHO", "--case", "2-o", "--case", "2-a", "--junit", str(junit)])
    assert status == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    failures = [tc.get("name") for tc in suite.iter("testcase") if tc.find("failure") is not None]
    assert failures == ["2-o_SendingTimeValueOutOfRange"]


def test_conformance_cli_passing_cases_exit_zero_and_print_pass(acceptor_port: int, capsys) -> None:
    status = cli_main(["conformance", "--port", str(acceptor_port), "--begin", "FIX.4.2", "--sender", "CLIENT42",
                       "--target", "ECHO", "--case", "2-b", "--case", "Duplicate"])
    out = capsys.readouterr().out
    assert status == 0
    assert "PASS  FIX.4.2 2-b_MsgSeqNumTooHigh  (EndSeqNo 0)" in out
    assert "PASS  FIX.4.2 1B-b_DuplicateIdentity" in out
    assert "FIX.4.2 acceptor: 2 passed, 0 failed of 2" in out


def test_conformance_cli_unknown_case_is_usage_error(capsys) -> None:
    assert cli_main(["conformance", "--port", "1", "--sender", "A", "--target", "B", "--case", "nope"]) == 2
    assert "no case matches nope" in capsys.readouterr().err


def test_conformance_nobody_listening_every_case_fails_with_reason() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        (result,) = run_cases(select_cases("FIX.4.4", patterns=["1B-a"]), _target("FIX.4.4", port))
    assert not result.passed and "could not connect" in result.failure[0]


def test_conformance_initiator_mode_fixgw_initiator_passes() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sid = SessionID("FIX.4.4", "CLIENT", "TESTER")
    store = MemoryMessageStore()
    config = SessionConfig(sid, role="initiator", heartbeat_interval=30, reset_on_logon=True)
    from fixgw.codec.dictionary import load_dictionary

    initiator = Initiator(config, Application(), store, host="127.0.0.1", port=port,
                          dictionary=load_dictionary("FIX.4.4"), backoff=Backoff(initial=0.05, maximum=0.2))
    target = Target("FIX.4.4", "TESTER", "CLIENT", timeout=3.0, slow_timeout=5.0, listener=listener)
    cases = select_cases("FIX.4.4", role="initiator")
    assert len(cases) >= 10
    results: list = []
    with start_blocking_portal() as portal:
        portal.start_task_soon(initiator.run)
        runner = threading.Thread(target=lambda: results.extend(run_cases(cases, target)))
        runner.start()
        runner.join(60)
        portal.call(initiator.stop)
    listener.close()
    assert not runner.is_alive()
    assert ["\n".join(r.lines()) for r in results if not r.passed] == []
    assert results[0].notes == ["HeartBtInt 30, MsgSeqNum 1, ResetSeqNumFlag=Y"]


@contextlib.contextmanager
def _losing_proxy(upstream: int):
    """A proxy that drops the frame coming right behind a garbled one (as an engine may when it resyncs)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    dropped: list[bytes] = []

    def pump(client: socket.socket) -> None:
        with contextlib.suppress(OSError), client, socket.create_connection(("127.0.0.1", upstream)) as server:
            forward(client, server)

    def forward(client: socket.socket, server: socket.socket) -> None:
        parser, drop_next = Parser(), False
        while not stop.is_set():
            ready = select.select([client, server], [], [], 0.05)[0]
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is server:
                    client.sendall(data)
                    continue
                parser.feed(data)
                for item in parser:
                    if isinstance(item, Garbled):
                        server.sendall(item.data)
                        drop_next = True
                    elif drop_next:
                        dropped.append(item.raw)
                        drop_next = False
                    else:
                        server.sendall(item.raw)

    def accept() -> None:
        while not stop.is_set():
            if select.select([listener], [], [], 0.05)[0]:
                threading.Thread(target=pump, args=(listener.accept()[0],), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1], dropped
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()


def test_conformance_garbled_cases_engine_dropping_the_next_frame_pass_and_say_so(acceptor_port: int) -> None:
    # FIX does not say where a garbled frame ends: an engine may lose the frame sent right behind it.
    # The garbled cases then resend it as PossDup, and must still see the number not counted.
    # (Two of the five garbled cases: each waits two seconds before its resend.)
    cases = [c for c in select_cases("FIX.4.4") if c.id in ("2-t", "3-c")]
    with _losing_proxy(acceptor_port) as (port, dropped):
        results = run_cases(cases, _target("FIX.4.4", port))
    assert ["\n".join(r.lines()) for r in results if not r.passed] == []
    assert len(dropped) == len(cases) == 2
    for r in results:
        assert r.notes == ["the message sent right after the garbled frame was lost with it; its PossDup resend "
                           "(2) was processed"], r.lines()
