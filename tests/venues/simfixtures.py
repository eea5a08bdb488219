"""Fixtures shared by the adapter test modules that run against one simulator per module.

``sim = module_sim(start_sim)`` in a module gives it a module-scoped ``sim`` fixture from that
dialect's harness (its ``WarpClock`` as ``sim.warp``); importing ``reset_faults_after`` clears the
simulator's fault switches after every case; ``cid = client_ids("b")`` numbers client order ids so
that every case uses its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

__all__ = ["client_ids", "module_sim", "reset_faults_after"]


def module_sim(start_sim: Callable[[], tuple[Any, Any]]) -> Any:
    """A module-scoped ``sim`` fixture: the server ``start_sim()`` starts, stopped after the module."""

    @pytest.fixture(scope="module")
    def sim() -> Iterator[Any]:
        server, warp = start_sim()
        server.warp = warp
        yield server
        server.stop()

    return sim


@pytest.fixture(autouse=True)
def reset_faults_after(sim: Any) -> Iterator[None]:
    yield
    sim.reset_faults()


def client_ids(prefix: str = "") -> Callable[[str], str]:
    """``cid(tag)`` -> ``f"{prefix}{tag}-{n}"``, n counting up from 1 for this module."""
    ids = itertools.count(1)

    def cid(tag: str) -> str:
        return f"{prefix}{tag}-{next(ids)}"

    return cid
