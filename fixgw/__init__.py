"""fixgw: a FIX 4.2/4.4 gateway for crypto exchanges, with a simulated exchange built in.

Run ``fixgw run`` for the embedded demo, ``fixgw --help`` for the rest. The composition root is
``fixgw.gateway.Gateway``; configuration is ``fixgw.config``.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
