"""Event ids numbered once per INSERT (schema 2, ``fixgw.stores._pg``): the event rows of a commit advance
the counter row ``fixgw_event_ids`` once by their count, not once per row; a database of schema 1 opens
and is brought to schema 2, and rows a node of schema 1 still inserts (event_id 0) are numbered by the
trigger, in the same sequence.
"""

from __future__ import annotations

import psycopg
import pytest

from fixgw.orders import OrderSubmitted
from fixgw.orders.commands import CancelOrder
from fixgw.orders.serial import record_to_json
from fixgw.stores.journal_postgres import SharedEvents
from fixgw.stores.postgres import PostgresMessageStore

#: Schema 1's trigger function and trigger (every row with an event_id, one counter update per row).
_SCHEMA_1_TRIGGER = (
    "CREATE OR REPLACE FUNCTION fixgw_number_event() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN UPDATE fixgw_event_ids SET last = last + 1 RETURNING last INTO NEW.event_id; RETURN NEW; END $$",
    "DROP TRIGGER order_journal_event_id ON order_journal",
    "CREATE TRIGGER order_journal_event_id BEFORE INSERT ON order_journal FOR EACH ROW"
    " WHEN (NEW.event_id IS NOT NULL) EXECUTE FUNCTION fixgw_number_event()",
    "UPDATE fixgw_schema SET version = 1",
)
_OLD_INSERT = ("INSERT INTO order_journal (account, seq, kind, ts_ns, body, order_id, event_id)"
               " VALUES ('B_44', %s, 'OrderSubmitted', 1, %s, %s, 0)")


def _event(order_id: str) -> OrderSubmitted:
    return OrderSubmitted(order_id=order_id, ts_ns=1)


def _ids(dsn: str) -> list[tuple[int, str | None]]:
    source = SharedEvents(dsn)
    try:
        return [(i, o) for i, _a, o, _r in source.after(0)]
    finally:
        source.close()


def _count_counter_updates(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE counter_updates (last BIGINT NOT NULL)")
    db.execute("CREATE FUNCTION log_counter() RETURNS trigger LANGUAGE plpgsql AS $$"
               " BEGIN INSERT INTO counter_updates VALUES (NEW.last); RETURN NEW; END $$")
    db.execute("CREATE TRIGGER log_counter AFTER UPDATE ON fixgw_event_ids FOR EACH ROW"
               " EXECUTE FUNCTION log_counter()")


def test_postgres_event_ids_one_counter_update_per_commit_gap_free(pg_dsn):
    with PostgresMessageStore(pg_dsn) as store:
        with psycopg.connect(pg_dsn, autocommit=True) as db:
            _count_counter_updates(db)
            journal = store.journal("A_44")
            for n in range(1, 6):
                journal.append(_event(f"A_44-{n}"))
                if n == 3:
                    journal.append(CancelOrder(order_id="A_44-1", ts_ns=1, cl_ord_id="c2", orig_cl_ord_id="c1"))
            store.commit()
            journal.append(_event("A_44-6"))
            store.commit()
            assert [u for (u,) in db.execute("SELECT last FROM counter_updates ORDER BY last")] == [5, 6]
    assert _ids(pg_dsn) == [(n, f"A_44-{n}") for n in range(1, 7)]


def test_postgres_event_ids_read_in_the_middle_numbers_each_push(pg_dsn):
    with PostgresMessageStore(pg_dsn) as store:
        journal = store.journal("A_44")
        journal.append(_event("A_44-1"))
        journal.append(_event("A_44-2"))
        assert journal.find_order_id(cl_ord_id="none") is None  # a read: the rows so far go to the server
        journal.append(_event("A_44-3"))
        store.commit()
    assert _ids(pg_dsn) == [(1, "A_44-1"), (2, "A_44-2"), (3, "A_44-3")]


def test_postgres_schema_1_database_opens_upgraded_and_old_rows_numbered_in_sequence(pg_dsn):
    with PostgresMessageStore(pg_dsn) as store:
        store.journal("A_44").append(_event("A_44-1"))
        store.commit()
    with psycopg.connect(pg_dsn, autocommit=True) as db:
        for statement in _SCHEMA_1_TRIGGER:
            db.execute(statement)
        # A node of schema 1 appends the way it did: event_id 0, numbered by its trigger.
        db.execute(_OLD_INSERT, (1, record_to_json(_event("B_44-1")), "B_44-1"))
    with PostgresMessageStore(pg_dsn) as store:
        with psycopg.connect(pg_dsn, autocommit=True) as db:
            assert db.execute("SELECT version FROM fixgw_schema").fetchall() == [(2,)]
            # The schema-1 node goes on appending after the upgrade: still numbered, in the same sequence.
            db.execute(_OLD_INSERT, (2, record_to_json(_event("B_44-2")), "B_44-2"))
        journal = store.journal("A_44")
        journal.append(_event("A_44-2"))
        journal.append(_event("A_44-3"))
        store.commit()
    assert _ids(pg_dsn) == [(1, "A_44-1"), (2, "B_44-1"), (3, "B_44-2"), (4, "A_44-2"), (5, "A_44-3")]


@pytest.mark.parametrize("version", [3, 0])
def test_postgres_schema_version_not_known_refused(pg_dsn, version):
    from fixgw.errors import StoreError

    PostgresMessageStore(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as db:
        db.execute("UPDATE fixgw_schema SET version = %s", (version,))
    with pytest.raises(StoreError, match=f"unknown store schema version {version}"):
        PostgresMessageStore(pg_dsn)
