"""One crash run: bursts of orders, a SIGKILL of the gateway at a random instant in each, restarts.

``run_crash(seed, workdir, kills)`` starts the simulator and the gateway, logs the client on, then
``kills`` times: reads the top of both books, sends a burst of ``burst`` requests (new IOC and GTC
limits that cross or rest, cancels of orders left open) in one write, and kills the gateway with
SIGKILL in one of two ways, alternating:

- "delay": a random instant while the gateway is still taking the burst in. The gateway reads the
  whole burst and journals it order by order before its first venue call, so the time from a burst
  to its first report (measured on the last "reports" kill; ``max_delay_ms`` before any) is how long
  the intake lasts on this machine now; the kill comes uniformly within 1.2 times that. A fixed
  0-30 ms window would mostly land before the gateway even read the burst on a busy machine.
- "reports": from inside the client's ``on_message`` when a random number of reports has arrived:
  orders are at the venue, fills and cancels are coming back.

After a random pause (venue fills land while the gateway is down) the gateway starts again on the
same store; the client reconnects without reset and the run waits until every request is answered (or
nothing moves for ``quiet`` seconds). At the end the client cancels what is still open, waits until
its view of every order matches the venue's and logs out; the gateway is stopped with Ctrl-C and its
store read back. Only the seed decides the plan (burst contents, kill modes, where in the window,
pauses); where that falls in the gateway's work varies with the machine, which is the point.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx

from fixgw.session import SessionID
from fixgw.stores.sqlite import SqliteMessageStore

from .client import CrashClient
from .invariants import Findings, check_run, venue_symbol
from .procs import CLIENT_USERNAME, SYMBOLS, GatewayProcess, SimProcess

__all__ = ["run_crash", "CrashResult"]



@dataclass
class CrashResult:
    seed: int
    findings: Findings
    kills: list[str] = field(default_factory=list)  # one line per kill: mode, instant, what was lost
    seconds: float = 0.0
    phases: list[str] = field(default_factory=list)  # "what at t=..s": where the time went
    intake: list[int] = field(default_factory=list)  # per kill: requests of the burst the store had counted
    intake_s: list[float] = field(default_factory=list)  # burst sent -> its first report ("reports" kills)
    #: The raw material of the checks, for a closer look: sent requests, messages received, venue dump.
    sent: list[Any] = field(default_factory=list, repr=False)
    messages: list[dict[int, str]] = field(default_factory=list, repr=False)
    wire: list[tuple[str, dict[int, str]]] = field(default_factory=list, repr=False)
    venue: dict[str, Any] = field(default_factory=dict, repr=False)
    gateway_log: Path | None = None

    def report(self) -> str:
        lines = [f"seed {self.seed}: {self.seconds:.1f}s, kills: " + "; ".join(self.kills),
                 self.findings.summary()]
        if self.gateway_log is not None:
            lines.append(f"gateway log: {self.gateway_log}")
        return "\n".join(lines)


async def run_crash(seed: int, workdir: Path, *, kills: int = 3, burst: int = 200, quiet: float = 3.0,
                    max_delay_ms: float = 100.0, pg_dsn: str | None = None) -> CrashResult:
    """Run one seeded crash scenario in ``workdir`` and check it; never raises for a violation.
    ``pg_dsn``: the gateway's store is that PostgreSQL database (pipelined commits) instead of SQLite."""
    started = time.monotonic()
    rng = random.Random(seed)
    result = CrashResult(seed, Findings())

    def phase(what: str) -> None:
        result.phases.append(f"{what} {time.monotonic() - started:.2f}")

    sim = await anyio.to_thread.run_sync(SimProcess, seed, workdir)
    gw: GatewayProcess | None = None
    try:
        gw = GatewayProcess(workdir, sim, pg_dsn=pg_dsn)
        result.gateway_log = gw.log_path
        gw.start()
        with CrashClient(gw.port, CLIENT_USERNAME, gw.password) as client:
            async with anyio.create_task_group() as tg, httpx.AsyncClient(base_url=sim.rest_url) as http:
                await tg.start(client.initiator.run)
                await _until_logged_on(client, gw, 0)
                phase("logged-on")
                first_mode = rng.randrange(2)
                for k in range(kills):
                    mode = ("delay", "reports")[(k + first_mode) % 2]  # alternate: every seed has both
                    await _burst_and_kill(client, gw, rng, await _books(http), k, mode, burst, max_delay_ms,
                                          quiet, result)
                    phase(f"answered-{k}")
                await _settle(client, sim, quiet)
                phase("settled")
                await client.initiator.logout_and_stop("crash run done")
                tg.cancel_scope.cancel()
            seqs = {"client_next_sender": client.session.next_sender_seq,
                    "client_next_target": client.session.next_target_seq}
        await anyio.to_thread.run_sync(gw.stop)
        seqs.update(_gateway_seqs(gw, seqs["client_next_target"]))
        result.sent, result.messages, result.wire = list(client.orders.values()), client.messages, client.wire
        result.venue = await anyio.to_thread.run_sync(sim.dump)
        phase("stopped")
        result.findings = check_run(result.sent, result.messages, result.wire, result.venue, seqs)
        for ev in client.events:
            if type(ev).__name__ in ("Rejected", "RejectReceived"):
                result.findings.add(f"client session event {ev!r}")
        result.findings.stats["kills"] = kills
    finally:
        if gw is not None:
            gw.kill()
        await anyio.to_thread.run_sync(sim.close)
        result.seconds = time.monotonic() - started
    return result


async def _burst_and_kill(client: CrashClient, gw: GatewayProcess, rng: random.Random,
                          books: dict[str, tuple[Decimal, Decimal]], k: int, mode: str, burst: int,
                          max_delay_ms: float, quiet: float, result: CrashResult) -> None:
    """One burst, one SIGKILL in it, one restart; wait for the answers and note what happened."""
    planned = client.burst(rng, books, burst, k)
    # The gateway takes a whole burst in before its first venue call, so the first report of the last
    # "reports" burst tells how long the intake lasts on this machine now: kill within that (+20%).
    window = result.intake_s[-1] * 1.2 if result.intake_s else max_delay_ms / 1000
    delay = rng.uniform(0, 1) * window
    after = rng.randint(1, burst)
    pause = rng.uniform(0, 0.3)
    if mode == "reports":
        client.arm_kill(after, gw.kill)
    t0 = time.monotonic()
    first_seq, first_msg = client.session.next_sender_seq, len(client.messages)
    client.send_all(planned, time.time_ns())
    if mode == "delay":
        await anyio.sleep(delay)
        gw.kill()
        what = f"{delay * 1000:.1f} ms after the burst (window {window * 1000:.0f} ms)"
    else:
        with anyio.move_on_after(2.0):
            while gw.alive():
                await client.changed(0.05)
        what = f"at report {after}"
        if client.disarm_kill():
            gw.kill()  # fewer reports than drawn in 2 s: kill now
            what += " (not reached: killed at 2 s)"
        if len(client.arrivals) > first_msg:
            result.intake_s.append(min(client.arrivals[first_msg] - t0, max_delay_ms / 1000 * 5))
    killed_at = time.monotonic() - t0
    await anyio.to_thread.run_sync(gw.wait)
    survived = _gateway_seqs(gw)
    answered_before = len({o.cl_ord_id for o in planned} & client.answered())
    await anyio.sleep(pause)  # venue events keep coming while the gateway is down
    logons = client.logons
    gw.start()
    await _until_logged_on(client, gw, logons)
    await _until_answered(client, quiet)
    lost = [o.cl_ord_id for o in planned if o.cl_ord_id not in client.answered()]
    # Where the kill landed in the intake: how many of the burst the store had counted.
    counted = min(max(survived["gateway_next_target"] - first_seq, 0), len(planned))
    result.intake.append(counted)
    result.kills.append(
        f"#{k} {what} ({killed_at * 1000:.0f} ms in; {counted}/{len(planned)} counted and "
        f"{answered_before} answered before the kill, {len(lost)} unanswered after the restart)")


async def _until_logged_on(client: CrashClient, gw: GatewayProcess, logons_before: int, timeout: float = 30) -> None:
    with anyio.fail_after(timeout):
        while client.logons <= logons_before or not client.handle.is_logged_on:
            if not gw.alive():
                raise RuntimeError(f"the gateway exited ({gw.proc.returncode if gw.proc else None}):\n"
                                   f"{gw.log_tail()}")
            await client.changed(0.1)


async def _until_answered(client: CrashClient, quiet: float, timeout: float = 30.0) -> None:
    """Wait until every request is answered, or until nothing arrives for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    while client.unanswered() and time.monotonic() < deadline:
        if not await client.changed(quiet):
            return


async def _books(http: httpx.AsyncClient) -> dict[str, tuple[Decimal, Decimal]]:
    out = {}
    for symbol in SYMBOLS:
        r = await http.get("/api/v3/depth", params={"symbol": venue_symbol(symbol), "limit": 5})
        r.raise_for_status()
        book = r.json()
        out[symbol] = (Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0]))
    return out


async def _settle(client: CrashClient, sim: SimProcess, quiet: float, timeout: float = 20.0) -> None:
    """Cancel what is open, then wait until every request is answered and the client's view of every
    order matches the venue's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.cancel_all_open(time.time_ns())  # again (twice at most) for an order whose cancel was refused
        await _until_answered(client, quiet)
        venue = await anyio.to_thread.run_sync(sim.dump)
        # A cancel of an order that filled meanwhile is answered only after the gateway looked the order
        # up at the venue: the fill can reach the client first. Log out only once every request has its
        # answer, or the answer is stored after the Logout and read at the next logon instead.
        if _agrees(client, venue) and not client.unanswered():
            return
        await client.changed(0.5)


def _agrees(client: CrashClient, venue: dict[str, Any]) -> bool:
    executed = {o["clientOrderId"]: Decimal(o["executedQty"]) for o in venue["orders"]}
    live = any(o["status"] in ("NEW", "PARTIALLY_FILLED") for o in venue["orders"])
    if live or client.open_orders():
        return False
    cum: dict[str, Decimal] = {}
    for m in client.messages:
        if m.get(35) == "8" and m.get(37, "NONE") != "NONE":
            cum[m[37]] = Decimal(m.get(14, "0"))
    return all(cum.get(cid, Decimal(0)) == qty for cid, qty in executed.items())


def _msg_type(raw: bytes) -> str:
    start = raw.index(b"\x0135=") + 4
    return raw[start:raw.index(b"\x01", start)].decode("ascii")


def _gateway_seqs(gw: GatewayProcess, client_next_target: int | None = None) -> dict[str, Any]:
    """The gateway's stored numbers, and the MsgTypes it stored that the client never read."""
    if gw.pg_dsn:
        from fixgw.stores.postgres import PostgresMessageStore

        store: Any = PostgresMessageStore(gw.pg_dsn)
    else:
        store = SqliteMessageStore(gw.store_path)
    try:
        s = store.session_store(SessionID("FIX.4.4", "FIXGW", "CLIENT44"))
        unread = []
        if client_next_target is not None and s.next_sender_seq > client_next_target:
            unread = [_msg_type(raw) for _, raw in s.fetch(client_next_target, s.next_sender_seq - 1)]
        return {"gateway_next_sender": s.next_sender_seq, "gateway_next_target": s.next_target_seq,
                "gateway_unread_types": unread}
    finally:
        store.close()
