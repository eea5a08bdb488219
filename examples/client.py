"""A FIX client in a few lines: log on to a running gateway, send orders, print the ExecutionReports.

Start the embedded demo in one terminal (``fixgw run``), then run this file in another. It is the same
walkthrough as ``fixgw client`` and shows how an application embeds fixgw's FIX engine: a
``SessionConfig``, an ``Application`` with callbacks, and an ``Initiator`` that keeps the session
connected.

    python examples/client.py [--port 9878] [--fix 4.2]
"""

from __future__ import annotations

import sys

from fixgw.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["client", *sys.argv[1:]]))
