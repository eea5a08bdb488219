"""fixgw's own acceptor, in this process on a loopback port, for the kit's conformance runs."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import pytest
from anyio.from_thread import start_blocking_portal

from fixgw.codec.dictionary import load_dictionary
from fixgw.session import Session, SessionConfig, SessionID
from fixgw.stores import MemoryMessageStore
from fixgw.transport import Acceptor, Application

#: The engine's view: it is ECHO, we are CLIENT42 / CLIENT44.
ACCEPTOR_IDS = {"FIX.4.2": SessionID("FIX.4.2", "ECHO", "CLIENT42"), "FIX.4.4": SessionID("FIX.4.4", "ECHO", "CLIENT44")}


class Quiet(Application):
    """An application that answers nothing: the session layer alone speaks."""


@contextlib.contextmanager
def running_acceptor(**session_config: Any) -> Iterator[int]:
    """Serve both sessions (full dictionary validation) on a free loopback port; yield the port."""
    store = MemoryMessageStore()
    sessions = []
    for begin, sid in ACCEPTOR_IDS.items():
        config = SessionConfig(sid, role="acceptor", **session_config)
        sessions.append(Session(config, store.session_store(sid), dictionary=load_dictionary(begin)))
    acceptor = Acceptor(sessions, Quiet(), store, logon_failure_delay=0, logon_timeout=2.0)
    with start_blocking_portal() as portal:
        serving = portal.start_task_soon(acceptor.serve)
        for _ in range(1000):  # 10 s at most
            if acceptor.port is not None or serving.done():
                break
            portal.call(_pause)
        if acceptor.port is None:
            raise RuntimeError(f"the acceptor did not start: {serving.exception() if serving.done() else 'timeout'}")
        try:
            yield acceptor.port
        finally:
            portal.call(acceptor.aclose)


async def _pause() -> None:
    import anyio

    await anyio.sleep(0.01)


@pytest.fixture(scope="module")
def acceptor_port() -> Iterator[int]:
    with running_acceptor() as port:
        yield port
