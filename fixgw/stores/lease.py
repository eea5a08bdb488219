"""Leases with fencing tokens in PostgreSQL: which gateway node owns a FIX session or a venue account.

Theory of operation
-------------------
Several gateway nodes share one database. Each thing that must have exactly one writer (a FIX session's
sequence numbers, a venue account's order journal) has an *owner key* (``session_lease_key``,
``account_lease_key``) and one row of ``fixgw_leases``: the holder (a node id), a fencing token and an
expiry time. Time is the server's (``clock_timestamp()``): nodes' clocks never need to agree.

- ``acquire(key)`` takes the lease when it is free (never held, released) or expired, or already held by
  this node, in one atomic statement, and raises the token by one; it returns ``None`` while another
  node holds a live lease (``owner(key)`` says which: what a non-owner tells a client in its Logout).
- ``renew(lease)`` pushes the expiry forward while the token is still the lease's; it raises
  ``LeaseLost`` once another node has acquired the key (a newer token), even if this node did not notice
  its own lease run out.
- ``release(lease)`` lets the lease expire at once; the row (and so the token) stays, so tokens of a key
  only ever grow.

Timing only decides *when* another node may take over. What makes two owners harmless is the token: a
store writer told ``fence(key, token)`` (``PgWriter.fence``) checks, first thing in every commit's
transaction, that ``token`` is still the key's current one, and holds the lease row (``FOR SHARE``) until
the commit ends. A takeover updates that row, so it waits for a commit that passed the check, and every
commit after the takeover fails the check: a stale owner (paused, partitioned, its lease expired
unnoticed) cannot write after the new owner has started, whatever the clocks say. Its store then refuses
every later write (a failed commit is final, ``fixgw.stores._pg``) and the node must drop the key.

Per session: ``fence(key, token, scopes)`` checks the token only in commits that hold rows of one of
``scopes`` (a session's rows, an account's journal: ``PgWriter.queue``'s ``scope``), so a node that lost
one session's lease is refused that session's writes while it goes on committing for its other sessions
(until its renewal notices and it drops the session). A commit holding rows of the lost session is
refused whole, as above.

A ``LeaseManager`` has its own connection (autocommit), apart from the store's, so that renewing never
waits for, or joins, a store transaction. Use it from one thread at a time.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any

import psycopg

from ..errors import StoreError
from ._pg import PgWriter, pg_text

__all__ = ["Lease", "LeaseHolder", "LeaseLost", "LeaseManager", "account_lease_key", "new_node_id",
           "session_lease_key"]

_ACQUIRE = (
    "INSERT INTO fixgw_leases AS l (owner_key, holder, token, expires_at)"
    " VALUES (%(key)s, %(node)s, 1, clock_timestamp() + make_interval(secs => %(ttl)s))"
    " ON CONFLICT (owner_key) DO UPDATE"
    " SET holder = EXCLUDED.holder, token = l.token + 1, expires_at = EXCLUDED.expires_at"
    " WHERE l.expires_at <= clock_timestamp() OR l.holder = EXCLUDED.holder"
    " RETURNING token, expires_at"
)
_RENEW = (
    "UPDATE fixgw_leases SET expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)"
    " WHERE owner_key = %(key)s AND holder = %(node)s AND token = %(token)s RETURNING expires_at"
)
_RELEASE = (
    "UPDATE fixgw_leases SET expires_at = clock_timestamp()"
    " WHERE owner_key = %(key)s AND holder = %(node)s AND token = %(token)s"
)
_OWNER = (
    "SELECT l.holder, l.token, l.expires_at, l.expires_at > clock_timestamp(), coalesce(n.address, '')"
    " FROM fixgw_leases l LEFT JOIN fixgw_nodes n ON n.node_id = l.holder WHERE l.owner_key = %s"
)
_ADVERTISE = (
    "INSERT INTO fixgw_nodes (node_id, address) VALUES (%(node)s, %(address)s)"
    " ON CONFLICT (node_id) DO UPDATE SET address = EXCLUDED.address"
)


class LeaseLost(StoreError):
    """The lease was acquired by another node (a newer token): this node must stop writing for its key."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease this node holds: its key, this node's id, the fencing token and the server's expiry."""

    key: str
    holder: str
    token: int
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds (or last held) a key, as ``owner(key)`` reads it; ``live``: not expired; ``address``: where
    the holder serves clients, as it advertised it (``""``: not said)."""

    holder: str
    token: int
    expires_at: dt.datetime
    live: bool
    address: str = ""


def session_lease_key(session_id: Any) -> str:
    """The owner key of a FIX session (BeginString, SenderCompID, TargetCompID)."""
    return f"session:{session_id.begin_string}:{session_id.sender_comp_id}:{session_id.target_comp_id}"


def account_lease_key(venue: str, account: str) -> str:
    """The owner key of a venue account."""
    return f"account:{venue}:{account}"


def new_node_id() -> str:
    """A node id unique to this process: host name, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseManager:
    """Acquire, renew and release leases for node ``node`` (see the module docstring).

    ``ttl`` (seconds) is how long a lease lives without renewal: another node may take the key that
    long after this node stopped renewing it. Renew well within it (every ``ttl / 3``, say).
    ``address`` (``host:port``), when given, is recorded for this node: ``owner(key)`` tells it to others.
    """

    def __init__(self, dsn: str, node: str, *, ttl: float = 5.0, connect_timeout: float = 10.0,
                 address: str = "") -> None:
        if not node:
            raise ValueError("node must not be empty")
        if not ttl > 0:
            raise ValueError("ttl must be positive")
        self.node = node
        self.ttl = float(ttl)
        self._db = PgWriter(dsn, connect_timeout=connect_timeout)  # the schema, and a connection of its own
        if address:
            try:
                self._one(_ADVERTISE, {"node": pg_text(node), "address": pg_text(address)})
            except StoreError:
                self._db.abandon()
                raise

    def __repr__(self) -> str:
        return f"LeaseManager({self._db.dsn!r}, node={self.node!r}, ttl={self.ttl})"

    def acquire(self, key: str) -> Lease | None:
        """Take ``key`` if it is free, expired or already ours (the token goes up); ``None`` if not."""
        row = self._one(_ACQUIRE, {"key": pg_text(key), "node": self.node, "ttl": self.ttl})
        if row is None:
            return None
        return Lease(key, self.node, int(row[0]), row[1])

    def renew(self, lease: Lease) -> Lease:
        """Push ``lease``'s expiry ``ttl`` ahead; raise ``LeaseLost`` if another node acquired its key."""
        row = self._one(_RENEW, {"key": pg_text(lease.key), "node": self.node, "token": lease.token,
                                 "ttl": self.ttl})
        if row is None:
            raise LeaseLost(f"lease {lease.key!r} (token {lease.token}) was taken by another node")
        return Lease(lease.key, self.node, lease.token, row[0])

    def release(self, lease: Lease) -> None:
        """Let ``lease`` expire now (nothing happens if it was already taken over)."""
        self._one(_RELEASE, {"key": pg_text(lease.key), "node": self.node, "token": lease.token})

    def owner(self, key: str) -> LeaseHolder | None:
        """Who holds or last held ``key``; ``None`` if nobody ever did."""
        row = self._one(_OWNER, (pg_text(key),))
        if row is None:
            return None
        return LeaseHolder(row[0], int(row[1]), row[2], bool(row[3]), row[4])

    def close(self) -> None:
        self._db.abandon()

    def __enter__(self) -> LeaseManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _one(self, sql: str, params: Any) -> tuple[Any, ...] | None:
        try:
            cur = self._db.connection.execute(sql, params)
            return cur.fetchone() if cur.description is not None else None
        except UnicodeEncodeError as exc:
            raise StoreError(f"{self._db.dsn}: a lease key is not valid Unicode: {exc.reason}") from None
        except psycopg.Error as exc:
            raise StoreError(f"{self._db.dsn}: lease query failed: {self._db._scrub(exc)}") from None
