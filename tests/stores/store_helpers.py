"""Helpers shared by the store tests: a journal record, the session id, and the killed writer's script."""

from __future__ import annotations

from fixgw.orders import OrderAccepted
from fixgw.session import SessionID

SID = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


def accepted(n: int) -> OrderAccepted:
    return OrderAccepted(order_id=f"acct-{n}", ts_ns=n, venue_order_id=str(n))


def killed_writer(store: str, *, committed: int, unflushed: int, alternate_commits: bool = False,
                  read_after: bool = False) -> str:
    """The script of a child that writes ``committed`` rounds (inbound number, journal record, outbound
    message), committing each, then ``unflushed`` rounds whose deferred flush never runs, prints
    ``pointed`` and waits to be killed. ``store`` is ``"module:Class"``, opened on ``sys.argv[1]``.

    ``alternate_commits``: odd rounds commit through the journal, even ones through the session;
    ``read_after``: a read after the last round (it must not commit what it sends)."""
    module, cls = store.split(":")
    commit = "(journal.commit if n % 2 else s.commit)()" if alternate_commits else "s.commit()"
    end = committed + unflushed
    read = "s.fetch(1, 0)  # a read sends the queued rows into an open transaction: still not committed\n" \
        if read_after else ""
    return (
        "import sys, time\n"
        "from fixgw.orders import OrderAccepted\n"
        "from fixgw.session import SessionID\n"
        f"from {module} import {cls}\n"
        f"store = {cls}(sys.argv[1])\n"
        's = store.session_store(SessionID("FIX.4.4", "GATEWAY", "CLIENT"))\n'
        'journal = store.journal("acct")\n'
        f"for n in range(1, {committed + 1}):\n"
        "    s.set_next_target_seq(n + 1)\n"
        '    journal.append(OrderAccepted(order_id=f"acct-{n}", ts_ns=n, venue_order_id=str(n)))\n'
        '    s.save_outbound(n, b"report-%d" % n)\n'
        f"    {commit}\n"
        "store.defer_commits(lambda flush: None)  # the loop never turns again: the flush never runs\n"
        f"for n in range({committed + 1}, {end + 1}):\n"
        "    s.set_next_target_seq(n + 1)\n"
        '    journal.append(OrderAccepted(order_id=f"acct-{n}", ts_ns=n, venue_order_id=str(n)))\n'
        '    s.save_outbound(n, b"report-%d" % n)\n'
        "    journal.commit()\n"
        f"{read}"
        'print("pointed", flush=True)\n'
        "time.sleep(60)\n"
    )
