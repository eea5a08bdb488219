"""``fixgw status``: the web console's picture as tables in a terminal (or JSON), read from a running bridge.

It signs its requests with a key that holds ``read`` (``--key-id`` and ``--secret-file``, or the
environment's ``FIXGW_BRIDGE_KEY`` and ``FIXGW_BRIDGE_SECRET``; with neither, the embedded demo's
``demo-read`` key when ``var/bridge/demo-read.secret`` is in the working directory) and reads
``/v1/sessions``, ``/v1/venues``, the open orders, the most recent fills, and the latency histograms of
``/metrics`` (unsigned, served to the bridge's ``metrics_networks`` only; elsewhere the latency table says
so). Every failure is one line on standard error: the bridge unreachable (exit 1), the bridge refusing
the key (exit 1, with the status, code and reason), a missing key or unreadable secret file (exit 2).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fixgw.errors import TransportError
from fixgw.logsafe import printable

from .client import BridgeClient
from .errors import BridgeRequestError

__all__ = ["DESCRIPTION", "add_arguments", "run", "collect", "render", "latency_series"]

DESCRIPTION = ("Show the gateway's sessions, venues, open orders, recent fills and latency percentiles, read "
               "from its bridge with a read key.")
DEFAULT_URL = "http://127.0.0.1:9880"
DEMO_KEY = "demo-read"
DEMO_SECRET_FILE = Path("var/bridge/demo-read.secret")
QUANTILES = (0.5, 0.95, 0.99)
_MAX_PAGES = 10


class _Usage(Exception):
    """A mistake in the command line: exit 2."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of ``fixgw status`` to ``p``."""
    p.add_argument("--url", default=os.environ.get("FIXGW_BRIDGE_URL", DEFAULT_URL),
                   help="the bridge's base URL (default: $FIXGW_BRIDGE_URL or %(default)s)")
    p.add_argument("--key-id", metavar="ID",
                   help=f"a key holding read (default: $FIXGW_BRIDGE_KEY; else {DEMO_KEY} when "
                        f"{DEMO_SECRET_FILE} exists)")
    p.add_argument("--secret-file", metavar="FILE", type=Path,
                   help="file holding the key's secret (default: $FIXGW_BRIDGE_SECRET holds the secret itself)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables (default: tables)")
    p.add_argument("--fills", type=int, default=20, metavar="N",
                   help="how many of the most recent fills to show (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="per-request timeout (default: %(default)s)")


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    key_id = args.key_id or os.environ.get("FIXGW_BRIDGE_KEY")
    secret_file = args.secret_file
    if key_id is None and secret_file is None and "FIXGW_BRIDGE_SECRET" not in os.environ \
            and DEMO_SECRET_FILE.is_file():
        key_id, secret_file = DEMO_KEY, DEMO_SECRET_FILE
    if not key_id:
        raise _Usage("no key: give --key-id and --secret-file, or set FIXGW_BRIDGE_KEY and FIXGW_BRIDGE_SECRET")
    if secret_file is not None:
        try:
            secret = secret_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise _Usage(f"--secret-file {secret_file}: {getattr(e, 'strerror', None) or e}") from None
        secret = secret[:-1] if secret.endswith("\n") else secret
    else:
        secret = os.environ.get("FIXGW_BRIDGE_SECRET", "")
        if not secret:
            raise _Usage("no secret: give --secret-file or set FIXGW_BRIDGE_SECRET")
    return key_id, secret


def _pages(client: BridgeClient, path: str, field: str, params: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(_MAX_PAGES):
        page = client.get(path, params={**params, "limit": "1000", **({"cursor": cursor} if cursor else {})})
        rows.extend(page[field])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return rows


def latency_series(metrics_text: str) -> list[dict[str, Any]]:
    """Return each histogram series of a Prometheus text page: name, labels, count, p50/p95/p99 (seconds).

    Percentiles are interpolated inside the buckets, as Prometheus's ``histogram_quantile`` does."""
    out: list[dict[str, Any]] = []
    for family in text_string_to_metric_families(metrics_text):
        if family.type != "histogram":
            continue
        series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            series.setdefault(labels, []).append((float(sample.labels["le"]), sample.value))
        for labels, buckets in series.items():
            buckets.sort()
            out.append({"name": family.name, "labels": dict(labels), "count": int(buckets[-1][1]),
                        **{f"p{round(q * 100)}": _quantile(q, buckets) for q in QUANTILES}})
    return out


def _quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    total = buckets[-1][1]
    if not total:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return prev_bound
            span = count - prev_count
            return prev_bound + (bound - prev_bound) * ((rank - prev_count) / span if span else 0.0)
        prev_bound, prev_count = bound, count
    return prev_bound


def _latency(url: str, timeout: float) -> dict[str, Any]:
    try:
        answer = httpx.get(url.rstrip("/") + "/metrics", timeout=timeout)
    except httpx.HTTPError as e:
        return {"series": [], "note": f"/metrics unreachable: {type(e).__name__}"}
    if answer.status_code == 403:
        return {"series": [], "note": "/metrics is not served to this address (the bridge's metrics_networks)"}
    if answer.status_code != 200:
        return {"series": [], "note": f"/metrics answered {answer.status_code}"}
    series = latency_series(answer.text)
    return {"series": series, "note": None if series else "no latency histogram yet"}


def collect(client: BridgeClient, url: str, *, fills: int = 20, timeout: float = 10.0) -> dict[str, Any]:
    """Read everything ``fixgw status`` shows; raises ``BridgeRequestError`` or ``TransportError``."""
    recent = _pages(client, "/v1/fills", "fills", {})
    return {
        "sessions": client.get("/v1/sessions")["sessions"],
        "venues": client.get("/v1/venues")["venues"],
        "open_orders": _pages(client, "/v1/orders", "orders", {"status": "open"}),
        "recent_fills": recent[-fills:][::-1] if fills > 0 else [],
        "latency": _latency(url, timeout),
    }


def _table(title: str, head: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "none") -> list[str]:
    cells = [[printable("" if v is None else str(v)) for v in row] for row in rows]
    lines = [title]
    if not cells:
        return lines + [f"  ({empty})", ""]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(head)]
    for row in [list(head)] + cells:
        lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    return lines + [""]


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1000:.2f} ms"


def render(report: dict[str, Any]) -> str:
    """Return ``collect``'s report as terminal tables."""
    lines = _table("SESSIONS", ("session", "state", "enabled", "next out", "next in", "heard from", "peer"), (
        (s["session_id"], s["state"], "yes" if s["enabled"] else "DISABLED", s["next_sender_seq"],
         s["next_target_seq"], s["last_heartbeat_at"] or "never", s["peer_address"]) for s in report["sessions"]))
    lines += _table("VENUES", ("venue", "stream", "reconnects", "clock offset", "rate limits used/limit (headroom)",
                               "429s", "ban", "last error", "key days left"), (
        (v["name"], v["stream_state"], v["stream_reconnects"],
         "" if v["clock_offset_ms"] is None else f"{v['clock_offset_ms']:.1f} ms",
         ", ".join(f"{w['window']} {w['used']}/{w['limit']} ({w['headroom']})" for w in v["rate_limits"]),
         v["rate_limited_count"], v["banned_until"] or "", (v["last_error"] or {}).get("message", ""),
         v["api_key_days_left"]) for v in report["venues"]))
    lines += _table(f"OPEN ORDERS ({len(report['open_orders'])})",
                    ("client order id", "account", "venue", "symbol", "side", "type", "quantity", "price", "filled",
                     "status", "updated"), (
        (o["client_order_id"], o["account"], o["venue"], o["symbol"], o["side"], o["type"],
         o["quantity"] or o["quote_quantity"], o["price"], o["cum_qty"], o["status"], o["updated_at"])
        for o in report["open_orders"]))
    lines += _table("RECENT FILLS (newest first)", ("executed", "client order id", "account", "symbol", "side",
                                                    "quantity", "price", "fee"), (
        (f["executed_at"], f["client_order_id"], f["account"], f["symbol"], f["side"], f["last_qty"], f["last_px"],
         f"{f['fee']} {f['fee_currency'] or ''}".strip()) for f in report["recent_fills"]))
    latency = report["latency"]
    lines += _table("LATENCY", ("series", "labels", "count", "p50", "p95", "p99"), (
        (s["name"], " ".join(f"{k}={v}" for k, v in s["labels"].items()), s["count"], _ms(s["p50"]), _ms(s["p95"]),
         _ms(s["p99"])) for s in latency["series"]), empty=latency["note"] or "none")
    return "\n".join(lines).rstrip() + "\n"


def _one_line(url: str, err: BaseException) -> str:
    if isinstance(err, BridgeRequestError):
        reason = err.message or "an answer without the bridge's error body (is this the bridge's address?)"
        return f"the bridge at {url} refused the request: {err.status} {err.code}: {reason}"
    text = str(err)
    lowered = text.lower()
    if "refused" in lowered:
        return f"cannot reach the bridge at {url}: connection refused"
    if "timeout" in lowered or "timed out" in lowered:
        return f"cannot reach the bridge at {url}: timed out"
    return f"cannot reach the bridge at {url}: {text}"


def run(args: argparse.Namespace) -> int:
    """Run ``fixgw status``; return the exit status (0, 1 the bridge failed or refused, 2 a usage mistake)."""
    try:
        key_id, secret = _credentials(args)
        if not args.url.startswith(("http://", "https://")):
            raise _Usage(f"--url {args.url}: must start with http:// or https://")
    except _Usage as e:
        print(f"fixgw status: {printable(str(e))}", file=sys.stderr)
        return 2
    try:
        with BridgeClient(args.url, key_id, secret, timeout=args.timeout) as client:
            report = collect(client, args.url, fills=args.fills, timeout=args.timeout)
    except (BridgeRequestError, TransportError, httpx.HTTPError) as e:
        print(f"fixgw status: {printable(_one_line(args.url, e))}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if args.json else render(report))
    return 0
