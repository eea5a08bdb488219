"""Fault switches of the simulator, changed at run time (Python API or ``/sim/faults``).

Each switch describes one misbehaviour of a real venue that a client must survive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Faults", "TIMEOUT_MODES"]

TIMEOUT_MODES = ("hang", "drop", "drop_all", "error")
_SIGNED = frozenset({"clock_skew_ms"})  # the only switch that may be negative


@dataclass
class Faults:
    """Current fault switches; all off by default.

    - ``latency_ms``: delay added before every REST and WebSocket API answer.
    - ``rate_limit_burst``: the next N REST/WS API requests are refused with 429 (-1003); enough of
      them in one minute turn into a 418 ban (see the limiter's ``ban_after``).
    - ``rate_limit_retry_after_s``: the wait those forced 429s ask for (``Retry-After``, or the WS
      API's ``retryAfter`` timestamp); 0 = until the weight window ends, as the venue does.
    - ``ban_seconds``: write N to ban every client (418) for N seconds from now; reads back 0.
    - ``order_timeouts``: the next N order placements are accepted by the engine but the answer is
      lost, per ``order_timeout_mode``: ``hang`` (no answer for ``hang_seconds``, then 503 -1007),
      ``drop`` (the connection is closed without an answer), ``drop_all`` (every WebSocket
      connection is cut as well, user-data streams included, so neither the answer nor the order's
      events leave: only a query finds it) or ``error`` (503 -1007 at once).
    - ``duplicate_events``: every user-data event is sent twice.
    - ``reorder_events``: the user-data events of one operation are sent in reverse order.
    - ``drop_user_streams_after``: close user-data connections after N more events (0 = off).
    - ``clock_skew_ms``: the server's clock runs this far ahead (negative: behind).

    Market data (``market.py``), on every diff-depth stream (``<symbol>@depth[@100ms]``):

    - ``depth_drop_events``: the next N depth events are never sent (their ids leave a gap).
    - ``depth_duplicate_events``: the next N depth events are sent twice.
    - ``depth_reorder_events``: the next N depth events are each held back and sent after the
      event that follows them.
    - ``depth_stall_seconds``: write N for no depth event (diff or partial) for N seconds while the
      book keeps changing; the changes are then sent as one event. Reads back 0 (see
      ``depth_stalled_until_ms``).
    - ``stale_depth_snapshots``: the next N depth snapshots (REST ``/api/v3/depth``, WS API
      ``depth``) answer the book as it was when this switch was written: a ``lastUpdateId`` older
      than the events a client has buffered since.
    """

    latency_ms: int = 0
    rate_limit_burst: int = 0
    rate_limit_retry_after_s: int = 0
    ban_seconds: int = 0
    order_timeouts: int = 0
    order_timeout_mode: str = "hang"
    hang_seconds: float = 30.0
    duplicate_events: bool = False
    reorder_events: bool = False
    drop_user_streams_after: int = 0
    clock_skew_ms: int = 0
    depth_drop_events: int = 0
    depth_duplicate_events: int = 0
    depth_reorder_events: int = 0
    depth_stall_seconds: float = 0.0
    stale_depth_snapshots: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` (name -> value); unknown names or bad values raise ValueError."""
        known = {f.name: f.type for f in fields(self)}
        staged = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault switch {name!r}")
            current = getattr(self, name)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} takes true or false")
            elif isinstance(current, int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{name} takes an integer")
                if value < 0 and name not in _SIGNED:
                    raise ValueError(f"{name} takes an integer >= 0")
            elif isinstance(current, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
                    raise ValueError(f"{name} takes a finite number >= 0")
                value = float(value)
            elif name == "order_timeout_mode" and value not in TIMEOUT_MODES:
                raise ValueError(f"order_timeout_mode takes one of {TIMEOUT_MODES}")
            staged[name] = value
        for name, value in staged.items():
            setattr(self, name, value)

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, f.default)
