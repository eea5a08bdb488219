"""Crash suite settings: how many seeds (``FIXGW_CRASH_SEEDS``), from which (``FIXGW_CRASH_FIRST_SEED``)."""

from __future__ import annotations

import os

import pytest

#: Seeds run by a plain ``pytest`` (CI): each kills the gateway ``KILLS_PER_SEED`` times.
DEFAULT_SEEDS = 4
KILLS_PER_SEED = 3


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise pytest.UsageError(f"{name} must be an integer, not {raw!r}") from None


def crash_seeds() -> list[int]:
    first = _env_int("FIXGW_CRASH_FIRST_SEED", 1)
    return list(range(first, first + max(0, _env_int("FIXGW_CRASH_SEEDS", DEFAULT_SEEDS))))


def crash_kills() -> int:
    return max(1, _env_int("FIXGW_CRASH_KILLS", KILLS_PER_SEED))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "crash: the gateway killed -9 mid-burst and restarted (tests/crash)")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
