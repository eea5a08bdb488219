"""The /sim/* control endpoints answer only the control token; the venue's API never asks for it."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from typing import Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.sim import SimConfig, SimServer
from fixgw.sim.config import CONTROL_TOKEN_ENV, resolve_control_token

CONTROL_CALLS = [
    ("GET", "/sim/faults", None),
    ("POST", "/sim/faults", {"latency_ms": 0}),
    ("POST", "/sim/faults/reset", None),
    ("POST", "/sim/websockets/drop", None),
    ("POST", "/sim/market-maker/step", None),
    ("POST", "/sim/balances", {"account": "demo", "asset": "USDT", "amount": "1"}),
    ("GET", "/sim/state", None),
    ("GET", "/sim/no-such-thing", None),
]


@pytest.fixture(scope="module")
def guarded() -> Iterator[SimServer]:
    with SimServer(SimConfig(seed=3, maker_interval_s=None), control_token="s3cret-token") as server:
        yield server


@pytest.fixture
def http(guarded: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=guarded.base_url, timeout=10) as c:
        yield c


@pytest.mark.parametrize(("method", "path", "body"), CONTROL_CALLS)
def test_control_endpoint_without_token_is_401_json(http: httpx.Client, method: str, path: str, body) -> None:
    r = http.request(method, path, json=body)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"] == "unauthorized" and "Bearer" in r.json()["detail"]
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [
    "Bearer wrong-token", "Bearer s3cret-token-and-more", "Bearer s3cret-toke", "Basic s3cret-token",
    "s3cret-token", "Bearer", "Bearer  s3cret-token x",
])
def test_control_endpoint_with_wrong_credentials_is_401(http: httpx.Client, header: str) -> None:
    r = http.post("/sim/faults", json={"latency_ms": 50}, headers={"Authorization": header})
    assert r.status_code == 401 and "error" in r.json()


def test_control_endpoint_refused_request_changes_nothing(guarded: SimServer, http: httpx.Client) -> None:
    assert http.post("/sim/faults", json={"latency_ms": 700}).status_code == 401
    assert guarded.call(lambda st: st.faults.latency_ms) == 0


@pytest.mark.parametrize(("method", "path", "body"), CONTROL_CALLS[:-1])
def test_control_endpoint_with_token_is_served(guarded: SimServer, http: httpx.Client, method: str, path: str,
                                               body) -> None:
    r = http.request(method, path, json=body, headers=guarded.control_headers)
    assert r.status_code == 200, r.text


def test_control_endpoint_scheme_is_case_insensitive(http: httpx.Client) -> None:
    assert http.get("/sim/state", headers={"Authorization": "bearer s3cret-token"}).status_code == 200


def test_control_token_public_api_needs_no_token(http: httpx.Client) -> None:
    assert http.get("/api/v3/ping").status_code == 200
    assert http.get("/api/v3/time").status_code == 200
    assert http.get("/api/v3/depth", params={"symbol": "BTCUSDT"}).status_code == 200
    # an Authorization header the venue does not use changes nothing either
    assert http.get("/api/v3/ping", headers={"Authorization": "Bearer nonsense"}).status_code == 200


def test_control_token_random_per_server_when_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONTROL_TOKEN_ENV, raising=False)
    a, b = SimServer(SimConfig(market_maker=None)), SimServer(SimConfig(market_maker=None))
    assert a.control_token != b.control_token
    assert len(a.control_token) >= 24


def test_control_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONTROL_TOKEN_ENV, "from-env-token")
    with SimServer(SimConfig(market_maker=None, maker_interval_s=None)) as server:
        assert server.control_token == "from-env-token"
        with httpx.Client(base_url=server.base_url) as c:
            assert c.get("/sim/faults", headers={"Authorization": "Bearer from-env-token"}).status_code == 200
            assert c.get("/sim/faults").status_code == 401


def test_control_token_parameter_beats_config_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONTROL_TOKEN_ENV, "from-env")
    assert SimServer(SimConfig(control_token="from-config")).control_token == "from-config"
    assert SimServer(SimConfig(control_token="from-config"), control_token="param").control_token == "param"


@pytest.mark.parametrize("bad", ["", "has space", "tab\there", "caf\u00e9", "line\nbreak"])
def test_control_token_malformed_is_refused_clearly(bad: str) -> None:
    with pytest.raises(ValueError, match="control_token"):
        SimServer(SimConfig(), control_token=bad)
    with pytest.raises(ValueError, match=CONTROL_TOKEN_ENV):
        resolve_control_token(None, {CONTROL_TOKEN_ENV: bad} if bad else {CONTROL_TOKEN_ENV: " "})


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64))
def test_control_token_resolution_keeps_any_visible_ascii_token(token: str) -> None:
    assert resolve_control_token(token, {}) == token
    assert resolve_control_token(None, {CONTROL_TOKEN_ENV: token}) == token


def test_control_token_never_in_config_repr() -> None:
    server = SimServer(SimConfig(), control_token="hidden-token-value")
    assert "hidden-token-value" not in repr(server.config)


def test_control_token_printed_by_fixgw_sim_banner(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from fixgw.sim import cli

    monkeypatch.delenv(CONTROL_TOKEN_ENV, raising=False)
    seen: dict[str, str] = {}

    def fake_run(app, **kw) -> None:  # serve nothing: the banner is what this test reads
        seen["token"] = app.state.sim.control_token

    monkeypatch.setattr(uvicorn, "run", fake_run)
    err = io.StringIO()
    with redirect_stderr(err):
        assert cli.main(["--port", "0", "--no-market-maker"]) == 0
    assert f"Authorization: Bearer {seen['token']}" in err.getvalue()


def test_control_token_from_env_not_echoed_by_fixgw_sim_banner(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from fixgw.sim import cli

    monkeypatch.setenv(CONTROL_TOKEN_ENV, "operator-chosen-token")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    err = io.StringIO()
    with redirect_stderr(err):
        assert cli.main(["--port", "0", "--no-market-maker"]) == 0
    assert "operator-chosen-token" not in err.getvalue() and CONTROL_TOKEN_ENV in err.getvalue()


def test_control_token_malformed_env_makes_fixgw_sim_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from fixgw.sim import cli

    monkeypatch.setenv(CONTROL_TOKEN_ENV, "two words")
    err = io.StringIO()
    with redirect_stderr(err):
        assert cli.main(["--port", "0", "--no-market-maker"]) == 2
    assert CONTROL_TOKEN_ENV in err.getvalue()


@pytest.mark.parametrize("path", ["/%73im/faults", "/sim/faults/", "/sim"])
def test_control_endpoint_spelled_otherwise_still_needs_the_token(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code == 401
