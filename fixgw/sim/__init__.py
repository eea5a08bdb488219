"""A Binance-spot-compatible simulated exchange: matching engine, REST + WebSocket server, faults.

Start it in-process::

    from fixgw.sim import SimServer, SimConfig
    with SimServer(SimConfig(maker_interval_s=None)) as sim:
        sim.base_url, sim.ws_api_url, sim.ws_stream_url

    async with running_sim(SimConfig()) as sim: ...

or from the command line: ``fixgw sim --port 8765 --seed 1`` (``fixgw.sim.cli.main``).
This package never imports ``fixgw.venues``: it is an independent implementation of the protocol.
"""

from .config import DEMO_ACCOUNT, DEMO_API_KEY, DEMO_API_SECRET, SimConfig, default_balances
from .engine import MatchingEngine, PlaceResult
from .errors import ApiError
from .faults import Faults
from .instruments import InstrumentSpec, default_instruments
from .limits import LimitConfig
from .marketmaker import MakerConfig, MarketMaker
from .model import NewOrder
from .server import SimServer, running_sim
from .signing import ApiKey

__all__ = [
    "SimServer",
    "running_sim",
    "SimConfig",
    "LimitConfig",
    "MakerConfig",
    "MarketMaker",
    "MatchingEngine",
    "PlaceResult",
    "NewOrder",
    "InstrumentSpec",
    "default_instruments",
    "default_balances",
    "ApiKey",
    "ApiError",
    "Faults",
    "DEMO_API_KEY",
    "DEMO_API_SECRET",
    "DEMO_ACCOUNT",
]
