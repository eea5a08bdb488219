"""Shared fixtures for the venue tests: the documented vectors and payloads (copied as test data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

_VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text(encoding="utf-8"))["vectors"]


def vectors(kind_prefix: str) -> list[dict]:
    return [v for v in _VECTORS if v["kind"].startswith(kind_prefix)]


def documented(name: str):
    for v in _VECTORS:
        if v.get("name") == name:
            return v["json"]
    raise KeyError(name)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
