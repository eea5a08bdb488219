"""The gateway's journal and FIX message store commit as one: a journaled event and its report together."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fixgw.sim import SimServer
from fixgw.stores.journal_sqlite import SqliteOrderJournal
from fixgw.stores.sqlite import SqliteMessageStore

from .conftest import gateway_config, place, running_gateway
from .fixclient import FixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

_ACCEPTED = "SELECT count(*) FROM order_journal WHERE kind = 'OrderAccepted'"
_NEW_REPORTS = "SELECT count(*) FROM fix_messages WHERE instr(raw, ?) > 0 AND instr(raw, ?) > 0"


async def test_gateway_journal_event_and_its_report_never_on_disk_apart(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gw.db"
    on_disk: list[tuple[int, int]] = []
    reader: list[sqlite3.Connection] = []

    def look() -> None:
        # What a crash right after this commit would leave: accepted orders journaled vs New reports stored.
        if not reader:
            return
        db = reader[0]
        accepted = db.execute(_ACCEPTED).fetchone()[0]
        reports = db.execute(_NEW_REPORTS, (b"\x0135=8\x01", b"\x01150=0\x01")).fetchone()[0]
        on_disk.append((accepted, reports))

    def after(commit):  # type: ignore[no-untyped-def]
        def wrapped(self):  # type: ignore[no-untyped-def]
            commit(self)
            look()
        return wrapped

    # Every way the gateway can commit, whether through one connection or two.
    monkeypatch.setattr(SqliteMessageStore, "commit", after(SqliteMessageStore.commit))
    monkeypatch.setattr(SqliteOrderJournal, "commit", after(SqliteOrderJournal.commit))

    c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
    async with running_gateway(gateway_config(sim, store=path)) as gw:
        reader.append(sqlite3.connect(path, isolation_level=None))
        try:
            await c.connect(gw.port)
            place(sim, "SELL", "0.1", "60000")
            for n in range(1, 4):
                await c.new_order(f"A{n}", "1", "0.2", price="50000")
                await c.reports(f"A{n}", 1)
            await c.logout()
            look()
        finally:
            reader[0].close()
            reader.clear()

    assert on_disk and on_disk[-1] == (3, 3)
    apart = [(accepted, reports) for accepted, reports in on_disk if accepted != reports]
    assert apart == [], "a commit left journaled events without their reports (or reports without events)"
