"""The web console: its static files, the query-string signature of a WebSocket upgrade, and the page itself
driven in a real headless Chromium over the DevTools protocol (a gateway, the bridge and the simulator on
loopback; the console signs in with the read key, an order placed with the trade key shows up live).

The browser test needs Debian's ``chromium``; without it the test is skipped, unless ``CI`` is set, where
it fails (``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator

import anyio
import httpx
import pytest
from bridge_helpers import READ_SECRET, TRADE_SECRET, RawSigner, error_of
from test_bridge_gateway import sim, stack  # noqa: F401  (sim: a fixture)
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as sync_ws_connect

from fixgw.bridge import AsyncBridgeClient
from fixgw.bridge.auth import canonical_request, sign, websocket_credentials
from fixgw.bridge.openapi import openapi_document
from fixgw.sim import SimServer

SIG = "ab" * 32


# -- the query-string signature ---------------------------------------------------------------------


def test_websocket_credentials_signature_last_signed_query_is_what_precedes_it() -> None:
    headers, signed = websocket_credentials([(b"host", b"x")], b"channels=orders&fixgw_key=k&fixgw_timestamp=5"
                                                              b"&fixgw_signature=" + SIG.encode())
    assert signed == b"channels=orders&fixgw_key=k&fixgw_timestamp=5"
    assert headers == [(b"host", b"x"), (b"x-fixgw-signature", SIG.encode()), (b"x-fixgw-key", b"k"),
                       (b"x-fixgw-timestamp", b"5")]


@pytest.mark.parametrize("headers,query", [
    ([(b"X-FIXGW-KEY", b"k")], b"fixgw_key=k&fixgw_timestamp=5&fixgw_signature=" + SIG.encode()),  # headers win
    ([], b"channels=orders"),  # no signature in the query: the headers' checks answer
    ([], b"channels=orders&not_fixgw_signature=1"),
])
def test_websocket_credentials_headers_given_or_no_signature_left_as_they_are(headers: list, query: bytes) -> None:
    assert websocket_credentials(headers, query) == (headers, query)


def _ws_url(raw: RawSigner, key: str, secret: str, query: str, *, sent_query: str | None = None) -> str:
    signed = f"{query}&fixgw_key={key}&fixgw_timestamp={raw.now_ms()}".lstrip("&")
    signature = sign(secret, canonical_request(key, raw.now_ms(), "GET", "/v1/stream", signed, b""))
    sent = signed if sent_query is None else signed.replace(query, sent_query)
    return raw.base_url.replace("http", "ws", 1) + f"/v1/stream?{sent}&fixgw_signature={signature}"


def test_stream_signed_in_the_query_opens_like_one_signed_in_headers(raw: RawSigner) -> None:
    with sync_ws_connect(_ws_url(raw, "reader", READ_SECRET, "channels=orders,sessions"), open_timeout=10) as ws:
        hello = json.loads(ws.recv(timeout=10))
        sessions = json.loads(ws.recv(timeout=10))
    assert (hello["type"], hello["key"], hello["channels"]) == ("hello", "reader", ["orders", "sessions"])
    assert sessions["type"] == "sessions"


def _refused(url: str) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as e:
        sync_ws_connect(url, open_timeout=10)
    answer = e.value.response
    return answer.status_code, json.loads(answer.body)["error"]["code"]


def test_stream_query_signature_tampered_replayed_or_unknown_key_refused(raw: RawSigner) -> None:
    tampered = _ws_url(raw, "reader", READ_SECRET, "channels=orders", sent_query="channels=fills")
    assert _refused(tampered) == (401, "bad_signature")
    url = _ws_url(raw, "reader", READ_SECRET, "channels=orders")
    with sync_ws_connect(url, open_timeout=10) as ws:
        ws.recv(timeout=10)
    assert _refused(url) == (401, "replayed_request")
    assert _refused(_ws_url(raw, "stranger", READ_SECRET, "channels=orders")) == (401, "unknown_key")
    assert _refused(_ws_url(raw, "reader", "w" * 40, "")) == (401, "bad_signature")


def test_query_signature_on_a_plain_http_request_not_accepted(raw: RawSigner) -> None:
    ts = raw.now_ms()
    signed = f"fixgw_key=reader&fixgw_timestamp={ts}"
    signature = sign(READ_SECRET, canonical_request("reader", ts, "GET", "/v1/orders", signed, b""))
    r = raw.send("GET", "/v1/orders", f"{signed}&fixgw_signature={signature}")
    assert error_of(r) == (401, "missing_credentials")  # only a WebSocket upgrade may sign in its query


# -- the static files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path,media,needle", [
    ("/console", "text/html", b"<form id=\"login\""),
    ("/console/console.js", "text/javascript", b"FIXGW-HMAC-SHA256"),
    ("/console/console.css", "text/css", b"table"),
])
def test_console_files_served_unsigned_with_a_strict_policy(raw: RawSigner, path: str, media: str,
                                                             needle: bytes) -> None:
    r = raw.send("GET", path)
    assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    assert needle in r.content
    policy = r.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"


def test_console_page_loads_nothing_remote_and_stays_out_of_the_contract(raw: RawSigner) -> None:
    for path in ("/console", "/console/console.js", "/console/console.css"):
        text = raw.send("GET", path).text
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path
        assert "localStorage" not in text and "sessionStorage" not in text and "document.cookie" not in text
    assert not any(p.startswith("/console") for p in openapi_document()["paths"])
    assert error_of(raw.send("GET", "/console/other.js")) == (401, "missing_credentials")  # no directory served


# -- the page in a real browser ----------------------------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI must install Debian's chromium and chromium-driver)")
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    return found


class DevTools:
    """A minimal Chrome DevTools protocol client on one page target."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.ids = itertools.count(1)
        self.waiting: dict[int, Any] = {}
        self.results: dict[int, Any] = {}
        self.events: list[dict[str, Any]] = []

    async def read(self) -> None:
        async for text in self.conn:
            msg = json.loads(text)
            if "id" in msg:
                self.results[msg["id"]] = msg
                self.waiting.pop(msg["id"]).set()
            else:
                self.events.append(msg)

    async def call(self, method: str, **params: Any) -> Any:
        ident = next(self.ids)
        done = self.waiting[ident] = anyio.Event()
        await self.conn.send(json.dumps({"id": ident, "method": method, "params": params}))
        with anyio.fail_after(30):
            await done.wait()
        msg = self.results.pop(ident)
        if "error" in msg:
            raise AssertionError(f"{method}: {msg['error']}")
        return msg["result"]

    async def js(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float = 30) -> Any:
        with anyio.fail_after(timeout):
            while not (value := await self.js(expression)):
                await anyio.sleep(0.1)
        return value


@contextlib.asynccontextmanager
async def browser(executable: str, tmp_path: Path) -> AsyncIterator[DevTools]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    proc = subprocess.Popen(
        [executable, "--headless=new", "--remote-debugging-port=0", f"--user-data-dir={profile}", "--no-sandbox",
         "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--window-size=1400,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        with anyio.fail_after(60):
            while not (port_file.exists() and port_file.read_text().strip()):
                assert proc.poll() is None, f"chromium exited with status {proc.returncode}"
                await anyio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with httpx.AsyncClient() as http:
            with anyio.fail_after(30):
                while not (pages := [t for t in (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
                                     if t["type"] == "page"]):
                    await anyio.sleep(0.1)
        async with ws_connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as conn:
            tools = DevTools(conn)
            async with anyio.create_task_group() as tg:
                tg.start_soon(tools.read)
                for domain in ("Page", "Runtime", "Log"):
                    await tools.call(f"{domain}.enable")
                yield tools
                tg.cancel_scope.cancel()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the group chromium started in: its own children
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _buy(cl: str) -> dict[str, Any]:
    return {"client_order_id": cl, "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.1",
            "price": "50000"}


@pytest.mark.anyio
@pytest.mark.timeout(240)
async def test_console_in_chromium_signs_in_with_read_key_and_shows_an_order_live(
    sim: SimServer, tmp_path: Path  # noqa: F811
) -> None:
    executable = _chromium()  # skips (fails under CI) before anything starts
    async with stack(sim) as (gw, url), AsyncBridgeClient(url, "trader", TRADE_SECRET, timeout=10) as trader:
        async with browser(executable, tmp_path) as page:
            await page.call("Page.navigate", url=url + "/console")
            await page.until("document.readyState === 'complete' && !!document.getElementById('login')")
            await page.js("window.notReloaded = true")
            await page.js(
                "document.getElementById('login-key').value = 'reader';"
                f"document.getElementById('login-secret').value = {json.dumps(READ_SECRET)};"
                "document.getElementById('login').requestSubmit(); true")
            await page.until("document.getElementById('stream-state').textContent === 'live'", timeout=60)
            sessions = await page.until("Array.from(document.querySelectorAll('#sessions tbody tr'), "
                                        "r => r.dataset.session)")
            assert "FIX.4.4:FIXGW->CLIENT44" in sessions
            venue = await page.until("(r => r && r.cells[1].textContent)(document.querySelector("
                                     "'#venues tr[data-venue=\"sim\"]'))")
            assert venue == "SUBSCRIBED"
            assert await page.js("document.querySelectorAll('#orders tbody tr').length") == 0

            placed = await trader.send("POST", "/v1/orders", json=_buy("CONSOLE-1"))
            assert placed.status_code == 201, placed.text
            row = await page.until(
                "(r => r && Array.from(r.cells, c => c.textContent))("
                "document.querySelector('#orders tr[data-client-order-id=\"CONSOLE-1\"]'))", timeout=30)
            assert row[0] == "CONSOLE-1" and row[3] == "BTC/USDT" and row[6] == "0.1" and row[7] == "50000"
            await page.until("document.getElementById('events').textContent.includes('OrderSubmitted')")
            assert await page.js("window.notReloaded === true")  # updated in place: no reload
            note = await page.until("document.getElementById('latency-note').textContent")
            assert note in ("no latency histogram yet", "percentiles of the bridge's histograms (/metrics)")

            # The secret is nowhere but in the page's memory.
            kept = await page.js("JSON.stringify([localStorage, sessionStorage, location.href, document.cookie, "
                                 "document.getElementById('login-secret').value, document.body.innerHTML])")
            assert READ_SECRET not in kept
            problems = [e for e in page.events if e["method"] in ("Runtime.exceptionThrown", "Log.entryAdded")
                        and (e["method"] == "Runtime.exceptionThrown" or e["params"]["entry"]["level"] == "error")]
            assert not problems, [str(e["params"])[:600] for e in problems]  # no script error, no Content-Security-Policy violation

            shot = await page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            png = base64.b64decode(shot["data"])
            (tmp_path / "console.png").write_bytes(png)
            assert png.startswith(b"\x89PNG") and len(png) > 10_000
