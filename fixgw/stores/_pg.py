"""One PostgreSQL connection and its write transactions, shared by the message store and the journals.

Theory of operation
-------------------
A ``PgWriter`` owns one psycopg connection in autocommit mode and opens its transactions itself. Writes
are not sent when they are made: ``queue(statement, row)`` renders the row's values into SQL literals at
once (so a value the server could not take is refused there, as a ``StoreError`` to the caller, not at a
later commit) and appends it to an ordered list of batches. ``commit()`` sends ``BEGIN``, every batch and
``COMMIT`` as one simple-protocol query: one message and one round trip however many rows it carries
(rows of one ``INSERT`` go in one multi-row ``VALUES``), and little work in Python, which matters more
than the server here. If anything in it fails, none of it is committed. The literals are rendered by
``_literal``: integers, ``NULL``, ``bytea`` in hex and text with its quotes doubled, on a connection set
to ``standard_conforming_strings=on`` and UTF-8, so no value can end its literal early.

Reads must see what this writer wrote but has not committed (a resend after a message saved in the same
turn, a journal lookup after an append), as a SQLite connection sees its own open transaction: ``read``
first sends the queued batches into an open server transaction (``push``), then queries in it.

Group commit is the SQLite store's: ``defer_commits(schedule)`` turns ``commit_soon()`` (a journal's
``commit()``) into a commit point whose ``COMMIT`` runs in ``flush()`` at the next loop turn.

Pipelined commits (``pipeline_commits``, what the gateway turns on; ``fixgw.stores._pgpipeline``): the
``COMMIT`` leaves the event loop (``fixgw.stores._pipeline``). A commit point (``request_commit()``: the deferred flush, a session's
``commit()``) seals the pending writes into one query and sends it without waiting (on a running asyncio
loop the loop itself sends it and lands it when the answer arrives, ``LoopCommits``; else a commit
thread runs it), or, while one is in flight, leaves them for the next, sealed as soon as it lands. Whatever depends on the writes made so
far takes ``covering()``'s ticket and waits for it (``pipeline``, ``durable()``). ``commit()``, ``flush()``,
reads and ``close()`` stay synchronous: they first wait for the commit in flight. A failed pipelined commit
is final as any other, and releases nothing that waited for it.

Failures are final: once a commit or a read inside an open transaction fails, the transaction and every
queued row are gone while the callers' in-memory numbers say otherwise, so the writer keeps the error
and raises it from every later write, read and commit. A read outside any transaction that fails only
raises. ``psycopg`` errors never leave this package: they become ``StoreError``.

Secrets: the connection string's password never appears in a repr, a log line or an error message; the
writer is labelled by the connection string with the password replaced by ``***``.

Text columns of PostgreSQL cannot hold the NUL character, which a FIX peer can put into a CompID or a
ClOrdID; such values go through ``pg_text`` (a reversible escape) before they are stored or looked up.
"""

from __future__ import annotations

from typing import Any, Callable

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..errors import StoreError
from ._groupcommit import GroupCommit
from ._pgpipeline import PipelinedCommits, fetch_text
from ._pipeline import CommitPipeline

__all__ = ["NUMBER", "PgWriter", "Statement", "redacted_dsn", "pg_text", "pg_untext", "SCHEMA"]


SCHEMA_VERSION = 2
#: Schema versions this code opens, each brought up to ``SCHEMA_VERSION`` (``_MIGRATIONS``) when opened.
_KNOWN_VERSIONS = (1, 2)
#: Every table of the PostgreSQL stores, created in one transaction under an advisory lock, so that two
#: processes opening an empty database at once do not race on ``CREATE TABLE IF NOT EXISTS``.
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS fixgw_schema (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS fix_sessions ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " begin_string TEXT NOT NULL, sender_comp_id TEXT NOT NULL, target_comp_id TEXT NOT NULL,"
    " next_sender_seq BIGINT NOT NULL, next_target_seq BIGINT NOT NULL, creation_time_ns BIGINT NOT NULL,"
    " UNIQUE (begin_string, sender_comp_id, target_comp_id))",
    "CREATE TABLE IF NOT EXISTS fix_messages ("
    " session_id BIGINT NOT NULL, seq BIGINT NOT NULL, raw BYTEA NOT NULL,"
    " PRIMARY KEY (session_id, seq))",
    "CREATE TABLE IF NOT EXISTS order_journal ("
    " account TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, order_id TEXT,"
    " ts_ns BIGINT NOT NULL, body TEXT NOT NULL, cl_ord_id TEXT, venue_order_id TEXT,"
    " PRIMARY KEY (account, seq))",
    "CREATE INDEX IF NOT EXISTS order_journal_order ON order_journal (account, order_id, seq)"
    " WHERE order_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS order_journal_cl_ord_id ON order_journal (account, cl_ord_id, seq)"
    " WHERE cl_ord_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS order_journal_venue_id ON order_journal (account, venue_order_id, seq)"
    " WHERE venue_order_id IS NOT NULL",
    # Event ids of the bridge's stream (fixgw.stores.journal_postgres): the event rows of one INSERT are
    # numbered from one counter row, advanced once by their count (``Statement.numbered``) and locked until
    # the transaction ends, so the ids of every node's events are gap-free and increase in commit order; a
    # rolled-back transaction takes none. A row inserted with event_id 0 (a node of schema 1 still running)
    # is numbered by the trigger, one counter update per row.
    "ALTER TABLE order_journal ADD COLUMN IF NOT EXISTS event_id BIGINT",
    "CREATE UNIQUE INDEX IF NOT EXISTS order_journal_event ON order_journal (event_id)"
    " WHERE event_id IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS fixgw_event_ids (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),"
    " last BIGINT NOT NULL)",
    "INSERT INTO fixgw_event_ids (one, last) VALUES (true, 0) ON CONFLICT DO NOTHING",
    "CREATE OR REPLACE FUNCTION fixgw_number_event() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN IF NEW.event_id = 0 THEN UPDATE fixgw_event_ids SET last = last + 1 RETURNING last INTO NEW.event_id;"
    " END IF; RETURN NEW; END $$",
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'order_journal_event_id'"
    " AND tgrelid = 'order_journal'::regclass) THEN"
    " CREATE TRIGGER order_journal_event_id BEFORE INSERT ON order_journal FOR EACH ROW"
    " WHEN (NEW.event_id = 0) EXECUTE FUNCTION fixgw_number_event(); END IF; END $$",
    # Leases with fencing tokens (fixgw.stores.lease). A row is never deleted, so a key's token only grows.
    "CREATE TABLE IF NOT EXISTS fixgw_leases ("
    " owner_key TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL,"
    " expires_at TIMESTAMPTZ NOT NULL)",
    # The address each gateway node tells clients to use (fixgw.stores.lease; a Logout names the owner's).
    "CREATE TABLE IF NOT EXISTS fixgw_nodes (node_id TEXT PRIMARY KEY, address TEXT NOT NULL)",
    # Raises unless every (key, token) is the key's current token; FOR SHARE holds each lease row until the
    # calling transaction ends, so a takeover (an UPDATE of the row) waits for a write that passed the check.
    "CREATE OR REPLACE FUNCTION fixgw_check_fences(keys TEXT[], tokens BIGINT[]) RETURNS void"
    " LANGUAGE plpgsql AS $$"
    " DECLARE i INTEGER; current BIGINT;"
    " BEGIN"
    "  FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP"
    "   SELECT token INTO current FROM fixgw_leases WHERE owner_key = keys[i] FOR SHARE;"
    "   IF current IS DISTINCT FROM tokens[i] THEN"
    "    RAISE EXCEPTION 'fenced: the lease of % has token %, this writer holds %', keys[i], current, tokens[i]"
    "     USING ERRCODE = 'P0001';"
    "   END IF;"
    "  END LOOP;"
    " END $$",
)
#: What opening a database of an older schema version runs (under the schema lock, after ``SCHEMA``).
_MIGRATIONS = {
    # 1 -> 2: the trigger numbers only rows inserted with event_id 0 (schema 1's), not those numbered
    # per INSERT (whose ids are given).
    1: (
        "DROP TRIGGER IF EXISTS order_journal_event_id ON order_journal",
        "CREATE TRIGGER order_journal_event_id BEFORE INSERT ON order_journal FOR EACH ROW"
        " WHEN (NEW.event_id = 0) EXECUTE FUNCTION fixgw_number_event()",
    ),
}
#: Key of the transaction-level advisory lock taken while the schema is created (any fixed number).
_SCHEMA_LOCK = 0x66697867


def redacted_dsn(dsn: str) -> str:
    """Return ``dsn`` with its password replaced by ``***`` (for reprs, logs and error messages)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "<unparsable connection string>"
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


def pg_text(value: str | None) -> str | None:
    """Escape ``value`` for a TEXT column: ``\\`` becomes ``\\\\`` and NUL becomes ``\\0`` (reversible)."""
    if value is None or ("\x00" not in value and "\\" not in value):
        return value
    return value.replace("\\", "\\\\").replace("\x00", "\\0")


def pg_untext(value: str | None) -> str | None:
    """Undo ``pg_text``."""
    if value is None or "\\" not in value:
        return value
    out = []
    it = iter(value)
    for ch in it:
        if ch == "\\":
            nxt = next(it, "")
            out.append("\x00" if nxt == "0" else nxt)
        else:
            out.append(ch)
    return "".join(out)


class Statement:
    """A write statement whose rows are queued: rows of an ``INSERT`` (``head`` + ``(v, ...)`` rows + ``tail``)
    or one ``template`` per row (``{}`` for each value). ``key`` values at the start of a row name the row a
    later one replaces within the same batch (an upsert's conflict key: a multi-row ``INSERT ... ON
    CONFLICT DO UPDATE`` may not touch one row twice). Rows of an ``INSERT`` keep their order among
    themselves but may be sent before rows of another ``INSERT`` queued earlier (``PgWriter._batch_of``):
    two ``INSERT`` statements must write different tables; a ``template`` statement keeps its place.

    ``numbered``: an ``INSERT`` into ``order_journal`` whose last value is an event marker (``NUMBER``: number
    this row; ``None``: not an event). The event rows of one batch take the next ids of the counter row
    ``fixgw_event_ids``, advanced once by their count in the same statement (one update per statement, not
    one per row); ``numbered`` names the ``VALUES`` columns (the columns of ``head``, in order)."""

    __slots__ = ("head", "tail", "template", "key", "numbered")

    def __init__(self, head: str = "", tail: str = "", *, template: str = "", key: int = 0,
                 numbered: str = "") -> None:
        self.head = head
        self.tail = tail
        self.template = template
        self.key = key
        self.numbered = numbered


#: ``queue``'s value for the event id of a ``Statement.numbered`` row: numbered at commit.
NUMBER = object()


class _Numbered(list):  # type: ignore[type-arg]
    """The fragments of a ``Statement.numbered`` batch and how many of them are event rows."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        super().__init__()
        self.events = 0


def _literal(value: object) -> str:
    """Render one value as an SQL literal (see the module docstring); refuse what the server cannot hold."""
    if value is None:
        return "NULL"
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        if "\x00" in text:
            raise StoreError("a text value holds NUL, which PostgreSQL cannot store (escape it with pg_text)")
        if not text.isascii():  # (ASCII, the usual case, needs no trial encoding)
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise StoreError(f"a text value is not valid Unicode: {exc.reason}") from None
        return "'" + text.replace("'", "''") + "'"
    if kind is bytes or kind is bytearray or kind is memoryview:
        return "'\\x" + bytes(value).hex() + "'"  # type: ignore[arg-type]
    raise StoreError(f"cannot store a {kind.__name__} value")


def _numbered_insert(statement: Statement, rows: Any, events: int) -> str:
    """The ``INSERT`` of a ``Statement.numbered`` batch holding ``events`` event rows (their last value is
    their ordinal, 1..events): the counter row is advanced once and each event takes base + ordinal."""
    columns = statement.numbered
    head = statement.head
    values, marker = (part.strip() for part in columns.rsplit(",", 1))
    return (f"WITH fixgw_n AS (UPDATE fixgw_event_ids SET last = last + {events} RETURNING last - {events} AS base) "
            + head[: head.upper().rindex(" VALUES ")]
            + f" SELECT {values}, fixgw_n.base + v.{marker} FROM fixgw_n, (VALUES {','.join(rows)}) AS v({columns})"
            + statement.tail)


class PgWriter(PipelinedCommits, GroupCommit):
    """A connection whose writes are queued and sent at commit as one query (see the module docstring)."""

    def __init__(self, dsn: str, *, connect_timeout: float = 10.0) -> None:
        try:
            self._password = conninfo_to_dict(dsn).get("password")
        except psycopg.Error:  # its text may hold the password: never echoed
            raise StoreError("invalid PostgreSQL connection string") from None
        self._label = redacted_dsn(dsn)
        #: ``(statement, fragments)`` in order; an upsert's fragments are a dict by conflict key.
        self._batches: list[tuple[Statement, Any]] = []
        self._open = False  # a server-side transaction is open (BEGIN sent, not yet committed)
        self._active = False  # something is uncommitted: queued rows, an open transaction, marks
        self._commits = 0
        self._closed = False
        self._failed: StoreError | None = None
        self._init_group_commit()
        self._journal_seqs: dict[str, int] = {}
        self._fences: dict[str, int] = {}
        #: Lease key -> the scopes whose rows it fences (empty: every commit); see ``fence``.
        self._fence_scopes: dict[str, frozenset[str]] = {}
        #: Scopes with rows in the transaction being built (``None``: a row of no scope).
        self._scopes: set[str | None] = set()
        self._pipe: CommitPipeline | None = None
        self._reader: psycopg.Connection[Any] | None = None  # pipelined: reads of what is committed
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._wanted = False  # pipelined: a commit point was reached while a commit was in flight
        self._on_failure: Callable[[StoreError], None] | None = None
        try:
            self._conn = psycopg.connect(dsn, autocommit=True, connect_timeout=max(1, int(connect_timeout)))
        except psycopg.Error as exc:
            raise StoreError(f"{self._label}: cannot connect: {self._scrub(exc)}") from None
        try:
            self._conn.execute("SET standard_conforming_strings = on")  # what ``_literal`` relies on
            self._conn.execute("SET client_encoding = 'UTF8'")
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in SCHEMA:
                    self._conn.execute(statement)
                row = self._conn.execute("SELECT max(version), count(*) FROM fixgw_schema").fetchone()
                if row is None or row[1] == 0:
                    self._conn.execute("INSERT INTO fixgw_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
                elif row[0] not in _KNOWN_VERSIONS:
                    raise StoreError(f"{self._label}: unknown store schema version {row[0]}")
                elif row[0] != SCHEMA_VERSION:
                    for version in range(int(row[0]), SCHEMA_VERSION):
                        for statement in _MIGRATIONS.get(version, ()):
                            self._conn.execute(statement)
                    self._conn.execute("UPDATE fixgw_schema SET version = %s", (SCHEMA_VERSION,))
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"{self._label}: cannot create the schema: {self._scrub(exc)}") from None
        except StoreError:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._label!r})"

    # -- the transaction-owner surface (the same names as SqliteMessageStore's) ------------------
    @property
    def dsn(self) -> str:
        """The connection string with its password replaced by ``***``."""
        return self._label

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """The one connection (tests close it to act out a crash: nothing queued is committed)."""
        return self._conn

    @property
    def commits(self) -> int:
        """How many transactions this writer has committed (a journal tells its pending records by it)."""
        return self._commits

    def begin(self) -> None:
        """Mark a write transaction as open (nothing is sent until a commit or a read)."""
        self._check_writable()
        self._active = True

    def _uncommitted(self) -> bool:
        return self._active

    def commit(self) -> None:
        """Send every queued row and commit them in one transaction (one round trip); return once durable
        (pipelined: after the commit in flight, if any)."""
        if self._failed is not None:
            raise self._failed
        self._flush_due = False
        pipe = self._pipe
        if pipe is not None and pipe.busy:
            pipe.drain()
            if self._failed is not None:
                raise self._failed
        if not self._active:
            return
        self._before_commit()
        try:
            self._simple(self._render(commit=True))
        except psycopg.Error as exc:
            raise self._fail("commit failed", exc) from None
        self._batches = []
        self._open = False
        self._active = False
        self._wanted = False
        self._commits += 1
        if pipe is not None:
            pipe.committed_inline()

    def close(self) -> None:
        """Commit what is pending and close the connection; the writer cannot be used afterwards.

        After a failure the connection is closed and the failure raised again (as ``commit()`` would)."""
        if self._closed:
            return
        try:
            self.commit()
        finally:
            self._closed = True
            if self._pipe is not None:
                self._pipe.close()
            if self._reader is not None:
                self._reader.close()
            self._conn.close()

    def abandon(self) -> None:
        """Close the connection without committing (what a crash does); the writer cannot be used afterwards.
        A commit already handed to the commit thread may still land (as in a crash after it was sent)."""
        self._closed = True
        self._batches = []
        if self._pipe is not None:
            self._pipe.close()
        if self._reader is not None:
            self._reader.close()
        self._conn.close()

    def fence(self, key: str, token: int, scopes: Any = ()) -> None:
        """Refuse every later commit unless ``token`` is still the current fencing token of lease ``key``.

        The check runs first in each commit's transaction and holds the lease row until the commit ends,
        so a node that lost the lease to a newer token cannot write (see ``fixgw.stores.lease``).
        ``scopes``: check it only in commits that write rows of one of them (``queue``'s ``scope``: a
        session's rows, an account's journal), so that losing one session's lease refuses that session's
        writes, not the other sessions' commits; none: in every commit. A commit holding a row of no
        scope checks every fence."""
        k = pg_text(key) or ""
        self._fences[k] = int(token)
        self._fence_scopes[k] = frozenset(scopes)

    def unfence(self, key: str) -> None:
        """Stop checking lease ``key`` (the writer no longer writes for it)."""
        k = pg_text(key) or ""
        self._fences.pop(k, None)
        self._fence_scopes.pop(k, None)

    def _fences_due(self) -> dict[str, int]:
        """The fences the commit being built must check: those of the scopes it writes rows of."""
        scopes = self._scopes
        if None in scopes:
            return self._fences
        return {k: t for k, t in self._fences.items()
                if not self._fence_scopes.get(k) or not scopes.isdisjoint(self._fence_scopes[k])}

    # -- for the stores built on this writer ------------------------------------------------------
    def queue(self, statement: Statement, row: tuple[Any, ...], scope: str | None = None) -> None:
        """Queue one row of ``statement`` for the next commit (consecutive rows of one statement batch);
        ``scope``: whose row it is, for the fences (``fence``)."""
        if self._failed is not None or self._closed:
            self._check_writable()
        self._scopes.add(scope)
        if statement.template:
            fragment = statement.template.format(*[_literal(v) for v in row])
        elif statement.numbered:
            fragments = self._batch_of(statement)
            if row[-1] is NUMBER:  # the event's ordinal in its batch: its id is the counter's base + it
                fragments.events += 1
                row = (*row[:-1], fragments.events)
            fragments.append("(" + ",".join([_literal(v) for v in row]) + ")")
            self._active = True
            return
        else:
            fragment = "(" + ",".join([_literal(v) for v in row]) + ")"
        fragments = self._batch_of(statement)
        if statement.key:
            key = row[: statement.key]
            fragments.pop(key, None)
            fragments[key] = fragment
        else:
            fragments.append(fragment)
        self._active = True

    def _batch_of(self, statement: Statement) -> Any:
        """The fragments a row of ``statement`` joins: the last batch's if it is the same statement; for an
        ``INSERT``, the latest batch of the same statement that only other ``INSERT`` batches follow (they
        write other tables, so their rows may go first: one statement per table and commit, however the
        journal's and the messages' rows alternate); else a new batch."""
        batches = self._batches
        if batches:
            last, fragments = batches[-1]
            if last is statement:
                return fragments
            if not statement.template:
                for earlier, fragments in reversed(batches):
                    if earlier is statement:
                        return fragments
                    if earlier.template:
                        break
        fragments = {} if statement.key else _Numbered() if statement.numbered else []
        batches.append((statement, fragments))
        return fragments

    def read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Run a query that sees this writer's uncommitted rows; return every row."""
        self._check_open()
        pipe = self._pipe
        if pipe is not None and pipe.busy:  # the connection is the commit thread's until it lands
            pipe.drain()
            self._check_open()
        try:
            if self._batches:
                self._simple(self._render(commit=False))
                self._open = True
                self._batches = []
            return self._conn.execute(sql, params).fetchall()
        except UnicodeEncodeError as exc:  # refused before anything was sent: the transaction is intact
            raise StoreError(f"{self._label}: a value is not valid Unicode: {exc.reason}") from None
        except psycopg.Error as exc:
            if self._open:  # the open transaction is aborted: everything uncommitted is lost
                raise self._fail("read failed", exc) from None
            raise StoreError(f"{self._label}: read failed: {self._scrub(exc)}") from None

    async def read_async(self, sql: str, params: tuple[Any, ...]) -> list[tuple[str | None, ...]]:
        """``read`` on a writer with nothing uncommitted, without blocking the event loop or a thread
        (``fetch_text``): every value as text. ``%s`` in ``sql`` are filled with ``params`` as literals."""
        self._check_open()
        if self._active or self._open or (self._pipe is not None and self._pipe.busy):
            raise StoreError(f"{self._label}: read_async while writes are uncommitted")
        query = sql.replace("%s", "{}").format(*[_literal(v) for v in params])
        try:
            return await fetch_text(self._conn.pgconn, query.encode("utf-8"))
        except psycopg.Error as exc:
            raise StoreError(f"{self._label}: read failed: {self._scrub(exc)}") from None
        except BaseException:  # cancelled with the query in flight: the connection cannot be used again
            self._failed = StoreError(f"{self._label}: a read was cancelled")
            raise

    def forget_journal_seq(self, account: str) -> None:
        """Read ``account``'s next journal number from the database again (another process appended)."""
        self._journal_seqs.pop(account, None)

    def next_journal_seq(self, account: str) -> int:
        """Return the next journal sequence number of ``account`` (numbers are assigned here, per account)."""
        seq = self._journal_seqs.get(account)
        if seq is None:
            # Nothing of the account's is queued or in flight from this writer, which would know its number:
            # with pipelined commits, what is committed is the answer, read without waiting for a commit.
            rows = self.read_committed("SELECT coalesce(max(seq), 0) FROM order_journal WHERE account = %s",
                                       (pg_text(account),))
            seq = int(rows[0][0]) + 1
        self._journal_seqs[account] = seq + 1
        return seq

    def _before_commit(self) -> None:
        """Queue what the owner keeps in memory until commit (the message store: sequence numbers)."""

    def _render(self, *, commit: bool) -> str:
        """The one query that sends every queued batch (opening the transaction; committing it)."""
        parts = [] if self._open else ["BEGIN"]
        fences = self._fences_due() if commit and self._fences else None
        if commit:
            self._scopes = set()  # the next transaction's
        if fences:
            keys = ",".join(_literal(k) for k in fences)
            tokens = ",".join(str(t) for t in fences.values())
            parts.append(f"SELECT fixgw_check_fences(ARRAY[{keys}]::text[], ARRAY[{tokens}]::bigint[])")
        for statement, fragments in self._batches:
            rows = fragments.values() if statement.key else fragments
            if statement.template:
                parts.extend(rows)
            elif statement.numbered and fragments.events:
                parts.append(_numbered_insert(statement, rows, fragments.events))
            else:
                parts.append(statement.head + ",".join(rows) + statement.tail)
        if commit:
            parts.append("COMMIT")
        return ";".join(parts)

    def _simple(self, query: str) -> None:
        """Run ``query`` (several statements) as one simple-protocol message; raise ``psycopg.Error``."""
        pgconn = self._conn.pgconn
        result = pgconn.exec_(query.encode("utf-8"))
        status = result.status
        if status != pq.ExecStatus.COMMAND_OK:
            message = result.get_error_message() or pgconn.get_error_message()
            raise psycopg.OperationalError(message.strip() or f"query failed ({pq.ExecStatus(status).name})")

    def _fail(self, what: str, exc: BaseException) -> StoreError:
        error = StoreError(f"{self._label}: {what}: {self._scrub(exc)}")
        self._failed = error
        self._wanted = False
        if self._pipe is not None:
            self._pipe.fail(error)
        self._batches = []
        self._open = False
        self._active = False
        self._journal_seqs.clear()
        try:
            if not self._conn.closed:
                self._conn.execute("ROLLBACK")
        except psycopg.Error:
            pass
        return error

    def _scrub(self, exc: BaseException) -> str:
        text = str(exc).strip() or type(exc).__name__
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self._label}: store is closed")
        if self._failed is not None:
            raise self._failed

    _check_writable = _check_open
