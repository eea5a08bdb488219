"""Graceful stop: log every session out, wait a bounded time for the answers, close venues, flush stores.

Theory of operation
-------------------
``shutdown(gateway, reason, timeout)`` is the one way down that clients can see coming. It makes the
acceptor answer every new Logon with a Logout saying why, sends each logged-on session a Logout
whose Text (58) is ``reason`` (a session still logging on is just closed), and waits up to
``timeout`` seconds for the connections to end: a client answers the Logout and its session closes,
or the session's own ``logout_timeout`` closes it. Whatever is still connected then is dropped. Then
it stops the gateway: ``run`` closes the venue adapters (their streams and tasks) on its exit stack,
and closes the store last, which commits what is pending (messages and journal records together), so
the sequence numbers and the books a restart reads are the ones the clients saw.

``run_until_signalled(gateway)`` runs the gateway and listens for SIGINT and SIGTERM for its whole
life. The first signal starts ``shutdown`` (before the gateway is ready there is nothing to log out:
it stops at once); the status is 0. A second signal stops at once: the task group is cancelled,
which still closes the venues and the store (its close is synchronous and commits), and the status is
128 + the signal's number (130 for SIGINT, 143 for SIGTERM), what a shell reports for a process a
signal ended.

Once the gateway is ready, ``run_until_signalled`` moves the heap built so far (imports, configuration,
the books recovered from the journal) out of the cyclic collector's reach (``freeze_start_up_heap``:
one ``gc.collect()`` then ``gc.freeze()``, once, never again). Those objects live as long as the
process, yet every full collection walks them all, on the event loop's thread: in the null-venue
gateway of ``bench/gateway_closed.py`` after 8,500 orders, a full pass (``gc.collect()``, CPU time)
took 54 ms over 102k tracked objects with nothing frozen and 13 ms over the 31k made since start-up
with the 72k of start-up frozen; on a busy machine such a pass showed as 0.28-0.30 s of wall time
(``bench/gateway.py --venue null``), a stall every client of the gateway sees in its tail latency.
The young generations cost 5-10 µs per order either way, and a higher gen-0 threshold saved half of
that, too little to change the collector's settings for. Frozen objects are still freed by reference
counting; only a cycle among them would stay, and start-up makes none that must go.

Each step writes one line to the ``fixgw.gateway`` log: the signal, the Logouts sent, how many
sessions answered in time, the acceptor stopping (its own line), the venues closed, the store
flushed, the gateway stopped.
"""

from __future__ import annotations

import gc
import logging
import signal
from typing import TYPE_CHECKING, Callable

import anyio

if TYPE_CHECKING:
    from ._app import Gateway

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT", "shutdown", "run_until_signalled", "freeze_start_up_heap"]

log = logging.getLogger("fixgw.gateway")

#: Seconds a graceful stop waits for the clients to answer its Logouts.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0


def freeze_start_up_heap() -> None:
    """Collect once, then keep every object alive now out of later collections (see the module docstring)."""
    gc.collect()
    gc.freeze()


async def shutdown(gateway: Gateway, reason: str, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
    """Log every session of ``gateway`` out with Text ``reason``, wait up to ``timeout`` seconds for
    the answers, then stop it (``run`` returns once the venues are closed and the store flushed)."""
    acceptor = gateway.acceptor
    if acceptor is None or not gateway.ready.is_set():
        log.info("shutdown: not serving yet, nothing to log out")
        gateway.stop()
        return
    connected = [h for h in acceptor.handles.values() if h.is_connected]
    if connected:
        names = ", ".join(str(h.session_id) for h in connected)
        log.info("shutdown: logging out %d session(s) (%s) with Text %r; waiting up to %.1fs for the answers",
                 len(connected), names, reason, timeout)
    else:
        log.info("shutdown: no session connected; refusing new Logons")
    started = anyio.current_time()
    late = await acceptor.shutdown(reason, timeout)
    if connected:
        took = anyio.current_time() - started
        if late:
            log.warning("shutdown: %d of %d session(s) logged out in %.2fs; dropped without an answer: %s",
                        len(connected) - len(late), len(connected), took,
                        ", ".join(str(h.session_id) for h in late))
        else:
            log.info("shutdown: %d of %d session(s) logged out in %.2fs", len(connected), len(connected), took)
    gateway.stop()


async def run_until_signalled(
    gateway: Gateway,
    *,
    timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    on_ready: Callable[[int], object] | None = None,
) -> int:
    """Run ``gateway`` until SIGINT or SIGTERM; return the exit status (0 after a graceful stop).

    ``on_ready(port)`` is called once the gateway listens. See the module docstring for the signals.
    """
    status = 0
    entered = False
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tg:

            async def serve() -> None:
                nonlocal entered
                entered = True
                try:
                    await gateway.run()
                finally:
                    tg.cancel_scope.cancel()  # the gateway is down: stop listening for signals

            async def announce() -> None:
                await gateway.ready.wait()
                freeze_start_up_heap()
                if on_ready is not None and gateway.port is not None:
                    on_ready(gateway.port)

            async def watch() -> None:
                nonlocal status
                stopping = False
                async for signum in signals:
                    name = _signal_name(signum)
                    if stopping:
                        log.warning("%s received again: stopping at once", name)
                        status = 128 + int(signum)
                        tg.cancel_scope.cancel()
                        return
                    if not gateway.ready.is_set():
                        log.info("%s received before the gateway was ready: stopping", name)
                        tg.cancel_scope.cancel()
                        return
                    stopping = True
                    log.info("%s received: shutting down (a second signal stops at once)", name)
                    tg.start_soon(shutdown, gateway, f"gateway shutting down ({name})", timeout)

            tg.start_soon(watch)
            tg.start_soon(announce)
            tg.start_soon(serve)
    if entered:  # ``run`` closed the venues and then the store on its way out, cancelled or not
        venues = ", ".join(v.name for v in gateway.config.venues) or "none"
        log.info("shutdown: venue streams closed (%s)", venues)
        store = gateway.config.gateway.store_path
        log.info("shutdown: store flushed and closed (%s)", store if store is not None else "in memory")
    log.info("gateway stopped (exit status %d)", status)
    return status


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:  # pragma: no cover - only the two we listen for arrive
        return f"signal {signum}"
