"""A FIX echo acceptor, the reference application FIX engines are conformance-tested against.

It echoes NewOrderSingle (D), Email (C) and SecurityDefinition (d) back to the sender; a NewOrderSingle
with PossResend (97=Y) whose ClOrdID (11) the session already saw since its last logout is dropped, and
one not seen before is echoed with PossResend (97=Y) in the header. Any
other application message is answered with BusinessMessageReject 380=3 (by the session engine, through
``supported_app_msg_types``). Every message is validated against the full dictionary of its FIX version.

Run ``python examples/echo_acceptor.py --help`` for the options; for example::

    python examples/echo_acceptor.py --port 9878 --store echo.db \\
        --session FIX.4.4:ECHO:CLIENT1 --session FIX.4.2:ECHO:CLIENT2
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from typing import Any, Sequence

import anyio

from fixgw.session import SessionConfig, SessionID
from fixgw.transport import Acceptor, Application, SessionHandle, body_bytes, server_tls_context

log = logging.getLogger("fixgw.examples.echo")

#: NewOrderSingle, Email, SecurityDefinition.
ECHOED_TYPES = frozenset({b"D", b"C", b"d"})
#: The header field of an echo of a PossResend message.
POSS_RESEND = ((97, b"Y"),)


class EchoApplication(Application):
    """Echo D, C and d; drop a PossResend NewOrderSingle whose ClOrdID was seen since the last logout."""

    def __init__(self) -> None:
        self._seen_cl_ord_ids: dict[SessionID, set[bytes]] = {}

    def on_logon(self, session: SessionHandle) -> None:
        self._seen_cl_ord_ids[session.session_id] = set()

    def on_logout(self, session: SessionHandle) -> None:
        self._seen_cl_ord_ids.pop(session.session_id, None)

    def on_message(self, session: SessionHandle, message: Any) -> None:
        msg_type = message.get(35)
        if msg_type not in ECHOED_TYPES:
            return  # the engine already answered 380=3 for unsupported types
        poss_resend = message.get(97) == b"Y"
        if msg_type == b"D":
            seen = self._seen_cl_ord_ids.get(session.session_id)
            if seen is None:  # not setdefault: that would build a set for every order
                seen = self._seen_cl_ord_ids[session.session_id] = set()
            cl_ord_id = message.get(11)
            if poss_resend and cl_ord_id in seen:
                log.info("%s: dropping PossResend order %r already seen", session.session_id, cl_ord_id)
                return
            seen.add(cl_ord_id)
        if poss_resend:
            session.send(msg_type, body_bytes(message), header_fields=POSS_RESEND)
        else:
            session.send(msg_type, body_bytes(message))


def parse_session(text: str) -> SessionID:
    """Read ``BeginString:SenderCompID:TargetCompID`` (our view: we are the SenderCompID)."""
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected BeginString:SenderCompID:TargetCompID")
    if parts[0] not in ("FIX.4.2", "FIX.4.4"):
        raise argparse.ArgumentTypeError(f"{text!r}: BeginString must be FIX.4.2 or FIX.4.4")
    return SessionID(*parts)


def _port(text: str) -> int:
    """A TCP port number, 0..65535; anything else is a one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0-65535)")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="echo_acceptor",
        description=(
            "FIX 4.2/4.4 echo acceptor: echoes NewOrderSingle (D), Email (C) and SecurityDefinition (d), "
            "drops a PossResend (97=Y) NewOrderSingle whose ClOrdID was already seen since the last "
            "logout, and answers other application messages with BusinessMessageReject 380=3. "
            "All sessions are served on one port, told apart by the CompIDs of the Logon."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=_port, default=9878, help="TCP port to listen on; 0 picks a free one (default: %(default)s)")
    p.add_argument(
        "--session",
        dest="sessions",
        action="append",
        type=parse_session,
        metavar="BEGIN:SENDER:TARGET",
        help="a session to serve, from our side, e.g. FIX.4.4:ECHO:CLIENT1 (repeat for more; default: FIX.4.4:ECHO:CLIENT)",
    )
    p.add_argument(
        "--reset-on-logon",
        action="store_true",
        help="reset both sequence numbers to 1 on every Logon (the peer's and ours)",
    )
    p.add_argument("--store", default="echo_acceptor.db", help="SQLite message store file (default: %(default)s); ':memory:' keeps nothing")
    p.add_argument(
        "--store-checkpoint",
        choices=("background", "auto"),
        default="background",
        help="WAL checkpoints in a background thread (default) or inside commits (SQLite's own)",
    )
    p.add_argument("--sending-time-tolerance", type=float, default=120.0, help="SendingTime tolerance in seconds (default: %(default)s)")
    p.add_argument("--no-validate", action="store_true", help="do not validate messages against the FIX dictionaries")
    p.add_argument("--tls-cert", help="serve TLS with this certificate (PEM)")
    p.add_argument("--tls-key", help="private key of --tls-cert (PEM; default: inside --tls-cert)")
    p.add_argument("--tls-client-ca", help="require client certificates signed by this CA (PEM)")
    p.add_argument(
        "--logon-failure-delay",
        type=float,
        default=0.5,
        help="seconds the answer to a host waits after its first failed Logon, doubling with each further "
        "failure; 0 turns the slow-down off, e.g. for scripted conformance runs (default: %(default)s)",
    )
    p.add_argument("--max-backlog", type=int, default=4 << 20, help="unsent bytes before a slow reader is cut off (default: %(default)s)")
    p.add_argument("--print-port", action="store_true", help="print 'PORT <n>' on stdout once listening")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: narrative log, -vv: also the wire log")
    return p


def load_dictionaries(begin_strings: set[str]) -> dict[str, Any]:
    """Load the full dictionary of each version; run without validation when one is unavailable."""
    found: dict[str, Any] = {}
    try:
        from fixgw.codec.dictionary import load_dictionary
    except ImportError as exc:  # the dictionary module may not be built yet
        log.warning("FIX dictionaries unavailable (%s); messages are not validated", exc)
        return found
    for begin in sorted(begin_strings):
        try:
            found[begin] = load_dictionary(begin)
        except Exception as exc:  # noqa: BLE001 - a missing spec file must not stop the example
            log.warning("no dictionary for %s (%s); its messages are not validated", begin, exc)
    return found


def build_acceptor(args: argparse.Namespace, store: Any) -> Acceptor:
    """Build the acceptor described by parsed command-line ``args`` over ``store``."""
    from fixgw.session import Session

    ids = args.sessions or [SessionID("FIX.4.4", "ECHO", "CLIENT")]
    dictionaries = {} if args.no_validate else load_dictionaries({sid.begin_string for sid in ids})
    sessions = []
    for sid in ids:
        config = SessionConfig(
            sid,
            role="acceptor",
            reset_on_logon=args.reset_on_logon,
            max_sending_time_skew=args.sending_time_tolerance,
            supported_app_msg_types=ECHOED_TYPES,
        )
        sessions.append(Session(config, store.session_store(sid), dictionary=dictionaries.get(sid.begin_string)))
    ssl_context = None
    if args.tls_cert:
        ssl_context = server_tls_context(
            args.tls_cert,
            args.tls_key,
            client_ca=args.tls_client_ca,
            require_client_cert=args.tls_client_ca is not None,
        )
    return Acceptor(
        sessions,
        EchoApplication(),
        store,
        host=args.host,
        port=args.port,
        ssl_context=ssl_context,
        max_backlog=args.max_backlog,
        logon_failure_delay=args.logon_failure_delay,
    )


async def serve(args: argparse.Namespace) -> None:
    from fixgw.stores.sqlite import SqliteMessageStore

    store = SqliteMessageStore(args.store, checkpoint=args.store_checkpoint)
    try:
        acceptor = build_acceptor(args, store)
        async with anyio.create_task_group() as tg:
            port = await tg.start(acceptor.serve)
            # Everything built so far (modules, dictionaries, sessions) lives as long as the process:
            # keep it out of the collector's full passes, whose pauses would otherwise show in the tail.
            gc.freeze()
            if args.print_port:
                print(f"PORT {port}", flush=True)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    log.warning("shutting down: logging out every session")
                    await acceptor.shutdown("Server shutting down")
                    break
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.verbose < 2:
        logging.getLogger("fixgw.wire").setLevel(logging.WARNING)
    try:
        anyio.run(serve, args)
    except KeyboardInterrupt:
        return 0
    except BaseException as exc:  # noqa: BLE001 - a port in use is one line, not a traceback
        error = _transport_error(exc)
        if error is None:
            raise
        print(f"echo_acceptor: {error}", file=sys.stderr)
        return 2
    return 0


def _transport_error(exc: BaseException) -> Any:
    """The ``TransportError`` (cannot listen: port in use, ...) in ``exc`` or its exception groups."""
    from fixgw.errors import TransportError

    if isinstance(exc, TransportError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _transport_error(inner)
        if found is not None:
            return found
    return None


if __name__ == "__main__":
    sys.exit(main())
