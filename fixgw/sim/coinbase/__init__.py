"""The Coinbase Exchange dialect of the simulator: its REST API, signing, errors, limits and feed.

``fixgw sim --dialect coinbase`` (or ``SimConfig(dialect="coinbase")``) serves the shared matching
engine through this protocol layer: REST at the venue's paths (``/orders``, ``/fills``, ``/accounts``,
``/products``, ``/time``), CB-ACCESS-* signing, ``{"message": ...}`` errors, per-second request limits,
and the WebSocket feed at ``/`` with the authenticated ``user`` and the ``full`` channel.

Every key of the simulator shares one passphrase: ``DEMO_PASSPHRASE``, or ``FIXGW_SIM_API_PASSPHRASE``.
Key secrets are used base64-decoded, as the venue issues them (the demo secret is valid base64).
"""

from .symbols import ASSET_ALIASES, canonical_asset, product_id

__all__ = ["DEMO_PASSPHRASE", "PASSPHRASE_ENV", "FEED_PATH", "ASSET_ALIASES", "canonical_asset", "product_id",
           "passphrase", "feed_url"]

#: the published, demo-only passphrase of the simulator's keys (it grants nothing anywhere else)
DEMO_PASSPHRASE = "fixgwSimDemoPassphrase"
PASSPHRASE_ENV = "FIXGW_SIM_API_PASSPHRASE"
#: where the WebSocket feed is served (the venue's feed is at the root of its host too)
FEED_PATH = "/"


def passphrase(environ: dict[str, str] | None = None) -> str:
    """The passphrase every simulator key wants: ``FIXGW_SIM_API_PASSPHRASE``, else the demo one."""
    import os

    env = os.environ if environ is None else environ
    return env.get(PASSPHRASE_ENV) or DEMO_PASSPHRASE


def feed_url(base_url: str) -> str:
    """The feed's ``ws://`` URL of a simulator whose REST base is ``base_url``."""
    return "ws" + base_url.removeprefix("http").rstrip("/") + FEED_PATH
