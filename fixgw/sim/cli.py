"""``fixgw sim``: run the simulated exchange in the foreground until interrupted.

The start-up banner names the ``/sim/*`` control token: the random one made for this run, or, when
``FIXGW_SIM_TOKEN`` set it, only that it came from there (whoever set it knows it).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .dialects import DIALECTS

__all__ = ["main", "build_parser", "control_banner"]


def control_banner(token: str, *, from_env: bool) -> str:
    """The start-up line that tells an operator how to reach the ``/sim/*`` control endpoints."""
    shown = "<the value of FIXGW_SIM_TOKEN>" if from_env else token
    return f"control endpoints /sim/*: header 'Authorization: Bearer {shown}'"


def build_parser(prog: str = "fixgw sim") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Run the Binance-spot-compatible simulated exchange.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to bind (default 8765; 0 = any free port)")
    p.add_argument("--seed", type=int, default=1, help="seed of the market maker and generated ids")
    p.add_argument("--maker-interval", type=float, default=1.0,
                   help="seconds between market-maker steps (0 = step only via POST /sim/market-maker/step)")
    p.add_argument("--no-market-maker", action="store_true", help="start with empty books")
    p.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    p.add_argument("--dialect", default="binance", choices=sorted(DIALECTS),
                   help="venue protocol to speak (default binance)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (without the program name) and serve until Ctrl-C."""
    import uvicorn

    from .dialects import build_app_for
    from .config import CONTROL_TOKEN_ENV, SimConfig
    from .marketmaker import MakerConfig
    from .state import SimState

    args = build_parser().parse_args(argv)
    config = SimConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        market_maker=None if args.no_market_maker else MakerConfig(),
        maker_interval_s=args.maker_interval or None,
        log_level=args.log_level,
        dialect=args.dialect,
    )
    try:
        state = SimState(config)
        app = build_app_for(state)
    except ValueError as exc:  # a malformed FIXGW_SIM_TOKEN
        print(f"fixgw sim: {exc}", file=sys.stderr)
        return 2
    secret_shown = ("<the value of FIXGW_SIM_API_SECRET>" if os.environ.get("FIXGW_SIM_API_SECRET")
                    else None)
    keys = ", ".join(f"{k} secret {secret_shown or state.keys[k].secret}" for k in sorted(state.keys))
    # a dialect names its own endpoints (``app.state.endpoints``, with {host} and {port} to fill in)
    endpoints = getattr(app.state, "endpoints", None) or (
        "REST http://{host}:{port}  WS API ws://{host}:{port}/ws-api/v3  streams ws://{host}:{port}/ws/<symbol>@depth")
    print(
        f"fixgw sim: {endpoints.format(host=args.host, port=args.port)}\n"
        f"symbols: {', '.join(sorted(state.engine.instruments))}; API key {keys} "
        "(demo-only test credentials; override with FIXGW_SIM_API_KEY / FIXGW_SIM_API_SECRET)\n"
        f"{control_banner(state.control_token, from_env=bool(os.environ.get(CONTROL_TOKEN_ENV)))}",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        http="h11",
        ws="websockets-sansio",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
