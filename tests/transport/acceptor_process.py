"""An echo acceptor in a process of its own, under a given open-file limit (for descriptor-exhaustion tests).

Usage: ``python acceptor_process.py NOFILE MAX_PENDING MAX_PER_ADDRESS``. Prints ``PORT <n>`` once listening, then
serves until stdin closes. The limit is set here, in the child, so the test process keeps its own.
"""

from __future__ import annotations

import logging
import resource
import sys

import anyio

from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application, body_fields

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


class Echo(Application):
    def on_message(self, session, message):
        session.send(message.get(35), body_fields(message))


async def main(nofile: int, max_pending: int, max_per_address: int) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
    acceptor = Acceptor([SessionConfig(GW)], Echo(), MemoryMessageStore(), logon_timeout=30.0,
                        max_pending_connections=max_pending, max_pending_per_address=max_per_address)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        print(f"PORT {port}", flush=True)
        # Serve until the test closes our stdin (a thread read: no descriptor is needed for it).
        await anyio.to_thread.run_sync(sys.stdin.read)
        tg.cancel_scope.cancel()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    anyio.run(main, *(int(arg) for arg in sys.argv[1:4]))
