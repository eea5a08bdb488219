"""Configuration of the simulator: instruments, keys, balances, market maker, limits.

The demo key below is a published, demo-only test credential of this simulator; it grants nothing
anywhere else. ``FIXGW_SIM_API_KEY`` / ``FIXGW_SIM_API_SECRET`` replace it.

The ``/sim/*`` control endpoints (faults, dropped connections, balances, state) answer only requests
carrying ``Authorization: Bearer <control token>``. The token is ``SimConfig.control_token``, else
``FIXGW_SIM_TOKEN``, else a random one made per start (``resolve_control_token``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from fixgw.clock import Clock

from .instruments import InstrumentSpec, default_instruments
from .limits import LimitConfig
from .marketmaker import MakerConfig
from .signing import ApiKey

__all__ = ["SimConfig", "DEMO_API_KEY", "DEMO_API_SECRET", "DEMO_ACCOUNT", "default_balances", "demo_keys",
           "CONTROL_TOKEN_ENV", "resolve_control_token"]

DEMO_API_KEY = "fixgwSimDemoKey0000000000000000000000000000000000000000000000001"
DEMO_API_SECRET = "fixgwSimDemoSecret0000000000000000000000000000000000000000000001"
DEMO_ACCOUNT = "demo"
CONTROL_TOKEN_ENV = "FIXGW_SIM_TOKEN"


def default_balances() -> dict[str, Decimal]:
    """Generous starting balances of every configured account."""
    return {
        "USDT": Decimal("1000000"),
        "BTC": Decimal("10"),
        "ETH": Decimal("100"),
        "SOL": Decimal("1000"),
        "BNB": Decimal("100"),
    }


def demo_keys(environ: dict[str, str] | None = None) -> tuple[ApiKey, ...]:
    """The demo HMAC key (or the one named by FIXGW_SIM_API_KEY/FIXGW_SIM_API_SECRET)."""
    env = os.environ if environ is None else environ
    key = env.get("FIXGW_SIM_API_KEY") or DEMO_API_KEY
    secret = env.get("FIXGW_SIM_API_SECRET") or DEMO_API_SECRET
    return (ApiKey(api_key=key, account_id=DEMO_ACCOUNT, secret=secret),)


def resolve_control_token(explicit: str | None = None, environ: dict[str, str] | None = None) -> str:
    """The control token: ``explicit``, else ``FIXGW_SIM_TOKEN``, else a fresh random one.

    A token is visible ASCII without spaces (it travels in an HTTP header); anything else raises
    ``ValueError`` naming where it came from.
    """
    env = os.environ if environ is None else environ
    source, token = "control_token", explicit
    if token is None:
        source, token = CONTROL_TOKEN_ENV, env.get(CONTROL_TOKEN_ENV) or None
    if token is None:
        return secrets.token_urlsafe(24)
    if not token or not all("!" <= ch <= "~" for ch in token):
        raise ValueError(f"{source}: a control token is non-empty visible ASCII without spaces")
    return token


@dataclass(frozen=True)
class SimConfig:
    """Everything a simulator instance needs; the defaults give a ready demo exchange.

    ``api_keys`` empty means the demo key (see ``demo_keys``). Every account named by a key starts
    with ``balances``. ``market_maker=None`` leaves the books empty; ``maker_interval_s=None`` (or 0)
    steps the maker only when asked (``SimServer.step_market_maker``), after ``warm_up_steps`` steps
    at start. ``clock`` defaults to the system clock. ``control_token`` guards the ``/sim/*``
    endpoints (``None``: ``FIXGW_SIM_TOKEN``, else random per start); it never appears in the repr.
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 1
    instruments: tuple[InstrumentSpec, ...] = field(default_factory=lambda: tuple(default_instruments()))
    api_keys: tuple[ApiKey, ...] = ()
    balances: dict[str, Decimal] = field(default_factory=default_balances)
    maker_commission: Decimal = Decimal("0.001")
    taker_commission: Decimal = Decimal("0.001")
    market_maker: MakerConfig | None = field(default_factory=MakerConfig)
    maker_interval_s: float | None = 1.0
    warm_up_steps: int = 1
    limits: LimitConfig = field(default_factory=LimitConfig)
    clock: Clock | None = None
    log_level: str = "warning"
    control_token: str | None = field(default=None, repr=False)
    #: the venue protocol spoken (``fixgw.sim.dialects.DIALECTS``): binance, coinbase or kraken
    dialect: str = "binance"

    def keys(self) -> tuple[ApiKey, ...]:
        return self.api_keys or demo_keys()
