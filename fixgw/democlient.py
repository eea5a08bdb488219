"""``fixgw client``: log on to a gateway once, walk through a few orders, print every report.

One connection attempt, no retry: a refused connection, a Logon the gateway rejects (with the reason
its Logout gave) or a missing answer ends the command with one line on standard error and exit status 1.
Reports are printed with enum names beside the codes (``ExecType=F (Trade)``), from the dictionary of
the session's FIX version.
"""

from __future__ import annotations

import argparse
import os
from decimal import ROUND_DOWN, Decimal
from typing import Any

import anyio

from .config import DEFAULT_PORT, DEMO_PASSWORD
from .errors import FixgwError, TransportError
from .logsafe import printable

__all__ = ["add_arguments", "run", "ClientError"]


class ClientError(FixgwError):
    """The client could not do its walk (connect, log on, or get an answer in time)."""


def add_arguments(p: argparse.ArgumentParser, port_type: Any = int, level_type: Any = str) -> None:
    """Add the options of ``fixgw client`` to ``p``, each with its default in the help."""
    p.add_argument("--host", default="127.0.0.1", help="the gateway's address (default: %(default)s)")
    p.add_argument("--port", type=port_type, default=DEFAULT_PORT, help="the gateway's FIX port (default: %(default)s)")
    p.add_argument("--fix", choices=("4.2", "4.4"), default="4.4", help="FIX version (default: %(default)s)")
    p.add_argument("--sender", help="our SenderCompID (default: CLIENT44 with --fix 4.4, CLIENT42 with --fix 4.2)")
    p.add_argument("--target", default="FIXGW", help="the gateway's CompID, our TargetCompID (default: %(default)s)")
    p.add_argument("--username", default="demo", help="Username (553) of the Logon (default: %(default)s)")
    p.add_argument("--password-env", metavar="VAR",
                   help="environment variable holding the Password (554) (default: the demo sessions' password)")
    p.add_argument("--symbol", default="BTC/USDT", help="instrument of the demo orders (default: %(default)s)")
    p.add_argument("--timeout", type=_seconds, default=10.0, metavar="SECONDS",
                   help="wait this long to connect, for the Logon answer and for each report (default: %(default)s)")
    p.add_argument("--log-level", type=level_type, default="WARNING", metavar="LEVEL",
                   help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: %(default)s)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds below a day")
    return value


async def run(args: argparse.Namespace) -> int:
    """Log on, run the walkthrough, log out; raise ``ClientError`` with a one-line reason on failure."""
    from .session import SessionConfig, SessionID
    from .stores.memory import MemoryMessageStore
    from .transport import Application, Initiator

    begin = f"FIX.{args.fix}"
    sender = args.sender or ("CLIENT44" if args.fix == "4.4" else "CLIENT42")
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise ClientError(f"--password-env: environment variable {args.password_env} is not set")
    else:
        password = DEMO_PASSWORD
    where = f"{args.host}:{args.port}"
    names = _Names(begin)
    send_stream, receive_stream = anyio.create_memory_object_stream[Any](1000)
    logged_on = anyio.Event()

    class Printer(Application):
        def on_logon(self, session: Any) -> None:
            logged_on.set()

        def on_message(self, session: Any, message: Any) -> None:
            print(names.report(message), flush=True)
            send_stream.send_nowait(message)

    cfg = SessionConfig(session_id=SessionID(begin, sender, args.target), role="initiator", heartbeat_interval=30,
                        reset_on_logon=True, username=args.username, password=password)
    initiator = Initiator(cfg, Printer(), MemoryMessageStore(), host=args.host, port=args.port,
                          connect_timeout=args.timeout)
    ended = anyio.Event()
    outcome: list[str] = []

    async def connect() -> None:
        try:
            outcome.append(await initiator.connect_once())
        except TransportError as exc:
            outcome.append(_connect_error(str(exc), where))
        finally:
            ended.set()
            logged_on.set()  # wake the waiter: the connection is over

    async with anyio.create_task_group() as tg:
        tg.start_soon(connect)
        with anyio.move_on_after(args.timeout):
            await logged_on.wait()
        if not initiator.handle.is_logged_on:
            tg.cancel_scope.cancel()
            if not outcome:
                raise ClientError(f"no Logon answer from {where} within {args.timeout:g} s")
            raise ClientError(_logon_failure(outcome[0], where, sender, args.target))
        print(f"logged on to {where} as {sender} ({begin})", flush=True)
        try:
            await _walkthrough(initiator.handle, receive_stream, args.symbol, args.timeout, ended, outcome)
        finally:
            with anyio.CancelScope(shield=True):
                await initiator.logout_and_stop("demo done", timeout=min(args.timeout, 5.0))
            tg.cancel_scope.cancel()
    return 0


def _connect_error(text: str, where: str) -> str:
    low = text.lower()
    if "refused" in low or "all connection attempts failed" in low:
        return f"connection refused by {where}: is the gateway running there? (fixgw run)"
    if "timed out" in low:
        return f"cannot connect to {where}: timed out"
    return printable(text)


def _logon_failure(reason: str, where: str, sender: str, target: str) -> str:
    if reason.startswith("Logon refused"):
        detail = reason.partition(":")[2].strip()
        if detail.lower().startswith("logon rejected:"):
            detail = detail.partition(":")[2].strip()
        return f"logon rejected by {where}: {printable(detail) if detail else 'no reason given'}"
    if reason.startswith("connection refused") or reason.startswith("cannot connect"):
        return reason
    return (f"{where} closed the connection before answering the Logon ({printable(reason)}); "
            f"is it a FIX gateway serving SenderCompID={target} TargetCompID={sender}?")


async def _walkthrough(handle: Any, inbox: Any, symbol: str, timeout: float, ended: anyio.Event,
                       outcome: list[str]) -> None:
    """Market buy, then a resting limit order that is queried, replaced and canceled."""
    from .clock import SystemClock
    from .codec import format_utc_timestamp

    clock = SystemClock()
    n = 0

    def send(msg_type: bytes, fields: list[tuple[int, Any]]) -> str:
        nonlocal n
        n += 1
        cl = f"demo-{clock.now_ns() // 1_000_000}-{n}"
        handle.send(msg_type, [(11, cl), *fields, (60, format_utc_timestamp(clock.now_ns()))])
        return cl

    async def until(cl: str, done: set[bytes]) -> Any:
        with anyio.move_on_after(timeout):
            while True:
                with anyio.move_on_after(0.2):
                    m = await inbox.receive()
                    if m.get(11) == cl.encode() and (m.msg_type != b"8" or m.get(39) in done):
                        return m
                    continue
                if ended.is_set():
                    raise ClientError(f"connection lost: {printable(outcome[0] if outcome else 'closed')}")
        raise ClientError(f"no report for {cl} within {timeout:g} s")

    print("\n1. market buy 0.01 (fills against the book):")
    cl = send(b"D", [(21, b"1"), (55, symbol), (54, b"1"), (38, b"0.01"), (40, b"1")])
    filled = await until(cl, {b"2", b"4", b"8", b"C"})
    last = Decimal((filled.get(6) or b"0").decode()) or Decimal(1000)
    px = (last * Decimal("0.95")).quantize(Decimal(1), rounding=ROUND_DOWN)

    print(f"\n2. limit buy 0.01 at {px} (rests below the market):")
    cl = send(b"D", [(21, b"1"), (55, symbol), (54, b"1"), (38, b"0.01"), (40, b"2"), (44, px), (59, b"1")])
    await until(cl, {b"0", b"8"})
    print("\n3. order status request:")
    handle.send(b"H", [(11, cl), (55, symbol), (54, b"1")])
    await until(cl, {b"0", b"1"})
    px2 = px - 1
    print(f"\n4. replace: quantity 0.02 at {px2}:")
    cl2 = send(b"G", [(41, cl), (21, b"1"), (55, symbol), (54, b"1"), (38, b"0.02"), (40, b"2"), (44, px2)])
    await until(cl2, {b"0", b"5", b"8", b"1"})
    print("\n5. cancel:")
    cl3 = send(b"F", [(41, cl2), (55, symbol), (54, b"1")])
    await until(cl3, {b"4", b"8"})
    print("\ndone.")


#: The fields a report line shows, in this order.
_SHOWN = (11, 41, 37, 150, 39, 55, 54, 38, 44, 32, 31, 14, 151, 6, 103, 102, 380, 58)


class _Names:
    """Tag and enum names of one FIX version, for report lines."""

    def __init__(self, begin_string: str) -> None:
        from .codec.dictionary import load_dictionary

        try:
            self._dict: Any = load_dictionary(begin_string)
        except FixgwError:
            self._dict = None

    def report(self, m: Any) -> str:
        from .decode import enum_label

        d = self._dict
        mt = m.msg_type or b"?"
        mdef = d.message_types.get(mt) if d is not None else None
        parts = []
        for tag in _SHOWN:
            value = m.get(tag)
            if value is None:
                continue
            fdef = d.field(tag) if d is not None else None
            text = f"{fdef.name if fdef else tag}={printable(value.decode('utf-8', 'replace'))}"
            if fdef is not None and value in fdef.values:
                text += f" ({enum_label(fdef.values[value])})"
            parts.append(text)
        name = mdef.name if mdef is not None else printable(mt.decode("ascii", "replace"))
        return f"  <- {name}: " + " ".join(parts)
