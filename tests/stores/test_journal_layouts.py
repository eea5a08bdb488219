"""The SQLite journal's compact row bodies (``fixgw.stores._journal_layouts``) beside the JSON rows of old files.

New rows are BLOBs ``[layout, values...]`` under names kept once per file; rows written as JSON text (before
layouts) still read, folded ones included, and both kinds mix in one file. A layout whose fields differ
from the class's (a field added or dropped since) reads as JSON does: by name.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.orders import OrderAccepted, OrderFilled, OrderSubmitted
from fixgw.orders.serial import RECORD_FIELDS, record_to_json
from fixgw.stores.journal_sqlite import SqliteOrderJournal
from fixgw.stores.sqlite import SqliteMessageStore

from test_journal import submit


def _rows(path: Path) -> list[tuple[int, str, str, str]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT seq, kind, typeof(body), length(body) FROM order_journal ORDER BY seq").fetchall()
    finally:
        db.close()


def test_sqlite_journal_new_rows_are_compact_blobs_one_layout_per_class(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = SqliteOrderJournal(path, "acct")
    s = submit("c1")
    j.append(s, "acct-1")
    j.append(OrderSubmitted(order_id="acct-1", ts_ns=s.ts_ns), "acct-1")
    j.append_and_commit(OrderAccepted(order_id="acct-1", ts_ns=3, venue_order_id="V1"))
    j.close()
    rows = _rows(path)
    assert [(kind, typ) for _, kind, typ, _ in rows] == [("SubmitOrder+OrderSubmitted", "blob"),
                                                         ("OrderAccepted", "blob")]
    assert rows[0][3] < len(record_to_json(s)) / 2
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT count(*) FROM order_journal_layouts").fetchone()[0] == len(RECORD_FIELDS)
    finally:
        db.close()
    again = SqliteOrderJournal(path, "acct")  # opening again adds no layout and reads every record
    assert [type(r).__name__ for _, r in again.records()] == ["SubmitOrder", "OrderSubmitted", "OrderAccepted"]
    again.close()
    assert len(_rows(path)) == 2


def _json_rows_file(path: Path) -> list:
    """A file whose rows are JSON text, as the journal wrote them before layouts: a folded submit, folded
    events, a plain row."""
    SqliteOrderJournal(path, "acct").close()  # the table and its indexes
    s = submit("c1")
    fill = OrderFilled(order_id="acct-1", ts_ns=5, venue_order_id="V1", trade_id="t1", last_qty=Decimal("0.5"),
                       last_px=Decimal("100"), fee=Decimal("0.01"), fee_currency="USDT")
    accepted = OrderAccepted(order_id="acct-1", ts_ns=4, venue_order_id="V1")
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("DELETE FROM order_journal_layouts")
        insert = ("INSERT INTO order_journal (seq, account, kind, order_id, ts_ns, body, cl_ord_id, venue_order_id)"
                  " VALUES (?, 'acct', ?, 'acct-1', ?, ?, ?, ?)")
        db.execute(insert, (1, "SubmitOrder+OrderSubmitted", s.ts_ns, record_to_json(s), "c1", None))
        db.execute(insert, (3, "OrderAccepted+OrderFilled", 4,
                            f"[{record_to_json(accepted)},{record_to_json(fill)}]", None, "V1"))
        db.execute(insert, (5, "OrderAccepted", 6, record_to_json(accepted), None, "V1"))
    finally:
        db.close()
    return [s, OrderSubmitted(order_id="acct-1", ts_ns=s.ts_ns), accepted, fill, accepted]


def test_sqlite_journal_json_text_rows_still_read_and_mix_with_new_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    expected = _json_rows_file(path)
    j = SqliteOrderJournal(path, "acct")
    assert [r for _, r in j.records()] == expected
    later = OrderAccepted(order_id="acct-1", ts_ns=9, venue_order_id="V1")
    seq = j.append_and_commit(later)
    assert seq == 6
    assert j.load_order("acct-1") == [*expected, later]
    assert j.find_order_id(venue_order_id="V1") == "acct-1"
    j.close()
    assert [typ for _, _, typ, _ in _rows(path)] == ["text", "text", "text", "blob"]


def test_sqlite_journal_layout_of_changed_class_reads_by_name(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    SqliteOrderJournal(path, "acct").close()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        # An OrderAccepted written when the class had no venue_order_id and a field since dropped.
        lid = db.execute("INSERT INTO order_journal_layouts (kind, fields) VALUES"
                         " ('OrderAccepted', '[\"order_id\",\"ts_ns\",\"gone\"]')").lastrowid
        db.execute("INSERT INTO order_journal (seq, account, kind, order_id, ts_ns, body) VALUES"
                   " (1, 'acct', 'OrderAccepted', 'acct-1', 7, ?)", (f'[{lid},"acct-1",7,"x"]'.encode(),))
    finally:
        db.close()
    j = SqliteOrderJournal(path, "acct")
    assert [r for _, r in j.records()] == [OrderAccepted(order_id="acct-1", ts_ns=7)]
    j.close()


def test_sqlite_journal_unknown_layout_is_a_store_error(tmp_path: Path) -> None:
    from fixgw.errors import StoreError

    path = tmp_path / "j.sqlite"
    SqliteOrderJournal(path, "acct").close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("INSERT INTO order_journal (seq, account, kind, order_id, ts_ns, body) VALUES"
               " (1, 'acct', 'OrderAccepted', 'acct-1', 7, ?)", (b'[999,"acct-1",7,null]',))
    db.close()
    j = SqliteOrderJournal(path, "acct")
    try:
        list(j.records())
        raise AssertionError("an unknown layout must not read")
    except StoreError as exc:
        assert "layout 999" in str(exc)
    finally:
        j.close()


@settings(max_examples=25, deadline=None)
@given(fills=st.lists(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3), max_size=6))
def test_sqlite_store_journal_folded_compact_events_round_trip(fills) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gw.sqlite"
        with SqliteMessageStore(path, checkpoint="auto") as store:
            j = store.journal("acct")
            s = submit("c1")
            records = [s, OrderSubmitted(order_id="acct-1", ts_ns=s.ts_ns),
                       OrderAccepted(order_id="acct-1", ts_ns=3, venue_order_id="V1")]
            cum = Decimal(0)
            for i, qty in enumerate(fills):
                cum += qty
                records.append(OrderFilled(order_id="acct-1", ts_ns=4 + i, venue_order_id="V1", trade_id=f"t{i}",
                                           last_qty=qty, last_px=Decimal("1.5"), fee=cum))
            seqs = [j.append(r, "acct-1") for r in records]
            j.commit()
        with SqliteMessageStore(path, checkpoint="auto") as store:
            j = store.journal("acct")
            assert list(j.records()) == list(zip(seqs, records))
            assert j.load_order("acct-1") == records


def _records_of(cls):
    """Records of ``cls`` built from its field types (invalid combinations filtered out)."""
    import dataclasses
    import typing

    from fixgw.errors import OrderError
    from fixgw.orders.route import Party, Route

    texts = st.text(min_size=1, max_size=8)
    maybe = st.one_of(st.none(), texts)
    party = st.tuples(maybe, maybe, maybe).filter(lambda t: t != (None, None, None)).map(lambda t: Party(*t))
    hints = typing.get_type_hints(cls)
    fields = {}
    for f in dataclasses.fields(cls):
        args = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]
        base = args[0] if args else hints[f.name]
        if base is Decimal:
            s = st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: d.copy_abs() + 1)
        elif base is str:
            s = texts
        elif base is bool:
            s = st.booleans()
        elif base is int:
            s = st.integers(min_value=0, max_value=2**63 - 1)  # ts_ns is a column too: SQLite's 64 bits
        elif base is Route:
            s = st.tuples(st.one_of(st.none(), party), party).map(lambda t: Route(*t))
        else:
            s = st.sampled_from(list(base))
        fields[f.name] = st.one_of(st.none(), s) if type(None) in typing.get_args(hints[f.name]) else s

    def build(values):
        try:
            return cls(**values)
        except (OrderError, ValueError):
            return None

    return st.fixed_dictionaries(fields).map(build).filter(lambda r: r is not None)


_ANY_RECORD = st.one_of([_records_of(cls) for cls in RECORD_FIELDS])


@settings(max_examples=200, deadline=None)
@given(records=st.lists(_ANY_RECORD, min_size=1, max_size=4))
def test_sqlite_journal_any_record_round_trips_through_its_compact_row(records) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        j = SqliteOrderJournal(Path(tmp) / "j.sqlite", "acct")
        try:
            seqs = [j.append(r, f"acct-{i}") for i, r in enumerate(records)]
            j.commit()
            back = list(j.records())
        finally:
            j.close()
    assert back == list(zip(seqs, records))
    for (_, a), (_, b) in zip(back, zip(seqs, records)):
        for name in RECORD_FIELDS[type(a)]:
            x, y = getattr(a, name), getattr(b, name)
            if isinstance(x, Decimal):
                assert x.as_tuple() == y.as_tuple()  # exponent and trailing zeros kept
