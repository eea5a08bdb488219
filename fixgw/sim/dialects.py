"""Which venue protocol a simulator speaks: one matching engine, several dialects.

Every dialect is a module exposing ``build_app(state: SimState) -> FastAPI``; the engine, the
faults, the clock and the ``/sim`` admin API are shared, only the venue-facing protocol (paths,
signing, symbols, error shapes, private feeds) differs. ``binance`` is the default and the first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import SimState

__all__ = ["DIALECTS", "build_app_for"]

#: dialect name -> module that holds its ``build_app``
DIALECTS: dict[str, str] = {
    "binance": "fixgw.sim.app",
    "coinbase": "fixgw.sim.coinbase.app",
    "kraken": "fixgw.sim.kraken.app",
}


def build_app_for(state: "SimState") -> Any:
    """The ASGI app of ``state.config.dialect``; ``ValueError`` for a dialect this build lacks."""
    name = state.config.dialect
    module_name = DIALECTS.get(name)
    if module_name is None:
        raise ValueError(f"unknown simulator dialect {name!r} (known: {', '.join(sorted(DIALECTS))})")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ValueError(f"simulator dialect {name!r} is not available in this build") from exc
        raise
    return module.build_app(state)
