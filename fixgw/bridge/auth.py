"""Request signing: the scheme the venues use, turned around (sans-I/O: time is an argument).

Theory of operation
-------------------
A client signs every request with its key's secret: HMAC-SHA256 over the *canonical request*, seven
lines joined by ``\\n`` (no trailing newline)::

    FIXGW-HMAC-SHA256          the scheme's name (a later version of the scheme gets a new name)
    <key id>                   as in X-FIXGW-KEY
    <timestamp>                as in X-FIXGW-TIMESTAMP: epoch milliseconds, decimal, no leading zero
    <METHOD>                   upper case (GET for a WebSocket upgrade)
    <path>                     exactly as on the request line, percent-encoding kept, no query
    <query>                    exactly as on the request line after the first "?", or empty
    <hex SHA-256 of the body>  lower-case hex of the raw body bytes (of b"" when there is none)

docs/bridge.md has a worked example any implementation can check itself against.

No part can hold a newline (a request line cannot), the body enters only as its digest and every part
has its own line, so moving bytes between path, query and body always changes the string: a request
signed for ``?price=31000`` with body ``.00`` does not verify as ``?price=3100`` with body ``0.00``.

The server (``Verifier.verify``) refuses, in this order: a missing or repeated header, an unknown key,
a malformed timestamp, a timestamp more than ``window`` away from its clock (either side, edges
included) — these four from the headers alone (``precheck``), so a stranger cannot make the server
read a body — then a signature that does not match (compared in constant time), a peer address the key does
not allow, and a signature already seen (the replay cache). The cache keeps each accepted signature
until its timestamp leaves the window — after that the request would be stale anyway — and holds at
most ``replay_capacity`` entries: when full it refuses new requests (429) rather than forget one that
could still be replayed.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
from typing import Iterable, Tuple

from fixgw.errors import ConfigError

from .errors import ApiError
from .keys import BridgeKey, KeyRing

__all__ = [
    "SCHEME",
    "HEADER_KEY",
    "HEADER_TIMESTAMP",
    "HEADER_SIGNATURE",
    "DEFAULT_WINDOW",
    "MIN_WINDOW",
    "MAX_WINDOW",
    "canonical_request",
    "sign",
    "signed_headers",
    "ReplayCache",
    "Verifier",
    "check_window",
    "QUERY_PARAMS",
    "websocket_credentials",
]

SCHEME = b"FIXGW-HMAC-SHA256"
HEADER_KEY = "X-FIXGW-KEY"
HEADER_TIMESTAMP = "X-FIXGW-TIMESTAMP"
HEADER_SIGNATURE = "X-FIXGW-SIGNATURE"
DEFAULT_WINDOW = 10.0
MIN_WINDOW = 5.0
MAX_WINDOW = 30.0
DEFAULT_REPLAY_CAPACITY = 100_000

#: What ``Verifier.precheck`` found in the headers: (key, key id, timestamp, signature).
Claim = Tuple[BridgeKey, bytes, bytes, bytes]

_TIMESTAMP = re.compile(rb"[1-9][0-9]{0,15}")
_SIGNATURE = re.compile(rb"[0-9a-fA-F]{64}")
_KEY_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_WWW_AUTH = {"WWW-Authenticate": SCHEME.decode()}
#: The query-string form of the three headers, for a WebSocket upgrade from a browser (which cannot set headers).
QUERY_PARAMS = frozenset({"fixgw_key", "fixgw_timestamp", "fixgw_signature"})
_QUERY_HEADERS = {b"fixgw_key": b"x-fixgw-key", b"fixgw_timestamp": b"x-fixgw-timestamp"}


def _b(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def canonical_request(
    key_id: str | bytes,
    timestamp_ms: int | str | bytes,
    method: str | bytes,
    path: str | bytes,
    query: str | bytes,
    body: bytes,
) -> bytes:
    """Return the bytes a request's signature covers (see the module docstring)."""
    path_b = _b(path)
    head = b"\n".join((
        SCHEME,
        _b(key_id),
        _b(str(timestamp_ms)) if isinstance(timestamp_ms, int) else _b(timestamp_ms),
        _b(method).upper(),
        path_b,
        _b(query),
    ))
    # Six parts, five separators: one more newline, or any carriage return, came from a part.
    if head.count(b"\n") != 5 or b"\r" in head:
        raise ValueError("a part of the canonical request holds a line break")
    if b"?" in path_b:
        raise ValueError("the path must not hold the query")
    return head + b"\n" + hashlib.sha256(body).hexdigest().encode("ascii")


def sign(secret: str, canonical: bytes) -> str:
    """Return the lower-case hex HMAC-SHA256 of ``canonical`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), canonical, hashlib.sha256).hexdigest()


def signed_headers(
    key_id: str, secret: str, timestamp_ms: int, method: str, path: str | bytes, query: str | bytes, body: bytes
) -> dict[str, str]:
    """Return the three headers that authenticate a request."""
    canonical = canonical_request(key_id, timestamp_ms, method, path, query, body)
    return {
        HEADER_KEY: key_id,
        HEADER_TIMESTAMP: str(timestamp_ms),
        HEADER_SIGNATURE: sign(secret, canonical),
    }


def websocket_credentials(
    headers: Iterable[tuple[bytes, bytes]], query: bytes
) -> tuple[Iterable[tuple[bytes, bytes]], bytes]:
    """Return (the credentials as headers, the signed query) of a WebSocket upgrade.

    A browser cannot set headers on a WebSocket, so the upgrade may carry them in its query instead:
    ``fixgw_key=<id>&fixgw_timestamp=<ms>`` anywhere, and ``fixgw_signature=<hex>`` last. The signature
    covers the canonical request whose query is everything before ``&fixgw_signature=`` (the key and
    timestamp parameters included). An upgrade that sends any of the headers, or no signature parameter,
    is returned as it is (the headers are checked as for any request).
    """
    headers = list(headers)
    if any(name.lower().startswith(b"x-fixgw-") for name, _ in headers):
        return headers, query
    if query.startswith(b"fixgw_signature="):
        signed, signature = b"", query[len(b"fixgw_signature="):]
    else:
        signed, sep, signature = query.rpartition(b"&fixgw_signature=")
        if not sep:
            return headers, query
    found = [(b"x-fixgw-signature", signature)]
    for part in signed.split(b"&"):
        name, _, value = part.partition(b"=")
        if name in _QUERY_HEADERS:
            found.append((_QUERY_HEADERS[name], value))
    return headers + found, signed


def check_window(window: float, *, key: str = "bridge.window") -> float:
    """Return ``window`` (seconds) if it is within [5, 30]; raise ``ConfigError`` otherwise."""
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not (MIN_WINDOW <= window <= MAX_WINDOW):
        raise ConfigError(key, f"must be a number of seconds from {MIN_WINDOW:g} to {MAX_WINDOW:g}")
    return float(window)


class ReplayCache:
    """Signatures seen recently, each kept until its expiry (epoch ms); at most ``capacity`` of them."""

    def __init__(self, capacity: int = DEFAULT_REPLAY_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._expiry: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []
        # The latest "now" seen. Entries expire by it, so a clock stepping back must not revive a
        # request whose entry is already gone: such a request is refused as stale.
        self._horizon = 0

    def __len__(self) -> int:
        return len(self._expiry)

    def _purge(self, now_ms: int) -> None:
        self._horizon = max(self._horizon, now_ms)
        heap = self._heap
        while heap and heap[0][0] < self._horizon:
            _, ident = heapq.heappop(heap)
            self._expiry.pop(ident, None)

    def add(self, ident: bytes, expires_ms: int, now_ms: int) -> str | None:
        """Record ``ident``; return None, or why it is refused: ``"replayed"``, ``"stale"``, ``"full"``."""
        self._purge(now_ms)
        if ident in self._expiry:
            return "replayed"
        if expires_ms < self._horizon:
            return "stale"
        if len(self._expiry) >= self.capacity:
            return "full"
        self._expiry[ident] = expires_ms
        heapq.heappush(self._heap, (expires_ms, ident))
        return None


class Verifier:
    """Check signed requests against a key ring; one instance per app (it holds the replay cache)."""

    def __init__(
        self, keys: KeyRing | Iterable[BridgeKey], *, window: float = DEFAULT_WINDOW,
        replay_capacity: int = DEFAULT_REPLAY_CAPACITY,
    ) -> None:
        self.keys = keys if isinstance(keys, KeyRing) else KeyRing(keys)
        self.window_ms = int(check_window(window) * 1000)
        self.replay = ReplayCache(replay_capacity)
        # Per-request savings (keys are immutable): each key's secret as bytes (``hmac.digest`` signs in
        # one call, without an HMAC object per request); the address checks already made, by (key id,
        # peer), bounded.
        self._secrets: dict[str, bytes] = {}
        self._addresses: dict[tuple[str, str | None], bool] = {}

    def verify(
        self,
        headers: Iterable[tuple[bytes, bytes]],
        method: str,
        path: bytes,
        query: bytes,
        body: bytes,
        peer_host: str | None,
        now_ms: int,
        claim: "Claim | None" = None,
    ) -> BridgeKey:
        """Return the key that signed this request, or raise ``ApiError`` (401, 403 or 429).

        ``claim``: what ``precheck`` returned for these headers (they are not parsed again; the window
        is checked again against ``now_ms``)."""
        if claim is None:
            claim = self._claim(headers, now_ms)
        else:
            self._check_window(int(claim[2]), now_ms)
        key, key_id, timestamp, signature = claim
        ts = int(timestamp)
        try:
            canonical = canonical_request(key_id, timestamp, method, path, query, body)
        except ValueError:
            raise ApiError(400, "invalid_request", "the request line cannot be signed") from None
        secret = self._secrets.get(key.key_id)
        if secret is None:
            secret = self._secrets[key.key_id] = key.secret.encode("utf-8")
        expected = hmac.digest(secret, canonical, "sha256").hex().encode("ascii")  # one call, in C
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError(401, "bad_signature", "the signature does not match the request", headers=_WWW_AUTH)
        if not self._address_allowed(key, peer_host):
            raise ApiError(403, "forbidden_address", "this key may not be used from this address")
        # Keyed by the digest, never by the header text: "ABC..." and "abc..." are one signature.
        problem = self.replay.add(key_id + b":" + expected, ts + self.window_ms, now_ms)
        if problem == "replayed":
            raise ApiError(401, "replayed_request", "this signature was already used", headers=_WWW_AUTH)
        if problem == "stale":
            raise ApiError(401, "stale_timestamp", "the timestamp is too old", headers=_WWW_AUTH)
        if problem == "full":
            raise ApiError(
                429, "too_many_requests", "too many signed requests inside one window",
                headers={"Retry-After": str(max(1, self.window_ms // 1000))},
            )
        return key


    def precheck(self, headers: Iterable[tuple[bytes, bytes]], now_ms: int) -> "Claim":
        """Raise ``ApiError`` if the headers alone refuse the request (before its body is read); else
        return the claim, for ``verify``."""
        return self._claim(headers, now_ms)

    def _address_allowed(self, key: BridgeKey, peer: str | None) -> bool:
        cache = self._addresses
        allowed = cache.get((key.key_id, peer))
        if allowed is None:
            allowed = key.allows_address(peer)
            if len(cache) >= 4096:
                cache.clear()
            cache[(key.key_id, peer)] = allowed
        return allowed

    def _claim(self, headers: Iterable[tuple[bytes, bytes]], now_ms: int) -> "Claim":
        key_id, timestamp, signature = _auth_headers(headers)
        key = self.keys.get(key_id.decode("ascii"))
        if key is None:
            raise ApiError(401, "unknown_key", "no key has this id", headers=_WWW_AUTH)
        if not _TIMESTAMP.fullmatch(timestamp):
            raise ApiError(401, "bad_timestamp", "X-FIXGW-TIMESTAMP must be epoch milliseconds", headers=_WWW_AUTH)
        self._check_window(int(timestamp), now_ms)
        return key, key_id, timestamp, signature

    def _check_window(self, ts: int, now_ms: int) -> None:
        if abs(now_ms - ts) > self.window_ms:
            raise ApiError(
                401, "stale_timestamp",
                f"the timestamp is {(ts - now_ms) / 1000:+.3f} s from the server's clock "
                f"(allowed: {self.window_ms / 1000:g} s either side)",
                headers=_WWW_AUTH,
            )


_AUTH_NAMES = (b"x-fixgw-key", b"x-fixgw-timestamp", b"x-fixgw-signature")


def _auth_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes, bytes, bytes]:
    key_id = timestamp = signature = None
    repeated = []
    for name, value in headers:
        if len(name) < 11 or name[:8].lower() != b"x-fixgw-":
            continue
        name = name.lower()
        if name == b"x-fixgw-key":
            if key_id is not None:
                repeated.append(name)
            key_id = value
        elif name == b"x-fixgw-timestamp":
            if timestamp is not None:
                repeated.append(name)
            timestamp = value
        elif name == b"x-fixgw-signature":
            if signature is not None:
                repeated.append(name)
            signature = value
    if key_id is None or timestamp is None or signature is None or repeated:
        for name, found in zip(_AUTH_NAMES, (key_id, timestamp, signature)):  # the first one wrong, in order
            if found is None or name in repeated:
                what = "missing" if found is None else "given more than once"
                raise ApiError(
                    401, "missing_credentials",
                    f"header {name.decode().upper()} is {what}", headers=_WWW_AUTH,
                )
    key_id = bytes(key_id).strip()
    signature = bytes(signature).strip()
    if not _KEY_ID.fullmatch(key_id):
        raise ApiError(401, "unknown_key", "no key has this id", headers=_WWW_AUTH)
    if not _SIGNATURE.fullmatch(signature):
        raise ApiError(401, "bad_signature", "X-FIXGW-SIGNATURE must be 64 hex digits", headers=_WWW_AUTH)
    return key_id, bytes(timestamp).strip(), signature
