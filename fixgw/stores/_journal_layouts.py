"""The row body of the SQLite order journal: compact values under a layout kept once per file.

Two encodings live side by side in ``order_journal.body``, told apart by SQLite's type of the value:

- TEXT (every row written before layouts existed): the JSON object of ``fixgw.orders.serial``
  (``{"type": ..., <field>: <value>, ...}``), or for a row of folded events the JSON array of such objects.
- BLOB (every row written now): the JSON array ``[layout, value, value, ...]``: the record's values in the
  order of its class's fields (``serial.record_to_values``) after the id of a row of
  ``order_journal_layouts``, which holds the class's name and its field names once for the whole file. A
  row of folded events holds the JSON array of such arrays.

A record so written is about a third of its JSON object (a SubmitOrder: 128 bytes against 330) and
costs about a third to encode (no names, no dict, no text decoding). It reads as robustly as the
object: the names come from the file, so a field added to a class later reads as its default and a
field dropped is ignored, as with JSON. A class whose fields change gets a new layout when a journal
is opened; the old layouts stay, for the rows written under them.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterator

from fixgw.errors import StoreError
from fixgw.jsonio import dumps, loads
from fixgw.orders.events import OrderSubmitted
from fixgw.orders.journal import Record
from fixgw.orders.serial import RECORD_FIELDS, compact_encoder, record_from_dict, record_from_json, record_from_values

try:
    from orjson import dumps as _dumpb
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _dumpb = None  # type: ignore[assignment]

__all__ = ["FOLDED", "LAYOUT_SCHEMA", "Layouts", "expand"]

LAYOUT_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS order_journal_layouts ("
    " id INTEGER PRIMARY KEY, kind TEXT NOT NULL, fields TEXT NOT NULL, UNIQUE (kind, fields))"
)
#: The kind of a submit's row that also stands for the ``OrderSubmitted`` that followed it (seq + 1).
FOLDED = "SubmitOrder+OrderSubmitted"


class Layouts:
    """The layouts of one file: the id of each journaled class's current field list, and every id's names."""

    __slots__ = ("_encoders", "_names")

    def __init__(self) -> None:
        #: Class -> (the id of its current layout, its compact encoder).
        self._encoders: dict[type, tuple[int, Any]] = {}
        #: Layout id -> (class name, field names).
        self._names: dict[int, tuple[str, tuple[str, ...]]] = {}

    def open(self, conn: sqlite3.Connection) -> None:
        """Create the table if need be, add a layout for each class whose fields are new, read them all
        (in the caller's open transaction)."""
        conn.execute(LAYOUT_SCHEMA)
        self._read(conn)
        current = {(cls.__name__, fields): cls for cls, fields in RECORD_FIELDS.items()}
        missing = current.keys() - set(self._names.values())
        if missing:  # (nothing is written when every layout is there)
            conn.executemany(
                "INSERT OR IGNORE INTO order_journal_layouts (kind, fields) VALUES (?, ?)",
                [(kind, dumps(list(fields))) for kind, fields in sorted(missing)],
            )
            self._read(conn)
        self._encoders = {current[entry]: (lid, compact_encoder(current[entry]))
                          for lid, entry in self._names.items() if entry in current}

    def _read(self, conn: sqlite3.Connection) -> None:
        names = {}
        for lid, kind, fields in conn.execute("SELECT id, kind, fields FROM order_journal_layouts"):
            try:
                names[lid] = (kind, tuple(loads(fields)))
            except ValueError as exc:
                raise StoreError(f"unreadable journal layout {lid}: {exc}") from exc
        self._names = names

    def encode(self, record: Record) -> bytes:
        """The BLOB body of ``record``."""
        try:
            lid, encode = self._encoders[type(record)]
        except KeyError:
            raise StoreError(f"cannot journal a {type(record).__name__}") from None
        values = encode(record, lid)
        if _dumpb is not None:
            try:
                return _dumpb(values)
            except TypeError:  # what orjson does not take (an int past 64 bits): the standard library
                pass
        return dumps(values).encode("utf-8")

    def decode(self, values: Any) -> Record:
        """The record of one ``[layout, value, ...]`` array."""
        if not isinstance(values, list) or not values or type(values[0]) is not int:
            raise StoreError("unreadable journal row: not a [layout, values...] array")
        entry = self._names.get(values[0])
        if entry is None:
            raise StoreError(f"unreadable journal row: unknown layout {values[0]}")
        return record_from_values(entry[0], entry[1], values[1:])


def fold(row: list[Any], kind: str, body: bytes | str, cl_ord_id: str | None, venue_order_id: str | None) -> bool:
    """Fold the next event of ``row``'s order into ``row`` (``fixgw.stores.journal_sqlite``, "Folded
    events"); ``False``: it does not fit (a lookup key would take a second value, or the encodings differ)."""
    if cl_ord_id is not None and row[6] is not None and row[6] != cl_ord_id:
        return False
    if venue_order_id is not None and row[7] is not None and row[7] != venue_order_id:
        return False
    first = row[5]
    if type(first) is not type(body):
        return False
    if type(body) is bytes:
        row[5] = first[:-1] + b"," + body + b"]" if "+" in row[2] else b"[" + first + b"," + body + b"]"
    else:
        row[5] = f"{first[:-1]},{body}]" if "+" in row[2] else f"[{first},{body}]"
    row[2] = f"{row[2]}+{kind}"
    if cl_ord_id is not None:
        row[6] = cl_ord_id
    if venue_order_id is not None:
        row[7] = venue_order_id
    return True


def expand(rows: list[tuple[int, str, str | None, Any]], layouts: Layouts) -> Iterator[tuple[int, Record]]:
    """``(seq, record)`` of each row: a folded submit's row gives its ``OrderSubmitted`` as well, a row of
    folded events each of its events under its own sequence number."""
    for seq, kind, order_id, body in rows:
        if type(body) is bytes:
            try:
                data = loads(body)
            except ValueError as exc:
                raise StoreError(f"unreadable journal row: {exc}") from exc
            if kind != FOLDED and "+" in kind:
                if not isinstance(data, list) or not data or not all(isinstance(item, list) for item in data):
                    raise StoreError("unreadable journal row: folded events are not a list of arrays")
                for i, item in enumerate(data):
                    yield seq + i, layouts.decode(item)
                continue
            record = layouts.decode(data)
        elif kind != FOLDED and "+" in kind:
            for i, item in enumerate(_folded_objects(body)):
                yield seq + i, record_from_dict(item)
            continue
        else:
            record = record_from_json(body)
        yield seq, record
        if kind == FOLDED:
            yield seq + 1, OrderSubmitted(order_id=order_id, ts_ns=record.ts_ns)  # type: ignore[arg-type]


def _folded_objects(body: str) -> list[Any]:
    try:
        data = loads(body)
    except ValueError as exc:
        raise StoreError(f"unreadable journal row: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise StoreError("unreadable journal row: folded events are not a list of objects")
    return data
