"""Who may take the acceptor's time: caps on connections not yet logged on, a brake on failed Logons,
a limit on repeated log lines, and the Logout the acceptor answers a refused Logon with.

Theory of operation
-------------------
``PendingConnections`` counts connections from accept until they are handed to their session (or
closed), in total and per peer host. The acceptor asks ``admit`` right after ``accept`` and closes the
connection at once when a cap is reached, so idle strangers can never take every file descriptor.
Once handed over, a connection holds its session's only slot (a second one is refused), so the
connections still short of a Logon number at most the caps plus the sessions configured.

``LogonThrottle`` slows a host down after failed Logons — those that guess: refused credentials and unknown
session CompIDs (the acceptor counts only these; a malformed Logon, a wrong BeginString or a bad
SendingTime is a client's bug, answered at once, so a conformance run is not slowed): the n-th failure in a row makes the next answer
to that host wait ``initial * 2**(n-1)`` seconds (capped at ``maximum``) after the previous answer.
Answers are handed out one slot at a time, so parallel connections from one host queue behind each
other instead of guessing side by side. A host is forgotten after ``forget_after`` seconds without a
failure; a successful Logon does not clear it (one valid account must not reset the count between
guesses at another). Time is an argument (monotonic seconds): nothing here reads a clock.

``LogLimiter`` lets one log line per key through per interval and counts what it held back.

``refusal_logout`` builds the Logout of a Logon the acceptor refuses itself (no session exists to
answer): MsgSeqNum 1, stored nowhere, header mirrored from the peer's Logon. It answers only when the
peer's BeginString and CompIDs are plain printable text: nothing unreadable is echoed back.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..backoff import backoff_delay
from ..codec import encode, format_utc_timestamp

__all__ = ["PendingConnections", "LogonThrottle", "LogLimiter", "refusal_logout", "peer_host", "open_file_limit"]

_BEGIN_STRING = re.compile(rb"FIXT?\.\d\.\d")
_COMP_ID = re.compile(rb"[\x20-\x7e]{1,64}")


def peer_host(peer: Any) -> str:
    """The host part of a peer address (what the per-address limits count by)."""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer) if peer is not None else "unknown"


def open_file_limit() -> int | None:
    """The process's soft limit of open files, or None when unlimited or unknown."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on every platform
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


class PendingConnections:
    """Count connections not yet handed to a session; refuse past ``max_total`` or ``max_per_host``."""

    __slots__ = ("max_total", "max_per_host", "total", "_by_host")

    def __init__(self, max_total: int, max_per_host: int) -> None:
        if max_total < 1 or max_per_host < 1:
            raise ValueError("max_pending_connections and max_pending_per_address must be at least 1")
        self.max_total = max_total
        self.max_per_host = max_per_host
        self.total = 0
        self._by_host: dict[str, int] = {}

    def admit(self, host: str) -> str | None:
        """Count a new connection from ``host`` and return None, or return why it is refused."""
        if self.total >= self.max_total:
            return f"{self.total} connections waiting for a Logon (limit {self.max_total})"
        held = self._by_host.get(host, 0)
        if held >= self.max_per_host:
            return f"{held} connections from this address waiting for a Logon (limit {self.max_per_host})"
        self.total += 1
        self._by_host[host] = held + 1
        return None

    def release(self, host: str) -> None:
        """Stop counting one admitted connection from ``host``."""
        held = self._by_host.get(host, 0)
        if held <= 0:
            return
        self.total -= 1
        if held == 1:
            del self._by_host[host]
        else:
            self._by_host[host] = held - 1

    def held_by(self, host: str) -> int:
        return self._by_host.get(host, 0)


@dataclass(slots=True)
class _Failures:
    count: int
    last_failure: float
    last_answer: float


class LogonThrottle:
    """Delay the Logon answers to a host after its failed Logons (see the module docstring)."""

    __slots__ = ("initial", "maximum", "forget_after", "max_hosts", "_hosts")

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, forget_after: float = 300.0,
                 max_hosts: int = 10_000) -> None:
        if initial < 0 or maximum < initial or forget_after <= 0 or max_hosts < 1:
            raise ValueError("logon throttle needs 0 <= initial <= maximum, forget_after > 0, max_hosts >= 1")
        self.initial = initial
        self.maximum = maximum
        self.forget_after = forget_after
        self.max_hosts = max_hosts
        self._hosts: OrderedDict[str, _Failures] = OrderedDict()

    def _current(self, host: str, now: float) -> _Failures | None:
        rec = self._hosts.get(host)
        if rec is not None and now - rec.last_failure > self.forget_after:
            del self._hosts[host]
            return None
        return rec

    def delay(self, failures: int) -> float:
        """The wait imposed after ``failures`` failures in a row."""
        if failures <= 0 or self.initial == 0:
            return 0.0
        return backoff_delay(failures - 1, self.initial, self.maximum)

    def reserve(self, host: str, now: float) -> float:
        """Book the next answer slot of ``host``; return how long to wait before answering."""
        rec = self._current(host, now)
        if rec is None:
            return 0.0
        at = max(now, rec.last_answer + self.delay(rec.count))
        rec.last_answer = at
        return at - now

    def failed(self, host: str, now: float) -> None:
        """Count a failed Logon from ``host`` (answered at ``now``)."""
        if self.initial == 0:
            return
        rec = self._current(host, now)
        if rec is None:
            rec = self._hosts[host] = _Failures(0, now, now)
        rec.count += 1
        rec.last_failure = now
        rec.last_answer = max(rec.last_answer, now)
        self._hosts.move_to_end(host)
        while len(self._hosts) > self.max_hosts:
            self._hosts.popitem(last=False)  # the host that failed longest ago

    def failures(self, host: str, now: float) -> int:
        rec = self._current(host, now)
        return rec.count if rec is not None else 0


class LogLimiter:
    """Let one log line per key through every ``interval`` seconds; count the ones held back."""

    __slots__ = ("interval", "max_keys", "_keys")

    def __init__(self, interval: float = 10.0, max_keys: int = 1024) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._keys: dict[str, tuple[float, int]] = {}

    def allow(self, key: str, now: float) -> int | None:
        """Return None to hold this line back, else how many lines of ``key`` were held back before it."""
        last, held = self._keys.get(key, (float("-inf"), 0))
        if now - last < self.interval:
            self._keys[key] = (last, held + 1)
            return None
        if len(self._keys) >= self.max_keys and key not in self._keys:
            self._keys.clear()  # bounded: a flood of distinct keys costs a few extra lines, not memory
        self._keys[key] = (now, 0)
        return held


def refusal_logout(peer_begin: bytes | None, peer_sender: bytes | None, peer_target: bytes | None, text: str,
                   now_ns: int) -> bytes | None:
    """Return the Logout answering a refused Logon, or None when the peer's header is not readable.

    Our SenderCompID is the peer's TargetCompID and the other way round; MsgSeqNum is 1 and the
    message is stored nowhere, since no session (or not this connection's) owns any numbers here.
    """
    if peer_begin is None or peer_sender is None or peer_target is None:
        return None
    if not _BEGIN_STRING.fullmatch(peer_begin):
        return None
    if not _COMP_ID.fullmatch(peer_sender) or not _COMP_ID.fullmatch(peer_target):
        return None
    header = [(49, peer_target), (56, peer_sender), (34, 1), (52, format_utc_timestamp(now_ns))]
    return encode(peer_begin, b"5", header + [(58, text)])
