"""The ``fixgw`` command line: ``run`` the gateway, the ``sim``ulated exchange, a demo ``client``, ``decode``.

``fixgw run`` with no arguments is the embedded demo: it starts the simulated exchange in this process,
hands its URL to the gateway (the gateway never imports the simulator) and listens for FIX on
``DEFAULT_PORT`` with the demo sessions of ``fixgw.config.default_config``; ``--demo arbitrage`` starts
two simulated exchanges quoting BTC/USDT apart instead (``fixgw.config.demos``, ``examples/arbitrage.py``).
Every ``simulated`` venue of a configuration gets its own simulator, speaking its ``kind``'s API.
``fixgw client`` logs on to a gateway and walks through a few orders, printing every ExecutionReport, so the whole loop is visible
(``fixgw.democlient``). ``fixgw decode`` prints FIX messages from files or wire logs (``fixgw.decode``).
``fixgw conformance`` runs the FIX session test cases against another engine and ``fixgw replay`` plays
a recorded wire log through a session (``fixgw.testing``, docs/testing.md).
Logging (format, file, the wire log's own destination) is set up by ``fixgw.logsetup``.

An operator's mistake never ends in a traceback: it is one line on standard error naming the problem.

The event loop of ``run`` and ``client`` is uvloop's when it is installed (``--event-loop``, or the
``FIXGW_EVENT_LOOP`` environment variable: ``auto``, ``uvloop`` or ``asyncio``; see ``event_loop_options``).

Exit status: 0 done; 1 a failure at run time (the client could not connect or log on, the gateway
stopped on an error after it started, ``decode`` found a broken frame); 2 a mistake to fix before
trying again (an unknown option or bad value, a configuration error, a port that cannot be listened
on, a log file that cannot be written); 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, Sequence

import anyio

from . import __version__
from .config import DEFAULT_BRIDGE_PORT, DEFAULT_PORT, DEMO_PASSWORD, DEMOS, Config, demo_config, load_config
from .errors import ConfigError, FixgwError

__all__ = ["main", "build_parser", "event_loop_options", "EVENT_LOOP_ENV", "EVENT_LOOPS"]

log = logging.getLogger("fixgw.cli")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0 to 65535; 0 picks a free one)")
    return port


def _level(text: str) -> str:
    from .logsetup import parse_level

    try:
        parse_level(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.upper()


def _config_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a TOML file")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: not readable (permission denied)")
    return path


#: The environment variable naming the event loop when ``--event-loop`` is not given.
EVENT_LOOP_ENV = "FIXGW_EVENT_LOOP"
#: ``auto``: uvloop's loop when it is installed, else asyncio's; ``uvloop``: uvloop's (an error without it);
#: ``asyncio``: the standard library's.
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def event_loop_options(choice: str = "auto") -> dict[str, Any]:
    """The ``backend_options`` of ``anyio.run`` for the event loop ``choice`` (one of ``EVENT_LOOPS``).

    uvloop's loop costs the gateway less per event-loop turn: measured, 9-13% less CPU per order on the
    null venue and 19% on the simulator when each order is alone in its turn, the same with bursts of 20
    (``bench/gateway_closed.py --burst 1``). Raise ``ConfigError`` for an unknown choice, or ``uvloop`` asked for and
    not installed."""
    if choice not in EVENT_LOOPS:
        raise ConfigError("event loop", f"unknown: {choice!r} (one of {', '.join(EVENT_LOOPS)})")
    if choice == "asyncio":
        return {}
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("event loop", "uvloop is not installed") from None
        return {}
    return {"use_uvloop": True}


def _add_event_loop(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event-loop", choices=EVENT_LOOPS, default=None,
                        help=f"auto: uvloop's when installed, else asyncio's (default: ${EVENT_LOOP_ENV}, else auto)")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fixgw``."""
    from . import decode, democlient

    p = _Parser(prog="fixgw", description="A FIX 4.2/4.4 gateway for crypto exchanges.")
    p.add_argument("--version", action="version", version=f"fixgw {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the gateway (no --config: the embedded demo with a simulated exchange)",
                         description="Run the FIX gateway until SIGINT or SIGTERM. Without --config: the embedded "
                                     "demo, with a simulated exchange in this process.")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--config", "-c", type=_config_file, metavar="FILE",
                       help="TOML configuration file, see examples/gateway.toml (default: the embedded demo)")
    where.add_argument("--demo", choices=sorted(DEMOS), default="basic",
                       help="which embedded demo runs without --config: basic (one simulated venue) or arbitrage "
                            "(two simulated venues quoting BTC/USDT apart, for examples/arbitrage.py) "
                            "(default: %(default)s)")
    run.add_argument("--host", help="listen address (default: the config's, 127.0.0.1 in the demo)")
    run.add_argument("--port", type=_port,
                     help=f"FIX port; 0 picks a free one (default: the config's, {DEFAULT_PORT} in the demo)")
    run.add_argument("--store", type=Path, metavar="FILE",
                     help="SQLite state file (default: the config's; the demo keeps state in memory)")
    run.add_argument("--no-bridge", action="store_true",
                     help="do not start the REST/WebSocket bridge (default: on in the demo and with a [bridge] "
                          "section)")
    run.add_argument("--bridge-port", type=_port, metavar="PORT",
                     help=f"bridge port; 0 picks a free one (default: the config's, {DEFAULT_BRIDGE_PORT} in the "
                          "demo; with --port 0 a free one too)")
    run.add_argument("--log-level", type=_level, default="INFO", metavar="LEVEL",
                     help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: %(default)s)")
    run.add_argument("--log-format", choices=("text", "json"), default="text",
                     help="text lines, or JSON lines with ts, level, logger, message, session, venue "
                          "(default: %(default)s)")
    run.add_argument("--log-file", metavar="FILE", help="append the log to FILE (default: standard error)")
    run.add_argument("--wire-log", metavar="FILE|-",
                     help="write every FIX message in and out to FILE, or '-' for standard output "
                          "(default: off; read it with fixgw decode)")
    run.add_argument("--wire-log-names", action="store_true",
                     help="write tag names in the wire log: MsgType(35)=D (default: numbers only)")
    _add_event_loop(run)

    sim = sub.add_parser("sim", help="run the simulated exchange alone", add_help=False)
    sim.add_argument("sim_args", nargs=argparse.REMAINDER)

    cl = sub.add_parser("client", help="log on to a gateway, send a few orders, print the ExecutionReports",
                        description="Log on to a gateway once (no retry), walk through a market order and a "
                                    "limit order that is queried, replaced and canceled, and print every report.")
    democlient.add_arguments(cl, port_type=_port, level_type=_level)
    _add_event_loop(cl)

    dec = sub.add_parser("decode", help="print FIX messages from files, stdin or a wire log, with names, checked",
                         description=decode.DESCRIPTION)
    decode.add_arguments(dec)

    from .testing.conformance import runner as conformance
    from .testing import replay

    conf = sub.add_parser("conformance", help="run the FIX session test cases against an acceptor or initiator",
                          description=conformance.DESCRIPTION)
    conformance.add_arguments(conf, port_type=_port)
    rep = sub.add_parser("replay", help="feed a recorded wire log into a session, printing every state change",
                         description=replay.DESCRIPTION)
    replay.add_arguments(rep)
    from .bridge import status

    st = sub.add_parser("status", help="show sessions, venues, open orders, fills and latency from the bridge",
                        description=status.DESCRIPTION)
    status.add_arguments(st)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fixgw`` console script; returns the exit status.

    A reader that goes away (``fixgw decode ... | head``) ends the command quietly with status 141,
    as a shell's own tools do, not with a traceback."""
    try:
        return _main(argv)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
        return 141


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sim"]:
        from .sim.cli import main as sim_main

        return int(sim_main(args_list[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "decode":
        from .decode import run as decode_run

        return decode_run(args)
    if args.command == "conformance":
        from .testing.conformance.runner import run as conformance_run

        return conformance_run(args)
    if args.command == "replay":
        from .testing.replay import run as replay_run

        return replay_run(args)
    if args.command == "status":
        from .bridge.status import run as status_run

        return status_run(args)
    from .logsetup import configure

    args.started = False
    try:
        configure(args.log_level, getattr(args, "log_format", "text"), getattr(args, "log_file", None),
                  getattr(args, "wire_log", None), getattr(args, "wire_log_names", False))
        if args.command in ("run", "client"):
            options = event_loop_options(args.event_loop or os.environ.get(EVENT_LOOP_ENV) or "auto")
            log.debug("event loop: %s", "uvloop" if options else "asyncio")
        if args.command == "run":
            return anyio.run(_run, args, backend_options=options)
        if args.command == "client":
            from .democlient import run as client_run

            return anyio.run(client_run, args, backend_options=options)
    except KeyboardInterrupt:
        return 130
    except BaseException as e:  # FixgwError, possibly inside a task group's exception group
        err = _first_error(e)
        if err is None:
            raise
        return _report(args, err)
    parser.print_help()
    return 2


def _report(args: argparse.Namespace, err: BaseException) -> int:
    """Print ``err`` as one line; return 2 for a mistake to fix first, 1 for a failure at run time."""
    from .logsafe import printable

    if isinstance(err, OSError):
        text = err.strerror or str(err)
        if err.filename:
            text = f"{err.filename}: {text}"
    else:
        text = str(err)
    print(f"fixgw {args.command}: {printable(text)}", file=sys.stderr)
    if args.command == "client":
        return 1
    return 2 if isinstance(err, (ConfigError, OSError)) or not args.started else 1


def _first_error(exc: BaseException) -> BaseException | None:
    """The first ``FixgwError`` (or ``OSError``) in ``exc`` or its exception groups."""
    if isinstance(exc, (FixgwError, OSError)):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_error(inner)
            if found is not None:
                return found
    return None


# ------------------------------------------------------------------------------------------------
# fixgw run


async def _run(args: argparse.Namespace) -> int:
    from .gateway import Gateway, run_until_signalled

    config = load_config(args.config) if args.config else demo_config(args.demo, **_demo_options(args.demo))
    gw_changes: dict[str, Any] = {}
    if args.host:
        gw_changes["host"] = args.host
    if args.port is not None:
        gw_changes["port"] = args.port
    if args.store:
        gw_changes["store_path"] = args.store
    if gw_changes:
        config = replace(config, gateway=replace(config.gateway, **gw_changes))
    bridge = _plan_bridge(args, config)
    sims = start_simulators(config)
    async with sims as config:
        gateway = Gateway(config)
        async with anyio.create_task_group() as tg:
            if bridge is not None:
                from .bridge.launch import run_bridge

                bridge["port"] = await tg.start(partial(run_bridge, gateway, config.bridge, bridge["keys"],
                                                        port=bridge["port"]))

            def ready(port: int) -> None:
                args.started = True
                _print_banner(config, port, demo=args.config is None, sim_tokens=sims.control_tokens, bridge=bridge,
                              demo_name=args.demo)

            status = await run_until_signalled(gateway, on_ready=ready)
            tg.cancel_scope.cancel()  # the gateway is down: stop the bridge
    return status


def _demo_options(name: str) -> dict[str, Any]:
    """The arbitrage demo's second venue speaks Coinbase Exchange when this build has both its simulator
    dialect and its adapter, else Binance like the first."""
    if name != "arbitrage":
        return {}
    import importlib.util

    try:
        has_dialect = importlib.util.find_spec("fixgw.sim.coinbase.app") is not None
        from .venues.coinbase import CoinbaseConfig
    except ImportError:
        return {"beta_kind": "binance"}
    ready = has_dialect and hasattr(CoinbaseConfig, "from_venue_config")
    return {"beta_kind": "coinbase" if ready else "binance"}


def _plan_bridge(args: argparse.Namespace, config: Config) -> dict[str, Any] | None:
    """The bridge's keys and port, or None when it stays off (``--no-bridge``, or a config without
    ``[bridge]``). A bad key entry raises ``ConfigError`` before anything starts."""
    if args.no_bridge or not config.bridge.enabled:
        return None
    from .bridge.launch import bridge_keys, demo_keys

    port = args.bridge_port
    if port is None and args.port == 0:
        port = 0  # a free FIX port asked for: the bridge takes a free one too, so runs never collide
    if args.config is None:
        keys, shown = demo_keys()
    else:
        keys, shown = bridge_keys(config.bridge, os.environ), []
    return {"keys": keys, "demo_keys": shown, "port": port}


class start_simulators:
    """Start a simulated exchange for each ``simulated`` venue and fill in its URLs and keys.

    Each simulator speaks its venue's dialect (``kind``: binance, coinbase or kraken) over its own
    matching engine, so one ``fixgw run`` can hold several; a venue's ``sim_prices`` set where its market
    maker starts. An async context manager yielding the completed ``Config``; the simulators stop on exit.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._servers: list[Any] = []
        self.control_tokens: dict[str, str] = {}  # venue name -> its simulator's /sim/* token
        self.servers: dict[str, Any] = {}  # venue name -> its running ``SimServer``

    async def __aenter__(self) -> Config:
        config = self._config
        try:
            for venue in config.venues:
                if venue.simulated:
                    config = await self._start(config, venue)
        except BaseException:
            await self.__aexit__()
            raise
        return config

    async def _start(self, config: Config, venue: Any) -> Config:
        server, creds = _simulator_for(venue)
        await anyio.to_thread.run_sync(server.start)
        self._servers.append(server)
        self.servers[venue.name] = server
        self.control_tokens[venue.name] = server.control_token
        log.info("simulated exchange %r (%s) listening at %s", venue.name, venue.kind, server.base_url)
        return config.with_venue(venue.name, rest_url=server.base_url, ws_url=_sim_ws_url(server, venue.kind),
                                 **creds)

    async def __aexit__(self, *exc: object) -> None:
        with anyio.CancelScope(shield=True):
            while self._servers:
                await anyio.to_thread.run_sync(self._servers.pop().stop)


def _sim_ws_url(server: Any, kind: str) -> str:
    """The simulator's WebSocket the venue's adapter connects to: the order-entry WebSocket API of
    binance, the private feed of the others (Coinbase's at the root, Kraken's v2 at ``/v2``)."""
    if kind == "coinbase":
        from .sim.coinbase import feed_url

        return str(feed_url(server.base_url))
    return server.ws_api_url if kind == "binance" else f"ws://{server.host}:{server.port}/v2"


def _simulator_for(venue: Any) -> tuple[Any, dict[str, str]]:
    """A simulator (not started) for ``venue`` and the credentials the gateway signs with.

    A fresh key per run: the simulator and the gateway share it and nothing else does. Coinbase and
    Kraken secrets are base64 (their signatures decode them first); Coinbase keys carry a passphrase."""
    import base64
    import importlib.util

    from .sim import ApiKey, SimConfig, SimServer
    from .sim.dialects import DIALECTS

    try:
        found = importlib.util.find_spec(DIALECTS[venue.kind]) is not None
    except (KeyError, ModuleNotFoundError):
        found = False
    if not found:
        raise ConfigError(f"venues.{venue.name}.simulated", f"the simulator does not speak {venue.kind!r} in this build")
    api_key = "fixgw-demo-" + secrets.token_hex(8)
    creds = {"api_key": api_key}
    if venue.kind == "binance":
        creds["api_secret"] = secrets.token_hex(32)
    else:
        creds["api_secret"] = base64.b64encode(secrets.token_bytes(64)).decode("ascii")
    if venue.kind == "coinbase":  # the simulator's keys share one passphrase (its demo one, or from the env)
        from .sim.coinbase import passphrase

        creds["api_passphrase"] = passphrase()
    sim_config = SimConfig(api_keys=(ApiKey(api_key=api_key, account_id="demo", secret=creds["api_secret"]),),
                           dialect=venue.kind)
    if venue.sim_prices:
        sim_config = replace(sim_config, instruments=_priced(sim_config.instruments, venue))
    return SimServer(sim_config), creds


def _priced(instruments: Sequence[Any], venue: Any) -> tuple[Any, ...]:
    """The simulator's instruments with the starting prices of ``venue.sim_prices`` (``BASE/QUOTE``)."""
    from .venues.assets import normalized_symbol

    by_name = {normalized_symbol(spec.base_asset, spec.quote_asset): spec for spec in instruments}
    for name, _ in venue.sim_prices:
        if name not in by_name:
            raise ConfigError(f"venues.{venue.name}.sim_prices.{name}",
                              f"the simulator lists no such instrument (it has {', '.join(sorted(by_name))})")
    return tuple(spec if (price := venue.sim_price(name)) is None else replace(spec, initial_price=price)
                 for name, spec in by_name.items())


def _invoked_as() -> str:
    """How to run fixgw again as it was run now: ``fixgw`` only when that name on PATH is this program
    (a venv that was not activated shows its own path, e.g. ``.venv/bin/fixgw``)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) != "fixgw":
        return f"{os.path.relpath(sys.executable)} -m fixgw"
    on_path = shutil.which("fixgw")
    if on_path is not None and os.path.realpath(on_path) == os.path.realpath(argv0):
        return "fixgw"
    return os.path.relpath(argv0)


def _print_banner(config: Config, port: int, *, demo: bool, sim_tokens: dict[str, str] | None = None,
                  bridge: dict[str, Any] | None = None, demo_name: str = "basic") -> None:
    host = config.gateway.host
    lines = [f"fixgw {__version__}: FIX gateway listening on {host}:{port}" + (" (TLS)" if config.gateway.tls else "")]
    if bridge is not None:
        b = config.bridge
        bhost = f"[{b.host}]" if ":" in b.host else b.host
        lines.append(f"  bridge (REST/WebSocket) at {'https' if b.tls else 'http'}://{bhost}:{bridge['port']}"
                     f" ({len(bridge['keys'])} key(s); /healthz /readyz /metrics unsigned)")
        lines.append(f"    web console at {'https' if b.tls else 'http'}://{bhost}:{bridge['port']}/console")
        for k in bridge["demo_keys"]:
            lines.append(f"    key {k.key_id} ({', '.join(k.permissions)}): secret in {k.secret_file}")
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
        prog = _invoked_as()
        lines.append(f"  {prog} client --port {port}              # FIX 4.4")
        lines.append(f"  {prog} client --port {port} --fix 4.2    # FIX 4.2")
        if demo_name == "arbitrage" and bridge is not None:
            trade = next((k for k in bridge["demo_keys"] if k.key_id == "demo-trade"), None)
            b = config.bridge
            bhost = f"[{b.host}]" if ":" in b.host else b.host
            if trade is not None:
                # venues whose books the gateway does not serve are read from their own public REST
                urls = "".join(f" --venue-url {v.name}={v.rest_url}" for v in config.venues if v.kind != "binance")
                lines.append(f"  {os.path.relpath(sys.executable)} examples/arbitrage.py --bridge http://{bhost}:"
                             f"{bridge['port']} --key demo-trade --secret-file {trade.secret_file}{urls}")
    lines.append("Stop with Ctrl-C.")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
