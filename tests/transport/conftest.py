from __future__ import annotations

import os

import pytest


@pytest.fixture
def anyio_backend():
    """asyncio's own loop; ``FIXGW_EVENT_LOOP=uvloop`` runs this directory on uvloop's (as ``fixgw run``
    does by default when uvloop is installed)."""
    if os.environ.get("FIXGW_EVENT_LOOP") == "uvloop":
        return ("asyncio", {"use_uvloop": True})
    return "asyncio"
