"""Building the long-lived objects from config: stores, journals, books, venues, sessions, acceptor.

One SQLite file (``gateway.store_path``) holds the FIX message store and every session's order journal;
the journals come from ``SqliteMessageStore.journal`` and so share its connection and transactions.
Without a path both live in memory, and order ids get a per-run tag so that their venue client order
ids never meet an earlier run's.
"""

from __future__ import annotations

import importlib
import secrets
from contextlib import AsyncExitStack
from typing import Any, Callable, Iterable

from ..clock import Clock
from ..codec.dictionary import load_dictionary
from ..config import Config, SessionSettings, VenueConfig
from ..errors import ConfigError
from ..orders import OrderBook
from ..session import Session, SessionConfig, SessionSchedule
from ..stores import MemoryMessageStore, SqliteMessageStore
from ..translate import SymbolMap
from ..transport import Acceptor, Application, server_tls_context
from ..venues import base as V
from ..venues.assets import canonical_asset
from ._desk import AccountContext, account_key
from ._ids import session_key
from ._marketdata import MD_GAP_FILL_TYPES
from ._router import Router, SessionContext, VenueContext

__all__ = ["AdapterFactory", "default_adapter_factory", "open_store", "open_venues", "venue_symbol_map",
           "build_sessions", "session_config"]

AdapterFactory = Callable[[VenueConfig], V.VenueAdapter]


def default_adapter_factory(venue: VenueConfig) -> V.VenueAdapter:
    """Build the adapter of a ``[[venues]]`` entry (each venue's package is imported only when used)."""
    if venue.kind == "binance":
        from ..venues.binance import BinanceAdapter, BinanceConfig

        options: dict[str, Any] = {"order_entry": venue.order_entry}
        if venue.orders_per_10s is not None:
            options["orders_per_10s"] = venue.orders_per_10s
        if venue.weight_per_minute is not None:
            options["weight_limit_per_minute"] = venue.weight_per_minute
        return BinanceAdapter(BinanceConfig.from_venue_config(venue, **options))
    if venue.kind in _OTHER_ADAPTERS:
        module_name, adapter_name, config_name = _OTHER_ADAPTERS[venue.kind]
        module = importlib.import_module(module_name)
        adapter_cls, config_cls = getattr(module, adapter_name, None), getattr(module, config_name, None)
        if adapter_cls is None or not hasattr(config_cls, "from_venue_config"):
            raise ConfigError(f"venues.{venue.name}.kind", f"no order-entry adapter for {venue.kind!r} in this build")
        return adapter_cls(config_cls.from_venue_config(venue))  # type: ignore[no-any-return]
    raise ConfigError(f"venues.{venue.name}.kind", f"no order-entry adapter for {venue.kind!r}")


#: kind -> (package, adapter class, config class with ``from_venue_config``)
_OTHER_ADAPTERS = {
    "coinbase": ("fixgw.venues.coinbase", "CoinbaseExchangeAdapter", "CoinbaseConfig"),
    "kraken": ("fixgw.venues.kraken", "KrakenAdapter", "KrakenConfig"),
}


def open_store(config: Config, clock: Clock) -> Any:
    """Open the message store (and so the journals' file or database) of ``config``.

    ``[store] kind = "postgres"``: ``fixgw.stores.postgres`` on the configured connection string
    (imported only then: psycopg is an optional dependency)."""
    if config.store.kind == "postgres":
        from ..stores.postgres import PostgresMessageStore

        return PostgresMessageStore(config.store.dsn, now_ns=clock.now_ns)
    path = config.gateway.store_path
    if path is None:
        return MemoryMessageStore(now_ns=clock.now_ns)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteMessageStore(path, now_ns=clock.now_ns)


async def open_venues(config: Config, factory: AdapterFactory, stack: AsyncExitStack) -> dict[str, VenueContext]:
    """Enter every venue adapter on ``stack`` and load its instruments."""
    venues = {}
    for vc in config.venues:
        adapter = factory(vc)
        venue = VenueContext(vc, adapter)
        await stack.enter_async_context(adapter)
        instruments = await adapter.load_instruments()
        venue.instruments = dict(instruments)
        venue.symbols = venue_symbol_map(instruments.values(), config.gateway.symbol_format)
        venues[vc.name] = venue
    return venues


def venue_symbol_map(instruments: Iterable[V.Instrument], symbol_format: str) -> SymbolMap:
    """The client spellings of a venue's instruments (its own list, never a written-in symbol).

    The client spelling is made of canonical asset codes (``fixgw.venues.assets``: XBT is BTC), so
    ``BTC/USDT`` reaches Binance ``BTCUSDT``, Coinbase ``BTC-USDT`` and Kraken ``XBTUSDT`` alike."""
    listed = list(instruments)
    return SymbolMap(((i.symbol, canonical_asset(i.base), canonical_asset(i.quote)) for i in listed), symbol_format,
                     tick_sizes={i.symbol: i.tick_size for i in listed})


def build_sessions(config: Config, store: Any, venues: dict[str, VenueContext], router: Router,
                   application: Application, clock: Clock, *, validate: bool = True, feed: Any = None) -> Acceptor:
    """Rebuild each session's book from its journal, register it with ``router``; return the acceptor.

    ``feed`` (an ``EventFeed``): taps every journal, and numbers the events already journaled."""
    # Orders kept only in memory get a per-run tag, so their venue ids never meet an earlier run's.
    durable = config.gateway.store_path is not None or config.store.kind == "postgres"
    tag = "" if durable else "_" + secrets.token_hex(2)
    sessions = []
    for s in config.sessions:
        key = session_key(s) + tag
        if key in router.accounts:
            raise ConfigError("sessions", f"two sessions share the order account key {key!r}")
        journal = _tapped(store.journal(key), feed)
        book = OrderBook.recover(journal, retention=config.gateway.terminal_order_retention)
        ctx = SessionContext(s, key, book, journal, venues[s.venue])
        router.add(ctx)
        if s.drop_copy:
            router.copies.append((ctx, frozenset(s.copies) or None))
        dictionary = load_dictionary(s.begin_string) if validate and s.validate else None
        creds = s.credentials

        def authenticate(_sid: Any, username: str | None, password: str | None, _peer: Any,
                         creds: Any = creds) -> bool | str:
            # True, or the reason the session engine gives the refused peer ("unknown user", ...).
            reason = None if creds is None else creds.refusal(username, password)
            return True if reason is None else reason

        sessions.append(Session(session_config(s, ctx.session_id), store.session_store(ctx.session_id),
                                dictionary=dictionary, authenticator=authenticate))
    for a in config.bridge.accounts:  # order accounts of the bridge: a book and a journal each, no session
        key = account_key(a.name) + tag
        if key in router.accounts:  # pragma: no cover - account keys end in _R, session keys in _4x
            raise ConfigError("bridge.accounts", f"two accounts share the order account key {key!r}")
        journal = _tapped(store.journal(key), feed)
        book = OrderBook.recover(journal, retention=config.gateway.terminal_order_retention)
        router.add_account(AccountContext(a, key, book, journal, venues[a.venue]))
    if feed is not None:
        feed.recover(ctx.journal for ctx in router.accounts.values())
    tls = config.gateway.tls
    ssl_context = None
    if tls is not None:
        ssl_context = server_tls_context(tls.cert, tls.key, client_ca=tls.client_ca,
                                         require_client_cert=tls.client_ca is not None)
    gw = config.gateway
    acceptor = Acceptor(sessions, application, store, host=gw.host, port=gw.port, ssl_context=ssl_context,
                        clock=clock, max_pending_connections=gw.max_pending_connections,
                        max_pending_per_address=gw.max_pending_per_address,
                        logon_failure_delay=gw.logon_failure_delay,
                        logon_failure_max_delay=gw.logon_failure_max_delay,
                        logon_failure_forget=gw.logon_failure_forget)
    for sid, handle in acceptor.handles.items():
        router.sessions[sid].handle = handle
    return acceptor


def _tapped(journal: Any, feed: Any) -> Any:
    return journal if feed is None else feed.tap(journal)


def session_config(s: SessionSettings, session_id: Any) -> SessionConfig:
    """The session engine's configuration of one ``[[sessions]]`` entry (the gateway accepts)."""
    schedule = None
    if s.schedule is not None:
        schedule = SessionSchedule(s.schedule.start, s.schedule.end, tz=s.schedule.timezone,
                                   weekdays=frozenset(s.schedule.weekdays))
    return SessionConfig(
        session_id=session_id,
        role="acceptor",
        heartbeat_interval=s.heartbeat_interval,
        reset_on_logon=s.reset_on_logon,
        send_next_expected_msg_seq_num=s.send_next_expected_msg_seq_num,
        allowed_addresses=frozenset(str(n) for n in s.allowed_addresses) or None,
        schedule=schedule,
        logon_timeout=s.logon_timeout,
        logout_timeout=s.logout_timeout,
        max_sending_time_skew=s.max_sending_time_skew,
        resend_chunk_size=s.resend_chunk_size,
        gap_fill_timeout=s.gap_fill_timeout,
        max_resend_requests=s.max_resend_requests,
        max_heartbeat_interval=s.max_heartbeat_interval,
        validate_user_defined_fields=s.validate_user_defined_fields,
        allow_unknown_message_fields=s.allow_unknown_message_fields,
        gap_fill_msg_types=MD_GAP_FILL_TYPES,  # market data is not resent (see _marketdata)
    )
