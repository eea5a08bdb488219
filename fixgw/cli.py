"""The ``fixgw`` command line: ``run`` the gateway, start the ``sim``ulated exchange, try a ``client``.

``fixgw run`` with no arguments is the embedded demo: it starts the simulated exchange in this process,
hands its URL to the gateway (the gateway never imports the simulator) and listens for FIX on
``DEFAULT_PORT`` with the demo sessions of ``fixgw.config.default_config``. ``fixgw client`` logs on to a
gateway and walks through a few orders, printing every ExecutionReport, so the whole loop is visible.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, Sequence

import anyio

from . import __version__
from .config import DEFAULT_PORT, DEMO_PASSWORD, Config, default_config, load_config
from .errors import FixgwError

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # anyio's dependency on 3.10

__all__ = ["main", "build_parser"]

log = logging.getLogger("fixgw.cli")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fixgw``."""
    p = argparse.ArgumentParser(prog="fixgw", description="A FIX 4.2/4.4 gateway for crypto exchanges.")
    p.add_argument("--version", action="version", version=f"fixgw {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the gateway (no --config: the embedded demo with a simulated exchange)")
    run.add_argument("--config", "-c", type=Path, help="TOML configuration file (see examples/gateway.toml)")
    run.add_argument("--host", help="listen address (overrides the config)")
    run.add_argument("--port", type=int, help=f"FIX port (overrides the config; demo default {DEFAULT_PORT})")
    run.add_argument("--store", type=Path, help="SQLite state file (overrides the config; demo default: memory)")
    run.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")

    sim = sub.add_parser("sim", help="run the simulated exchange alone", add_help=False)
    sim.add_argument("sim_args", nargs=argparse.REMAINDER)

    cl = sub.add_parser("client", help="log on to a gateway, send a few orders, print the ExecutionReports")
    cl.add_argument("--host", default="127.0.0.1")
    cl.add_argument("--port", type=int, default=DEFAULT_PORT)
    cl.add_argument("--fix", choices=("4.2", "4.4"), default="4.4", help="FIX version (default 4.4)")
    cl.add_argument("--sender", help="our SenderCompID (default CLIENT44 / CLIENT42)")
    cl.add_argument("--target", default="FIXGW", help="the gateway's CompID (default FIXGW)")
    cl.add_argument("--username", default="demo")
    cl.add_argument("--password-env", help="environment variable holding the password (default: the demo's)")
    cl.add_argument("--symbol", default="BTC/USDT")
    cl.add_argument("--log-level", default="WARNING")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fixgw`` console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sim"]:
        from .sim.cli import main as sim_main

        return int(sim_main(args_list[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    level = getattr(logging, str(args.log_level).upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per venue request is noise
    try:
        if args.command == "run":
            return anyio.run(_run, args)
        if args.command == "client":
            return anyio.run(_client, args)
    except KeyboardInterrupt:
        return 130
    except BaseException as e:  # FixgwError, possibly inside a task group's exception group
        err = _first_fixgw_error(e)
        if err is None:
            raise
        print(f"fixgw: {err}", file=sys.stderr)
        return 1
    parser.print_help()
    return 2


def _first_fixgw_error(exc: BaseException) -> FixgwError | None:
    if isinstance(exc, FixgwError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_fixgw_error(inner)
            if found is not None:
                return found
    return None


# ------------------------------------------------------------------------------------------------
# fixgw run


async def _run(args: argparse.Namespace) -> int:
    from .gateway import Gateway, run_until_signalled

    config = load_config(args.config) if args.config else default_config()
    gw_changes: dict[str, Any] = {}
    if args.host:
        gw_changes["host"] = args.host
    if args.port is not None:
        gw_changes["port"] = args.port
    if args.store:
        gw_changes["store_path"] = args.store
    if gw_changes:
        config = replace(config, gateway=replace(config.gateway, **gw_changes))
    sims = start_simulators(config)
    async with sims as config:
        gateway = Gateway(config)
        status = await run_until_signalled(gateway, on_ready=lambda port: _print_banner(
            config, port, demo=args.config is None, sim_tokens=sims.control_tokens))
    return status


class start_simulators:
    """Start the simulated exchange for each ``simulated`` venue and fill in its URLs and keys.

    An async context manager yielding the completed ``Config``; the simulators stop on exit.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._servers: list[Any] = []
        self.control_tokens: dict[str, str] = {}  # venue name -> its simulator's /sim/* token

    async def __aenter__(self) -> Config:
        config = self._config
        for venue in config.venues:
            if not venue.simulated:
                continue
            from .sim import ApiKey, SimConfig, SimServer

            # A fresh key per run: the simulator and the gateway share it and nothing else does.
            api_key = "fixgw-demo-" + secrets.token_hex(8)
            api_secret = secrets.token_hex(32)
            server = SimServer(SimConfig(api_keys=(ApiKey(api_key=api_key, account_id="demo", secret=api_secret),)))
            await anyio.to_thread.run_sync(server.start)
            self._servers.append(server)
            self.control_tokens[venue.name] = server.control_token
            config = config.with_venue(venue.name, rest_url=server.base_url, ws_url=server.ws_api_url,
                                       api_key=api_key, api_secret=api_secret)
            log.info("simulated exchange %r listening at %s", venue.name, server.base_url)
        return config

    async def __aexit__(self, *exc: object) -> None:
        with anyio.CancelScope(shield=True):
            for server in reversed(self._servers):
                await anyio.to_thread.run_sync(server.stop)


def _print_banner(config: Config, port: int, *, demo: bool, sim_tokens: dict[str, str] | None = None) -> None:
    host = config.gateway.host
    lines = [f"fixgw {__version__}: FIX gateway listening on {host}:{port}" + (" (TLS)" if config.gateway.tls else "")]
    for v in config.venues:
        lines.append(f"  venue {v.name} ({v.kind}{', simulated' if v.simulated else ''}) at {v.rest_url}")
        if sim_tokens and v.name in sim_tokens:
            from .sim.cli import control_banner

            lines.append("    " + control_banner(sim_tokens[v.name], from_env=bool(os.environ.get("FIXGW_SIM_TOKEN"))))
    for s in config.sessions:
        lines.append(f"  session {s.begin_string}: SenderCompID={s.target_comp_id} TargetCompID={s.sender_comp_id}"
                     + (f" Username={s.credentials.username}" if s.credentials else ""))
    if demo:
        lines.append(f"Demo sessions use password {DEMO_PASSWORD!r}. Try, in another terminal:")
        lines.append(f"  fixgw client --port {port}              # FIX 4.4")
        lines.append(f"  fixgw client --port {port} --fix 4.2    # FIX 4.2")
    lines.append("Stop with Ctrl-C.")
    print("\n".join(lines), flush=True)


# ------------------------------------------------------------------------------------------------
# fixgw client


async def _client(args: argparse.Namespace) -> int:
    from .session import SessionConfig, SessionID
    from .stores.memory import MemoryMessageStore
    from .transport import Application, Initiator

    begin = f"FIX.{args.fix}"
    sender = args.sender or ("CLIENT44" if args.fix == "4.4" else "CLIENT42")
    password = os.environ.get(args.password_env, "") if args.password_env else DEMO_PASSWORD
    send_stream, receive_stream = anyio.create_memory_object_stream[Any](1000)

    class Printer(Application):
        def on_message(self, session: Any, message: Any) -> None:
            _print_message(message)
            send_stream.send_nowait(message)

    cfg = SessionConfig(session_id=SessionID(begin, sender, args.target), role="initiator", heartbeat_interval=30,
                        reset_on_logon=True, username=args.username, password=password)
    initiator = Initiator(cfg, Printer(), MemoryMessageStore(), host=args.host, port=args.port)
    async with anyio.create_task_group() as tg:
        handle = await tg.start(initiator.run)
        with anyio.fail_after(10):
            await handle.wait_logged_on()
        print(f"logged on to {args.host}:{args.port} as {sender} ({begin})")
        try:
            await _walkthrough(handle, receive_stream, args.symbol)
        finally:
            await initiator.logout_and_stop("demo done")
            tg.cancel_scope.cancel()
    return 0


async def _walkthrough(handle: Any, inbox: Any, symbol: str) -> None:
    """Market buy, then a resting limit order that is queried, replaced and canceled."""
    from .codec import format_utc_timestamp
    from .clock import SystemClock

    clock = SystemClock()
    n = 0

    def send(msg_type: bytes, fields: list[tuple[int, Any]]) -> str:
        nonlocal n
        n += 1
        cl = f"demo-{clock.now_ns() // 1_000_000}-{n}"
        handle.send(msg_type, [(11, cl), *fields, (60, format_utc_timestamp(clock.now_ns()))])
        return cl

    async def until(cl: str, done: set[bytes], timeout: float = 10.0) -> Any:
        with anyio.fail_after(timeout):
            while True:
                m = await inbox.receive()
                if m.get(11) == cl.encode() and (m.msg_type != b"8" or m.get(39) in done):
                    return m

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


_NAMES = {11: "ClOrdID", 41: "OrigClOrdID", 37: "OrderID", 150: "ExecType", 39: "OrdStatus", 55: "Symbol",
          54: "Side", 38: "OrderQty", 44: "Price", 32: "LastQty", 31: "LastPx", 14: "CumQty", 151: "LeavesQty",
          6: "AvgPx", 103: "OrdRejReason", 102: "CxlRejReason", 58: "Text"}
_TYPES = {b"8": "ExecutionReport", b"9": "OrderCancelReject", b"j": "BusinessMessageReject",
          b"r": "OrderMassCancelReport"}


def _print_message(m: Any) -> None:
    name = _TYPES.get(m.msg_type, (m.msg_type or b"?").decode())
    parts = [f"{_NAMES[t]}={m.get(t).decode('utf-8', 'replace')}" for t in _NAMES if m.get(t) is not None]
    print(f"  <- {name}: " + " ".join(parts), flush=True)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
