"""A small FIX client for end-to-end tests, written on the codec alone (independent of the session engine).

It keeps its sequence numbers across reconnections like a real client with a store, answers
TestRequests, asks for a resend on a gap and accepts GapFills, and collects application messages.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Callable

import anyio

from fixgw.codec import NEED_MORE, Garbled, Message, Parser, encode, format_utc_timestamp


class FixClient:
    def __init__(self, begin: str, sender: str, target: str, *, username: str | None = "demo",
                 password: str | None = "demo") -> None:
        self.begin = begin
        self.sender = sender
        self.target = target
        self.username = username
        self.password = password
        self.next_out = 1
        self.next_in = 1
        self.stream: Any = None
        self.parser = Parser()
        self.inbox: list[Message] = []  # application messages, in sequence order, PossDup ones included
        self.seen_seqs: set[int] = set()
        self.logged_on = False
        self._ids = 0

    def new_id(self, prefix: str = "c") -> str:
        self._ids += 1
        return f"{prefix}{self._ids}-{time.monotonic_ns() % 10**9}"

    # -- connection --------------------------------------------------------------------------------
    async def connect(self, port: int, *, host: str = "127.0.0.1", reset: bool = False,
                      timeout: float = 10.0, ssl_context: Any = None) -> Message:
        if ssl_context is not None:
            self.stream = await anyio.connect_tcp(host, port, ssl_context=ssl_context, tls_standard_compatible=False)
        else:
            self.stream = await anyio.connect_tcp(host, port)
        self.parser = Parser()
        self.logged_on = False
        if reset:
            self.next_out = 1
            self.next_in = 1
        fields: list[tuple[int, Any]] = [(98, 0), (108, 30)]
        if reset:
            fields.append((141, "Y"))
        fields += [(tag, v) for tag, v in ((553, self.username), (554, self.password)) if v is not None]
        await self.send_raw("A", fields)
        logon = await self._read_until(lambda m: m.msg_type in (b"A", b"5"), timeout)
        if logon.msg_type != b"A":
            raise ConnectionError(f"logon refused: {logon.get(58)!r}")
        self.logged_on = True
        return logon

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()
            self.stream = None
        self.logged_on = False

    async def logout(self, timeout: float = 5.0) -> None:
        await self.send_raw("5", [])
        try:
            await self._read_until(lambda m: m.msg_type == b"5", timeout)
        except (TimeoutError, anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        await self.close()

    # -- sending -----------------------------------------------------------------------------------
    async def send_raw(self, msg_type: str, fields: list[tuple[int, Any]], *, seq: int | None = None,
                       poss_dup: bool = False, poss_resend: bool = False,
                       header: list[tuple[int, Any]] = ()) -> int:  # type: ignore[assignment]
        assert self.stream is not None
        if seq is None:
            seq = self.next_out
            self.next_out += 1
        head: list[tuple[int, Any]] = [(49, self.sender), (56, self.target), (34, seq)]
        if poss_dup:
            head.append((43, "Y"))
        head.append((52, format_utc_timestamp(time.time_ns())))
        if poss_resend:
            head.append((97, "Y"))
        head += list(header)  # routing fields (115, 128, ...) belong to the header
        await self.stream.send(encode(self.begin, msg_type, head + fields))
        return seq

    async def new_order(self, cl: str, side: str, qty: str, *, symbol: str = "BTC/USDT", price: str | None = None,
                        ord_type: str | None = None, tif: str | None = None, stop: str | None = None,
                        extra: list[tuple[int, Any]] = (), poss_resend: bool = False,  # type: ignore[assignment]
                        header: list[tuple[int, Any]] = ()) -> None:  # type: ignore[assignment]
        if ord_type is None:
            ord_type = "2" if price is not None else "1"
        f: list[tuple[int, Any]] = [(11, cl), (21, "1"), (55, symbol), (54, side), (60, _now()), (38, qty),
                                    (40, ord_type)]
        if price is not None:
            f.append((44, price))
        if stop is not None:
            f.append((99, stop))
        if tif is not None:
            f.append((59, tif))
        f += list(extra)
        await self.send_raw("D", f, poss_resend=poss_resend, header=header)

    async def cancel(self, cl: str, orig: str, side: str, *, symbol: str = "BTC/USDT",
                     header: list[tuple[int, Any]] = ()) -> None:  # type: ignore[assignment]
        await self.send_raw("F", [(41, orig), (11, cl), (55, symbol), (54, side), (60, _now())], header=header)

    async def replace(self, cl: str, orig: str, side: str, qty: str, price: str, *, symbol: str = "BTC/USDT") -> None:
        await self.send_raw("G", [(41, orig), (11, cl), (21, "1"), (55, symbol), (54, side), (60, _now()),
                                  (38, qty), (40, "2"), (44, price)])

    # -- receiving ---------------------------------------------------------------------------------
    async def _next_frame(self) -> Message:
        assert self.stream is not None
        while True:
            ev = self.parser.next_event()
            if isinstance(ev, Message):
                return ev
            if isinstance(ev, Garbled):
                raise AssertionError(f"garbled frame from the gateway: {ev}")
            assert ev is NEED_MORE
            self.parser.feed(await self.stream.receive())

    async def _handle(self, m: Message) -> Message | None:
        """Apply session rules to one frame; return it when the application should see it."""
        seq = int(m[34])
        mt = m.msg_type
        if mt == b"5" and not self.logged_on:  # a refused Logon: its Logout is not numbered in the session
            return m
        if mt == b"4":  # SequenceReset
            new = int(m[36])
            if m.get(123) == b"Y" and seq < self.next_in:
                return None
            self.next_in = max(self.next_in, new)
            return None
        if seq < self.next_in:
            if m.get(43) == b"Y":
                return None  # a duplicate we already have
            raise AssertionError(f"sequence number too low: {seq} < {self.next_in}")
        if seq > self.next_in:
            if mt == b"5":
                return m
            # Gap: ask for everything from what we expect; this frame comes again in the resend.
            gap_from = self.next_in
            if mt == b"A":  # logon above what we expect: take it, then ask for the missed ones
                await self.send_raw("2", [(7, gap_from), (16, 0)])
                return m
            await self.send_raw("2", [(7, gap_from), (16, 0)])
            await self._skip_until_resend(gap_from)
            return None
        self.next_in = seq + 1
        if mt == b"1" and m.get(112) is not None:
            await self.send_raw("0", [(112, m[112])])
            return None
        if mt == b"2":  # ResendRequest: this client keeps no copies; gap-fill everything asked for
            await self.send_raw("4", [(123, "Y"), (36, self.next_out)], seq=int(m[7]), poss_dup=True)
            return None
        if mt in (b"0", b"1"):
            return None
        return m

    async def _skip_until_resend(self, gap_from: int) -> None:
        # Drop frames above the gap until the resend (PossDup or GapFill) for gap_from arrives.
        while True:
            m = await self._next_frame()
            seq = int(m[34])
            if seq == gap_from or (m.msg_type == b"4" and seq <= gap_from):
                self.parser = _Prepend(self.parser, m)  # type: ignore[assignment]
                return

    async def _read_until(self, pred: Callable[[Message], bool], timeout: float) -> Message:
        with anyio.fail_after(timeout):
            while True:
                m = await self._next_frame()
                out = await self._handle(m)
                if out is None:
                    continue
                if out.msg_type not in (b"A", b"5", b"3"):
                    self._collect(out)
                if pred(out):
                    return out

    def _collect(self, m: Message) -> None:
        self.inbox.append(m)
        self.seen_seqs.add(int(m[34]))

    async def pump(self, duration: float) -> None:
        """Read and collect for ``duration`` seconds."""
        try:
            await self._read_until(lambda m: False, duration)
        except TimeoutError:
            pass

    async def wait_for(self, pred: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """Return the first collected message (old or new) matching ``pred``."""
        for m in self.inbox:
            if pred(m):
                return m
        return await self._read_until(lambda m: m.msg_type not in (b"A", b"5", b"3") and pred(m), timeout)

    async def reports(self, cl: str, count: int, timeout: float = 10.0) -> list[Message]:
        """Wait until ``count`` ExecutionReports for ClOrdID ``cl`` were collected; return them."""
        with anyio.fail_after(timeout):
            while True:
                got = [m for m in self.inbox if m.msg_type == b"8" and m.get(11) == cl.encode()]
                if len(got) >= count:
                    return got
                await self._read_until(lambda m: True, timeout)

    def exec_reports(self, cl: str) -> list[Message]:
        return [m for m in self.inbox if m.msg_type == b"8" and m.get(11) == cl.encode()]


class _Prepend:
    """A parser wrapper that yields one held message first (used after skipping to a resend)."""

    def __init__(self, inner: Parser, first: Message) -> None:
        self._inner = inner
        self._first: Message | None = first

    def next_event(self) -> Any:
        if self._first is not None:
            m, self._first = self._first, None
            return m
        return self._inner.next_event()

    def feed(self, data: bytes) -> None:
        self._inner.feed(data)


def _now() -> bytes:
    return format_utc_timestamp(time.time_ns())


def dec(m: Message, tag: int) -> Decimal:
    return Decimal(m[tag].decode())
