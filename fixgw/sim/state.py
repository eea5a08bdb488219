"""The running simulator's state: engine, maker, limits, faults, keys and the WebSocket fan-out.

Theory of operation: every request runs on the server's event loop, calls the engine synchronously
and then ``publish()``es what the engine emitted: user-data events go to the user-data subscriptions
of the account, trades and depth changes to the market streams (``market.py``, only while someone
listens; ``tick_market`` ends their 100 ms and 1000 ms intervals). Each WebSocket connection
has an ``Outbox`` (``outbox.py``): what one turn of the event loop sends it leaves in one write, and a slow
reader never blocks a request. An event is encoded to JSON once, whatever the number of its listeners.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from decimal import Decimal, InvalidOperation
from typing import Any

from fixgw.clock import Clock, SystemClock

from . import formats
from .config import SimConfig, resolve_control_token
from .engine import MatchingEngine
from .errors import ApiError, mandatory
from .faults import Faults
from .jsonio import dumps
from .limits import RateLimiter
from .market import MarketFeed
from .marketmaker import MarketMaker
from .ops import Params
from .outbox import Outbox
from .signing import ApiKey, rest_payload, verify, ws_payload

__all__ = ["SimState", "Outbox"]

_MAX_RECV_WINDOW = Decimal(60000)


class SimState:
    """One simulator instance; lives on the server's event loop."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.control_token = resolve_control_token(config.control_token)  # guards /sim/*
        self.clock: Clock = config.clock or SystemClock()
        self.faults = Faults()
        self.limiter = RateLimiter(config.limits)
        self.rate_limits_json = config.limits.rate_limits_json()  # exchangeInfo's; the config is frozen
        self.engine = MatchingEngine(
            config.instruments,
            maker_commission=config.maker_commission,
            taker_commission=config.taker_commission,
            seed=config.seed,
        )
        self.keys: dict[str, ApiKey] = {k.api_key: k for k in config.keys()}
        for key in self.keys.values():
            if key.account_id not in self.engine.accounts:
                self.engine.add_account(key.account_id, dict(config.balances))
        self.maker: MarketMaker | None = None
        if config.market_maker is not None:
            self.maker = MarketMaker(self.engine, seed=config.seed, config=config.market_maker)
            for _ in range(config.warm_up_steps):
                self.maker.step(self.now_ms())
            self.engine.drain_events()
        self.user_subs: dict[str, list[tuple[Outbox, int]]] = {}
        self.market = MarketFeed(self.engine, self.faults)
        self.market_subs = self.market.subs  # stream name -> [(outbox, combined)]
        self.connections: set[Outbox] = set()
        self._events_until_drop = 0
        #: dialect hooks: each is called with every batch of engine events ``publish`` drains
        #: (a dialect other than Binance formats and fans out its own private feed from them)
        self.event_hooks: list[Any] = []

    # == time and limits ==========================================================================
    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000 + self.faults.clock_skew_ms

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply fault switches (see ``Faults``); returns the new state."""
        self.faults.update(changes)
        if self.faults.ban_seconds > 0:
            self.limiter.forced_ban_until = self.now_ms() + self.faults.ban_seconds * 1000
            self.faults.ban_seconds = 0
        if "ban_seconds" in changes and changes["ban_seconds"] == 0:
            self.limiter.forced_ban_until = 0
        if "drop_user_streams_after" in changes:
            self._events_until_drop = self.faults.drop_user_streams_after
        if self.faults.depth_stall_seconds > 0:
            self.market.stalled_until_ms = self.now_ms() + int(self.faults.depth_stall_seconds * 1000)
            self.faults.depth_stall_seconds = 0.0
        elif "depth_stall_seconds" in changes:
            self.market.stalled_until_ms = 0
        if "stale_depth_snapshots" in changes and self.faults.stale_depth_snapshots > 0:
            self.market.freeze_snapshots()
        return self.faults_json()

    def reset_faults(self) -> dict[str, Any]:
        self.faults.reset()
        self.limiter.forced_ban_until = 0
        self.limiter.forced_429 = 0
        self._events_until_drop = 0
        self.market.stalled_until_ms = 0
        return self.faults_json()

    def faults_json(self) -> dict[str, Any]:
        out = self.faults.to_json()
        out["banned_until_ms"] = self.limiter.forced_ban_until
        out["depth_stalled_until_ms"] = self.market.stalled_until_ms
        return out

    async def delay(self) -> None:
        if self.faults.latency_ms > 0:
            await asyncio.sleep(self.faults.latency_ms / 1000)

    def charge(self, ip: str, weight: int, now_ms: int) -> int:
        if self.faults.rate_limit_burst > 0:
            self.faults.rate_limit_burst -= 1
            self.limiter.forced_429 += 1
            self.limiter.forced_retry_after_ms = self.faults.rate_limit_retry_after_s * 1000
        return self.limiter.charge(ip, weight, now_ms)

    # == authentication ===========================================================================
    def _key(self, api_key: str | None) -> ApiKey:
        if not api_key:
            raise ApiError(-2014, "API-key format invalid.", status=401)
        key = self.keys.get(api_key)
        if key is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        return key

    def check_timestamp(self, params: Params, now_ms: int) -> None:
        ts_raw = params.str("timestamp", True)
        assert ts_raw is not None
        if not (ts_raw.isascii() and ts_raw.isdigit()):
            raise mandatory("timestamp")
        ts: int | Decimal = int(ts_raw) if len(ts_raw) < 15 else Decimal(ts_raw)  # below 10**14 when short
        if ts >= 10**14:  # microseconds
            ts = Decimal(ts) / 1000
        window: int | Decimal = 5000
        raw_window = params.str("recvWindow")
        if raw_window is not None:
            if raw_window.isascii() and raw_window.isdigit() and len(raw_window) < 15:
                window = int(raw_window)  # the common case: whole milliseconds
                if window > _MAX_RECV_WINDOW or window <= 0:
                    raise ApiError(-1131, "recvWindow must be less than 60000")
            else:
                try:
                    window = Decimal(raw_window)
                except InvalidOperation:
                    raise ApiError(-1100, "Illegal characters found in parameter 'recvWindow'.") from None
                if window.is_nan():  # not comparable: it would raise below
                    raise ApiError(-1100, "Illegal characters found in parameter 'recvWindow'.")
                if window > _MAX_RECV_WINDOW or window <= 0 or window.as_tuple().exponent < -3:  # type: ignore[operator]
                    raise ApiError(-1131, "recvWindow must be less than 60000")
        if ts >= now_ms + 1000:
            raise ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now_ms - ts > window:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def authenticate_rest(self, api_key: str | None, query: str, body: str, params: Params, now_ms: int) -> str:
        """Check key, signature and timing of a SIGNED REST request; returns the account id."""
        key = self._key(api_key)
        params.str("timestamp", True)
        payload, signature = rest_payload(query, body)
        if not signature:
            raise mandatory("signature")
        if not verify(key, payload, urllib.parse.unquote_plus(signature)):
            raise ApiError(-1022, "Signature for this request is not valid.")
        self.check_timestamp(params, now_ms)
        return key.account_id

    def authenticate_ws(self, raw: dict[str, Any], params: Params, now_ms: int, session_account: str | None) -> str:
        """Check a SIGNED WebSocket API request (or use the logged-on session's account)."""
        if "signature" not in raw and session_account is not None:
            self.check_timestamp(params, now_ms)
            return session_account
        key = self._key(raw.get("apiKey"))
        params.str("timestamp", True)
        signature = raw.get("signature")
        if not signature:
            raise mandatory("signature")
        if not verify(key, ws_payload(raw), str(signature)):
            raise ApiError(-1022, "Signature for this request is not valid.")
        self.check_timestamp(params, now_ms)
        return key.account_id

    def key_for(self, api_key: str | None) -> ApiKey:
        return self._key(api_key)

    # == fan-out ==================================================================================
    def publish(self) -> None:
        """Send what the engine emitted since the last call to the WebSocket subscribers."""
        events = self.engine.drain_events()
        if not events:
            return
        for hook in self.event_hooks:
            hook(events)
        per_account: dict[str, list[bytes]] = {}
        user_format = formats.USER_EVENT_FORMATS.get
        user_subs = self.user_subs
        for ev in events:
            fmt = user_format(type(ev))
            # encoded once, whatever the number of subscriptions; not at all for an account nobody
            # listens to (the market maker's, most often)
            if fmt is not None and user_subs.get(ev.account_id):  # type: ignore[union-attr]
                per_account.setdefault(ev.account_id, []).append(dumps(fmt(ev)))  # type: ignore[union-attr]
        if self.market.active:  # market data costs nothing while nobody listens
            self.market.on_events(events, self.now_ms())
        faults = self.faults
        for account, payloads in per_account.items():
            subs = self.user_subs.get(account)
            if not subs:
                continue
            if faults.reorder_events:
                payloads = list(reversed(payloads))
            subs = list(subs)  # nothing below subscribes or unsubscribes (a drop only closes)
            for payload in payloads:
                for outbox, sub_id in subs:
                    message = b'{"subscriptionId":%d,"event":%s}' % (sub_id, payload)
                    outbox.send_json(message)
                    if faults.duplicate_events:
                        outbox.send_json(message)
                if self._events_until_drop > 0:
                    self._count_for_drop()

    def _count_for_drop(self) -> None:
        if self._events_until_drop <= 0:
            return
        self._events_until_drop -= 1
        if self._events_until_drop == 0:
            self.faults.drop_user_streams_after = 0
            for subs in list(self.user_subs.values()):
                for outbox, _ in list(subs):
                    outbox.drop()

    def subscribe_market(self, outbox: Outbox, name: str, combined: bool) -> bool:
        """Listen to stream ``name``; False when the venue has no such stream."""
        return self.market.subscribe(outbox, name, combined)

    def unsubscribe_market(self, outbox: Outbox, name: str | None = None) -> None:
        self.market.unsubscribe(outbox, name)

    def tick_market(self, speeds: tuple[int, ...]) -> None:
        """End the current market-data interval of ``speeds`` (milliseconds): send depth events."""
        self.market.tick(self.now_ms(), speeds)

    def unsubscribe_user(self, outbox: Outbox, sub_id: int | None = None) -> None:
        for account, subs in list(self.user_subs.items()):
            self.user_subs[account] = [(o, s) for o, s in subs if not (o is outbox and (sub_id is None or s == sub_id))]

    def drop_websockets(self) -> int:
        """Cut every WebSocket connection (API and streams); returns how many."""
        outboxes = list(self.connections)
        for outbox in outboxes:
            outbox.drop()
        return len(outboxes)

    # == maker ====================================================================================
    def step_market_maker(self, steps: int = 1) -> None:
        if self.maker is None:
            return
        for _ in range(steps):
            self.maker.step(self.now_ms())
        self.publish()
