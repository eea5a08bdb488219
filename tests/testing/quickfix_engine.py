"""A QuickFIX engine for the conformance kit: run with an interpreter that has the ``quickfix`` package.

::

    /path/to/python tests/testing/quickfix_engine.py --dir /tmp/qf                    # an acceptor
    /path/to/python tests/testing/quickfix_engine.py --dir /tmp/qf --initiator 9879   # an initiator

As an acceptor it serves FIX.4.2 and FIX.4.4 as SenderCompID QFGW for TargetCompID TESTER on a free
port (or ``--port``) and prints ``listening PORT`` once started. As an initiator it connects to
127.0.0.1:PORT as QFGW for TESTER on ``--begin`` (HeartBtInt 30, reconnecting every second) and
prints ``started``. Either way: the data dictionaries the package ships (full validation, user-defined
fields validated), an in-memory store, ResetOnLogon=N, file logs under ``--dir``, and it runs until
stdin closes. Only the standard library and ``quickfix`` are imported: it does not need fixgw.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

SENDER = "QFGW"
TARGET = "TESTER"
DICTIONARIES = {"FIX.4.4": "FIX44.xml", "FIX.4.2": "FIX42.xml"}


def _dictionary(name: str) -> Path:
    for root in (Path(sys.prefix), Path(sys.base_prefix)):
        path = root / "share" / "quickfix" / name
        if path.is_file():
            return path
    raise SystemExit(f"quickfix_engine: {name} not found under {sys.prefix}/share/quickfix")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(log_dir: Path, *, accept_port: int | None = None, connect_port: int | None = None,
              begin: str = "FIX.4.4") -> str:
    lines = ["[DEFAULT]", "StartTime=00:00:00", "EndTime=00:00:00", f"FileLogPath={log_dir}",
             "UseDataDictionary=Y", "ValidateUserDefinedFields=Y", "ResetOnLogon=N"]
    if accept_port is not None:
        lines += ["ConnectionType=acceptor", f"SocketAcceptPort={accept_port}"]
        versions = list(DICTIONARIES)
    else:
        lines += ["ConnectionType=initiator", "SocketConnectHost=127.0.0.1", f"SocketConnectPort={connect_port}",
                  "HeartBtInt=30", "ReconnectInterval=1"]
        versions = [begin]
    for version in versions:
        lines += ["", "[SESSION]", f"BeginString={version}", f"SenderCompID={SENDER}", f"TargetCompID={TARGET}",
                  f"DataDictionary={_dictionary(DICTIONARIES[version])}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    import quickfix as fix

    class Quiet(fix.Application):
        """Answers nothing: the session layer alone speaks (QuickFIX calls every one of these)."""

        def onCreate(self, session_id):
            pass

        def onLogon(self, session_id):
            pass

        def onLogout(self, session_id):
            pass

        def toAdmin(self, message, session_id):
            pass

        def fromAdmin(self, message, session_id):
            pass

        def toApp(self, message, session_id):
            pass

        def fromApp(self, message, session_id):
            pass

    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--dir", type=Path, required=True, help="where the settings file and logs go")
    p.add_argument("--port", type=int, default=0, help="acceptor: the port to accept on (0: a free one)")
    p.add_argument("--initiator", type=int, metavar="PORT", help="be an initiator connecting to this port")
    p.add_argument("--begin", choices=tuple(DICTIONARIES), default="FIX.4.4", help="initiator: the BeginString")
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    cfg = args.dir / "engine.cfg"
    if args.initiator is None:
        port = args.port or _free_port()
        cfg.write_text(_settings(args.dir / "log", accept_port=port))
        banner = f"listening {port}"
    else:
        cfg.write_text(_settings(args.dir / "log", connect_port=args.initiator, begin=args.begin))
        banner = "started"
    settings = fix.SessionSettings(str(cfg))
    engine_type = fix.SocketAcceptor if args.initiator is None else fix.SocketInitiator
    engine = engine_type(Quiet(), fix.MemoryStoreFactory(), settings, fix.FileLogFactory(settings))
    engine.start()
    print(banner, flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or goes away)
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
