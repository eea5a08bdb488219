"""Schemathesis against the live bridge: every operation of the OpenAPI document, signed, no 5xx, and every
answer matches the document.

The gateway runs on the simulator and the bridge beside it (real loopback sockets); Schemathesis makes
requests from the app's own document, bounded (``MAX_EXAMPLES`` per operation), from a worker thread
while the event loop serves them. Each request is signed as it leaves (a ``requests`` auth hook over the
exact path, query and body bytes), with the admin key that holds every permission and every account, so
what is checked is the routes, not the refusals of the signature check.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

schemathesis = pytest.importorskip("schemathesis")

from bridge_helpers import ADMIN_SECRET  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from requests.auth import AuthBase  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_bridge_gateway import sim, stack  # noqa: E402,F401  (sim: a fixture)

from fixgw.bridge.auth import signed_headers  # noqa: E402
from fixgw.bridge.openapi import openapi_document  # noqa: E402
from fixgw.sim import SimServer  # noqa: E402

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MAX_EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class _Sign(AuthBase):
    """Signs the prepared request as it will be sent: path and query of its URL, its body bytes."""

    def __init__(self, statuses: dict[str, list[int]], label: str) -> None:
        self.statuses = statuses
        self.label = label

    def __call__(self, r: Any) -> Any:
        path, _, query = r.path_url.partition("?")
        body = r.body or b""
        body = body.encode() if isinstance(body, str) else body
        r.headers.update(signed_headers("admin", ADMIN_SECRET, time.time_ns() // 1_000_000, r.method, path, query,
                                        body))
        return r


#: Operation -> requests made after its generated ones (operations run in the document's order):
#: valid ones, which random data seldom makes, so the success answers are checked against the document too.
KNOWN: dict[str, list[dict[str, Any]]] = {
    "POST /v1/sessions/{session}/logout": [{"path_parameters": {"session": "FIX.4.4:FIXGW->CLIENT44"}}],
    "PUT /v1/sessions/{session}/sequence-numbers": [
        {"path_parameters": {"session": "FIX.4.2:FIXGW->CLIENT42"}, "body": {"next_sender_seq": 1}}],
    "POST /v1/sessions/{session}/disable": [{"path_parameters": {"session": "FIX.4.2:FIXGW->CLIENT42"}}],
    "POST /v1/sessions/{session}/enable": [{"path_parameters": {"session": "FIX.4.2:FIXGW->CLIENT42"}}],
    "POST /v1/orders": [{"body": {"client_order_id": f"ST-{i}", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
                                  "quantity": "0.1", "price": "40000"}} for i in range(3)],
    "GET /v1/orders/{order_id}": [{"path_parameters": {"order_id": "ST-0"}}],
    "PATCH /v1/orders/{order_id}": [{"path_parameters": {"order_id": "ST-1"}, "body": {"price": "39000"}}],
    "DELETE /v1/orders/{order_id}": [{"path_parameters": {"order_id": "ST-2"}}],
    "POST /v1/kill-switch/{target}": [{"path_parameters": {"target": "global"}}],
    "DELETE /v1/kill-switch/{target}": [{"path_parameters": {"target": "global"}}],
}


def _fuzz(base_url: str, statuses: dict[str, list[int]]) -> list[str]:
    """Run every operation; return the failures (operation: what failed), empty when all held;
    ``statuses``: operation -> the status of every answer."""
    schema = schemathesis.openapi.from_dict(openapi_document())
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(base_url=base_url, auth=_Sign(statuses, operation.label), timeout=10)
            statuses.setdefault(operation.label, []).append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
            for kw in KNOWN.get(operation.label, ()):  # requests that get past the refusals, in order
                case = operation.Case(**kw)
                response = case.call(base_url=base_url, auth=_Sign(statuses, operation.label), timeout=10)
                statuses.setdefault(operation.label, []).append(response.status_code)
                case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # noqa: BLE001 - collected and shown all at once
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:2000]}")
    return failures


async def test_bridge_schemathesis_every_operation_no_server_error_and_matches_schema(sim: SimServer) -> None:
    statuses: dict[str, list[int]] = {}
    async with stack(sim) as (gw, url):
        with anyio.fail_after(120):
            failures = await anyio.to_thread.run_sync(_fuzz, url, statuses)
    assert not failures, "\n\n".join(failures)
    # Every operation ran, and signed requests got through the guard to the routes (not all 401s).
    assert len(statuses) == len(openapi_document()["paths"]) + sum(
        len(ops) - 1 for ops in openapi_document()["paths"].values())
    assert all(401 not in codes for codes in statuses.values()), statuses
    assert sum(len(codes) for codes in statuses.values()) >= len(statuses) * 5
