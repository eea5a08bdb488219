"""``fixgw status`` over a real bridge: tables and JSON from a running gateway, and one line for each failure.

The command runs in-process through ``fixgw.cli.main`` (in a worker thread, so the bridge it reads keeps
serving in the test's event loop) and, once, as the installed console script.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import anyio
import pytest
from bridge_helpers import FAR_SECRET, KEYS, OPS_SECRET, READ_SECRET, TRADE_SECRET, FakeView
from test_bridge_gateway import _sell, sim, stack  # noqa: F401  (sim: a fixture)

from fixgw.bridge import AsyncBridgeClient, BridgeServer, create_app
from fixgw.bridge.status import latency_series
from fixgw.cli import main
from fixgw.sim import SimServer

ENV = ("FIXGW_BRIDGE_KEY", "FIXGW_BRIDGE_SECRET", "FIXGW_BRIDGE_URL")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no var/bridge/demo-read.secret here


def secret_file(tmp_path: Path, secret: str) -> str:
    path = tmp_path / "key.secret"
    path.write_text(secret + "\n")
    return str(path)


def _buy(cl: str, qty: str, price: str) -> dict[str, Any]:
    return {"client_order_id": cl, "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": qty,
            "price": price}


@pytest.mark.anyio
async def test_status_tables_show_sessions_venues_open_orders_and_fills(
    sim: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    async with stack(sim) as (gw, url), AsyncBridgeClient(url, "trader", TRADE_SECRET, timeout=10) as t:
        await t.post("/v1/orders", _buy("REST-1", "0.1", "50000"))
        _sell(sim, "0.2", "60000")
        await t.post("/v1/orders", _buy("FILL-1", "0.2", "60000"))
        with anyio.fail_after(20):
            while (await t.get("/v1/orders/FILL-1"))["status"] != "filled" or \
                    (await t.get("/v1/orders/REST-1"))["status"] != "new":
                await anyio.sleep(0.05)
        args = ["status", "--url", url, "--key-id", "reader", "--secret-file", secret_file(tmp_path, READ_SECRET)]
        rc = await anyio.to_thread.run_sync(main, args)
    out, err = capsys.readouterr()
    assert (rc, err) == (0, "")
    sections = {block.split("\n", 1)[0]: block for block in out.strip().split("\n\n")}
    assert set(sections) == {"SESSIONS", "VENUES", "OPEN ORDERS (1)", "RECENT FILLS (newest first)", "LATENCY"}
    assert "FIX.4.4:FIXGW->CLIENT44  DISCONNECTED" in sections["SESSIONS"]
    assert "sim" in sections["VENUES"] and "SUBSCRIBED" in sections["VENUES"]
    (order,) = sections["OPEN ORDERS (1)"].splitlines()[2:]
    assert order.split()[:9] == ["REST-1", "oms", "sim", "BTC/USDT", "buy", "limit", "0.1", "50000", "0"]
    (fill,) = sections["RECENT FILLS (newest first)"].splitlines()[2:]
    assert fill.split()[1:7] == ["FILL-1", "oms", "BTC/USDT", "buy", "0.2", "60000"]


@pytest.mark.anyio
async def test_status_json_with_the_key_from_the_environment(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    monkeypatch.setenv("FIXGW_BRIDGE_KEY", "reader")
    monkeypatch.setenv("FIXGW_BRIDGE_SECRET", READ_SECRET)
    async with stack(sim) as (gw, url), AsyncBridgeClient(url, "trader", TRADE_SECRET, timeout=10) as t:
        await t.post("/v1/orders", _buy("J-1", "0.1", "50000"))
        monkeypatch.setenv("FIXGW_BRIDGE_URL", url)
        rc = await anyio.to_thread.run_sync(main, ["status", "--json", "--url", url])
    out, err = capsys.readouterr()
    assert (rc, err) == (0, "")
    report = json.loads(out)
    assert set(report) == {"sessions", "venues", "open_orders", "recent_fills", "latency"}
    assert [o["client_order_id"] for o in report["open_orders"]] == ["J-1"]
    assert report["venues"][0]["name"] == "sim" and len(report["sessions"]) == 2
    assert set(report["latency"]) == {"series", "note"}  # /metrics answers loopback


def test_latency_series_percentiles_interpolated_in_the_buckets() -> None:
    text = "\n".join([
        "# TYPE fixgw_first_report_seconds histogram",
        'fixgw_first_report_seconds_bucket{session="S",le="0.001"} 50.0',
        'fixgw_first_report_seconds_bucket{session="S",le="0.01"} 100.0',
        'fixgw_first_report_seconds_bucket{session="S",le="+Inf"} 100.0',
        'fixgw_first_report_seconds_count{session="S"} 100.0',
        'fixgw_first_report_seconds_sum{session="S"} 0.3',
        "# TYPE fixgw_orders gauge",
        'fixgw_orders{session="S",status="new"} 3.0',
        "",
    ])
    (series,) = latency_series(text)
    assert (series["name"], series["labels"], series["count"]) == ("fixgw_first_report_seconds", {"session": "S"}, 100)
    assert series["p50"] == pytest.approx(0.001)
    assert series["p95"] == pytest.approx(0.001 + 0.009 * 0.9)
    assert series["p99"] == pytest.approx(0.001 + 0.009 * 0.98)


# -- one line for every failure ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bridge_url() -> Iterator[str]:
    with BridgeServer(create_app(FakeView(), KEYS)) as server:  # the real clock: the command signs with it
        yield server.base_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("key,secret,needle", [
    ("stranger", READ_SECRET, "401 unknown_key: no key has this id"),
    ("reader", TRADE_SECRET, "401 bad_signature: the signature does not match the request"),
    ("far", FAR_SECRET, "403 forbidden_address: this key may not be used from this address"),
    ("ops", OPS_SECRET, "403 missing_permission: this key lacks the read permission"),
])
def test_status_refused_key_one_line_with_status_code_and_reason(
    bridge_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, secret: str, needle: str
) -> None:
    rc = main(["status", "--url", bridge_url, "--key-id", key, "--secret-file", secret_file(tmp_path, secret)])
    out, err = capsys.readouterr()
    assert (rc, out) == (1, "")
    assert err == f"fixgw status: the bridge at {bridge_url} refused the request: {needle}\n"


def test_status_connection_refused_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    rc = main(["status", "--url", url, "--key-id", "reader", "--secret-file", secret_file(tmp_path, READ_SECRET)])
    assert (rc, capsys.readouterr().err) == (1, f"fixgw status: cannot reach the bridge at {url}: connection refused\n")


@pytest.mark.parametrize("argv,env,needle", [
    ([], {}, "no key: give --key-id and --secret-file, or set FIXGW_BRIDGE_KEY and FIXGW_BRIDGE_SECRET"),
    (["--key-id", "reader"], {}, "no secret: give --secret-file or set FIXGW_BRIDGE_SECRET"),
    (["--key-id", "reader", "--secret-file", "missing.secret"], {}, "--secret-file missing.secret: No such file"),
    (["--url", "127.0.0.1:9880"], {"FIXGW_BRIDGE_KEY": "reader", "FIXGW_BRIDGE_SECRET": READ_SECRET},
     "--url 127.0.0.1:9880: must start with http:// or https://"),
])
def test_status_usage_mistake_one_line_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                              argv: list[str], env: dict[str, str], needle: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    rc = main(["status", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"fixgw status: {needle}") and err.count("\n") == 1


def test_status_demo_read_key_used_when_its_file_is_here(bridge_url: str, tmp_path: Path) -> None:
    (tmp_path / "var" / "bridge").mkdir(parents=True)
    (tmp_path / "var" / "bridge" / "demo-read.secret").write_text(READ_SECRET + "\n")
    # The test bridge has no demo-read key: the answer proves the command signed with that key id.
    done = subprocess.run([sys.executable, "-m", "fixgw.cli", "status", "--url", bridge_url], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().endswith("401 unknown_key: no key has this id")
