"""What venue REST clients share: a send with foreign errors translated, and JSON body decoding.

A request that failed before it could reach the venue is a ``TransportError``; one that may have
reached it is a ``VenueUnknownOutcome`` — except a GET, which changes nothing and is simply retried
by whoever asked. No ``httpx`` exception escapes.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from fixgw.errors import TransportError, VenueUnknownOutcome

__all__ = ["send", "json_body"]


async def send(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send one request; translate transport failures into ``fixgw.errors``."""
    try:
        return await client.request(method, path, **kwargs)
    except httpx.ConnectError as exc:
        raise TransportError(str(exc)) from exc
    except httpx.HTTPError as exc:
        if method == "GET":
            raise TransportError(repr(exc)) from exc
        raise VenueUnknownOutcome(repr(exc)) from exc


def json_body(resp: httpx.Response, default: Any = None) -> Any:
    """Return the decoded JSON body, or ``default`` when it is empty or not JSON."""
    if not resp.content:
        return default
    try:
        return resp.json()
    except json.JSONDecodeError:
        return default
