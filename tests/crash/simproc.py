"""The simulated exchange as a process of its own, for the crash suite (never killed by it).

Run as a script: ``python tests/crash/simproc.py --seed S [--maker-interval 0.2]``. It serves the
simulator on a free loopback port with the demo key, prints one JSON line ``{"rest": ..., "ws": ...}``
on stdout once it accepts connections, then answers commands read from stdin, one per line, with one
JSON line each:

- ``dump``: every order and fill of the demo account, read from the matching engine itself, so the
  suite compares the gateway's reports with what the venue really did (not with what it was told);
- ``quit`` (or the end of stdin): stop.

Why not ``fixgw sim``: its command line has no switch for the venue's rate limits, and a burst of 200
orders would meet the demo account's 100 orders per 10 s; the suite wants fills, not rate-limit
rejects. Everything else is the simulator as ``fixgw sim`` builds it (same ``SimServer``, real HTTP and
WebSocket on loopback). The market maker's ladder is smaller than the default one, so that bursts eat
through levels and orders fill partially, rest, and get cancelled.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from typing import Any

from fixgw.sim import LimitConfig, SimConfig, SimServer
from fixgw.sim.config import DEMO_ACCOUNT, default_balances
from fixgw.sim.instruments import default_instruments
from fixgw.sim.marketmaker import MakerConfig

#: Symbols the suite trades (fewer symbols: less market-maker work on a shared 2-core machine).
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def build_config(seed: int, maker_interval: float) -> SimConfig:
    """The simulator of one crash run: generous limits and balances, a thin seeded ladder."""
    balances = {asset: amount * 100 for asset, amount in default_balances().items()}
    return SimConfig(
        seed=seed,
        instruments=tuple(spec for spec in default_instruments() if spec.symbol in SYMBOLS),
        balances=balances,
        market_maker=MakerConfig(levels=8, level_notional=Decimal("400"), trade_probability=0.5,
                                 trade_notional=Decimal("100")),
        maker_interval_s=maker_interval,
        limits=LimitConfig(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9),
    )


def dump(state: Any, account: str = DEMO_ACCOUNT) -> dict[str, Any]:
    """Every order and fill of ``account`` (amounts as strings, exact)."""
    engine = state.engine
    orders = [
        {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id, "side": o.side,
         "type": o.type, "timeInForce": o.time_in_force, "price": str(o.price), "origQty": str(o.orig_qty),
         "executedQty": str(o.executed_qty), "status": o.status}
        for symbol in engine.orders for o in engine.orders[symbol].values() if o.account_id == account
    ]
    fills = [
        {"symbol": f.symbol, "orderId": f.order_id, "tradeId": f.trade_id, "qty": str(f.qty),
         "price": str(f.price)}
        for f in engine.fills.get(account, [])
    ]
    return {"orders": orders, "fills": fills}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--maker-interval", type=float, default=0.2)
    args = p.parse_args(argv)
    server = SimServer(build_config(args.seed, args.maker_interval)).start()
    try:
        print(json.dumps({"rest": server.base_url, "ws": server.ws_api_url}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "dump":
                print(json.dumps(server.call(dump)), flush=True)
            elif command == "quit":
                break
            else:
                print(json.dumps({"error": f"unknown command {command[:40]!r}"}), flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
