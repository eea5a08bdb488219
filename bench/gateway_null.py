"""The gateway on a null venue, for ``bench/gateway.py --venue null`` and ``bench/load.py --venue null``.

The venue answers every order at once in-process (accepted, then expired; no HTTP, no simulator), so a
run times the gateway's own path alone. It must accept the bench's orders as a real venue would: a
venue that refused them (an unsupported time in force, say) would time the gateway's reject path.
"""

from __future__ import annotations

import time
from decimal import Decimal

__all__ = ["serve"]


def serve(config_path: str) -> None:
    """Child process: the gateway on an in-process venue that answers at once (no HTTP, no simulator).

    What is left is the gateway's own path: FIX session, translate, risk, order book, journal, reports.
    """
    import math

    import anyio

    from fixgw.config import load_config
    from fixgw.gateway import Gateway
    from fixgw.gateway._lifecycle import freeze_start_up_heap
    from fixgw.orders.enums import OrderStatus, TimeInForce
    from fixgw.venues import base as V

    class NullVenue(V.VenueAdapter):
        def __init__(self) -> None:
            self.name = "sim"
            # IOC named: the default capabilities allow GTC only, and the gateway would refuse every
            # bench order before the venue, measuring its reject path instead of the order path.
            self.capabilities = V.VenueCapabilities(time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC}))
            self.send, self.recv = anyio.create_memory_object_stream[V.VenueOrderEvent](math.inf)
            self.publish = self.send.send_nowait  # the gateway's inbox once it gives one (set_event_sink)
            self.n = 0
            self.btc = V.Instrument(symbol="BTC/USDT", venue_symbol="BTCUSDT", base="BTC", quote="USDT",
                                    tick_size=Decimal("0.01"), lot_step=Decimal("0.00001"), min_notional=Decimal(5))

        async def start(self) -> None: ...
        async def close(self) -> None: ...
        async def load_instruments(self): return {"BTC/USDT": self.btc}  # noqa: E704
        def instrument(self, symbol): return self.btc  # noqa: E704

        async def submit(self, order):  # type: ignore[no-untyped-def]
            self.refuse_unchecked(order)  # as every adapter does: the order ``check`` passed goes through
            self.n += 1
            common = dict(venue="sim", symbol=order.symbol, client_order_id=order.client_order_id,
                          venue_order_id=str(self.n), cum_qty=Decimal(0), ts_ns=time.time_ns())
            self.publish(V.VenueAccepted(**common))
            self.publish(V.VenueExpired(**common))
            return V.OrderReport(venue="sim", symbol=order.symbol, client_order_id=order.client_order_id,
                                 venue_order_id=str(self.n), status=OrderStatus.EXPIRED)

        async def cancel(self, request): raise NotImplementedError  # noqa: E704
        async def amend(self, request): raise NotImplementedError  # noqa: E704
        async def replace(self, request): raise NotImplementedError  # noqa: E704
        async def query(self, symbol, **kw): raise NotImplementedError  # noqa: E704
        async def open_orders(self, symbol=None): return []  # noqa: E704
        async def cancel_all(self, symbol): return []  # noqa: E704
        async def reconcile(self) -> None: ...
        def events(self): return self.recv  # noqa: E704
        def set_event_sink(self, sink): self.publish = sink  # noqa: E704
        def health(self): raise NotImplementedError  # noqa: E704

    async def run() -> None:
        gateway = Gateway(load_config(config_path), adapter_factory=lambda vc: NullVenue())
        async with anyio.create_task_group() as tg:
            await tg.start(gateway.run)
            freeze_start_up_heap()  # as ``fixgw run`` does once the gateway is ready
            print("listening on", flush=True)

    import os

    from fixgw.cli import EVENT_LOOP_ENV, event_loop_options

    try:  # the event loop ``fixgw run`` would pick (``FIXGW_EVENT_LOOP=asyncio``: the standard library's)
        anyio.run(run, backend_options=event_loop_options(os.environ.get(EVENT_LOOP_ENV) or "auto"))
    except KeyboardInterrupt:
        pass
