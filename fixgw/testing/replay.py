"""``fixgw replay WIRELOG``: a recorded wire log fed into a sans-I/O session, every state change printed.

A flight recorder for production incidents: the wire log (``fixgw run --wire-log``, text or JSON, with
or without tag names) holds every frame in (``<<``) and out (``>>``) with its time. ``replay`` builds a
fresh ``Session`` in the recorded role, with the recorded CompIDs and the recorded first sequence
numbers, and plays the log in time order on a fake clock:

- an inbound frame is fed to ``receive_data`` at its recorded time (the session's timers run at their
  deadlines on the way there);
- an outbound application message that was not a resend is what the application sent: it is sent
  again with ``Session.send`` at its time;
- every other outbound frame (Logon, Heartbeat, ResendRequest, Reject, resends...) is what the
  session itself must produce: it is compared with what the replayed session writes (MsgType,
  MsgSeqNum, and PossDupFlag), and a difference is printed as ``DIFFERS``.

Each frame, state change (``state ACTIVE -> LOGOUT_SENT``) and event is printed on one line. Values
masked in the log (Password ``554=***``) make a frame's CheckSum unverifiable; such a frame is
re-framed before it is fed in. Exit status: 0 when the replay wrote what the log recorded, 1 when it
differed, 2 when the log could not be read or holds no FIX frame.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

from ..clock import FakeClock, datetime_to_ns, ns_to_datetime
from ..codec import Message, Parser, encode
from ..decode import decode_bytes
from ..errors import FixgwError
from ..logsafe import printable
from ..session import NEED_DATA, Session, SessionConfig, SessionID
from ..stores import MemoryMessageStore

__all__ = ["Record", "read_wire_log", "Replay", "add_arguments", "run", "main", "DESCRIPTION"]

_ADMIN = frozenset((b"0", b"1", b"2", b"3", b"4", b"5", b"A"))
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)Z?")
NS = 1_000_000_000


@dataclass(frozen=True)
class Record:
    """One frame of the wire log: when, which way (``in``: received by the recorded engine), the bytes."""

    ts_ns: int | None
    direction: str
    raw: bytes
    masked: bool


def _ts(text: str) -> int | None:
    m = _ISO.search(text)
    if m is None:
        return None
    date, clock = m.groups()
    whole, _, frac = clock.partition(".")
    base = datetime_to_ns(datetime.fromisoformat(f"{date}T{whole}"))
    return base + int((frac + "000000000")[:9]) if frac else base


def _direction(context: str) -> str | None:
    if "<<" in context or " in " in f" {context} ":
        return "in"
    if ">>" in context or " out " in f" {context} ":
        return "out"
    return None


def read_wire_log(lines: Iterable[bytes]) -> Iterator[Record]:
    """Yield the frames of a wire log (text, tag-named or JSON lines) that carry a direction."""
    for line in lines:
        text = line.strip()
        if not text:
            continue
        direction, ts, body = None, None, text
        if text.startswith(b"{"):
            try:
                record = json.loads(text)
            except ValueError:
                record = None
            if isinstance(record, dict) and isinstance(record.get("message"), str):
                body = record["message"].encode("utf-8", "replace")
                ts = _ts(str(record.get("ts", "")))
                direction = record.get("direction") or _direction(record["message"].split("8=FIX", 1)[0])
        for d in decode_bytes(body):
            way = direction or _direction(d.context)
            if way not in ("in", "out"):
                continue
            raw = d.raw
            if d.masked or not d.verified:
                raw = encode(d.begin_string, d.msg_type or b"", [(t, v) for t, v in d.fields[3:] if t != 10])
            yield Record(ts if ts is not None else _ts(d.context), way, raw, d.masked)


def _summary(msg: Message) -> str:
    parts = [f"35={printable(msg.get(35))}", f"34={printable(msg.get(34))}"]
    for tag in (43, 7, 16, 36, 123, 112, 45, 373, 58, 11):
        value = msg.get(tag)
        if value is not None:
            parts.append(f"{tag}={printable(value)}")
    return " ".join(parts)


def _parse(raw: bytes) -> Message | None:
    p = Parser()
    p.feed(raw)
    item = p.next_event()
    return item if isinstance(item, Message) else None


class Replay:
    """Play ``records`` into a fresh session; ``lines`` collects the output, ``differences`` the count."""

    def __init__(self, records: Sequence[Record], *, sender: str | None = None, target: str | None = None,
                 role: str | None = None, validate: bool = True) -> None:
        self.records = [r for r in records if r.ts_ns is not None]
        first_in = next((_parse(r.raw) for r in self.records if r.direction == "in"), None)
        first_out = next((_parse(r.raw) for r in self.records if r.direction == "out"), None)
        sample = first_in or first_out
        if sample is None:
            raise FixgwError("the wire log holds no FIX frame with a time and a direction (<< or >>)")
        begin = (sample.get(8) or b"FIX.4.4").decode("ascii", "replace")
        if first_in is not None:
            us, them = first_in.get(56), first_in.get(49)
        else:
            us, them = first_out.get(49), first_out.get(56)  # type: ignore[union-attr]
        sid = SessionID(begin, sender or (us or b"").decode("latin-1"), target or (them or b"").decode("latin-1"))
        if role is None:
            role = "acceptor" if self.records[0].direction == "in" else "initiator"
        self.clock = FakeClock(self.records[0].ts_ns or 0)
        store = MemoryMessageStore(now_ns=self.clock.now_ns).session_store(sid)
        if first_in is not None and (first_in.get(34) or b"").isdigit():
            store.set_next_target_seq(int(first_in.get(34)))  # type: ignore[arg-type]
        if first_out is not None and (first_out.get(34) or b"").isdigit():
            store.set_next_sender_seq(int(first_out.get(34)))  # type: ignore[arg-type]
        dictionary = None
        if validate:
            from ..codec.dictionary import load_dictionary

            try:
                dictionary = load_dictionary(begin)
            except FixgwError:
                dictionary = None
        self.session = Session(SessionConfig(sid, role=role), store, dictionary=dictionary)
        self.lines: list[str] = [f"replaying {len(self.records)} frame(s) as the {role} {sid}"]
        self.differences = 0
        self._expected: list[Message] = []  # outbound frames of the log not yet paired
        self._replayed: list[Message] = []  # frames the replay wrote not yet paired
        self._state = self.session.state

    def _at(self, ns: int) -> str:
        return ns_to_datetime(ns).strftime("%H:%M:%S.%f")

    def _note(self, text: str) -> None:
        self.lines.append(f"{self._at(self.clock.now_ns())}  {text}")

    def _settle(self) -> None:
        s = self.session
        while (event := s.next_event()) is not NEED_DATA:
            self._state_change()
            message = getattr(event, "message", None)
            if isinstance(message, Message) and type(event).__name__ == "ApplicationMessage":
                flags = "".join(f" {name}" for name in ("poss_dup", "poss_resend") if getattr(event, name))
                self._note(f"event ApplicationMessage {_summary(message)}{flags}")
            else:
                self._note(f"event {printable(repr(event))}")
        self._state_change()
        data = s.data_to_send()
        if data:
            p = Parser()
            p.feed(data)
            for item in p:
                if isinstance(item, Message):
                    self._written(item)
        if s.wants_disconnect and s.is_connected:
            self._note("the session closes the connection")
            s.connection_lost(self.clock.now_ns())
            self._settle()

    def _state_change(self) -> None:
        if self.session.state is not self._state:
            self._note(f"state {self._state.name} -> {self.session.state.name}")
            self._state = self.session.state

    def _written(self, msg: Message) -> None:
        self._replayed.append(msg)
        self._match()

    def _match(self) -> None:
        """Pair what the replay wrote with what the log recorded, in order; print each pair."""
        while self._replayed and self._expected:
            got, want = self._replayed.pop(0), self._expected.pop(0)
            if (want.get(35), want.get(34), want.get(43) == b"Y") != (got.get(35), got.get(34), got.get(43) == b"Y"):
                self.differences += 1
                self._note(f"out  {_summary(got)}  DIFFERS: the log has {_summary(want)}")
            else:
                self._note(f"out  {_summary(got)}")

    def _advance(self, ns: int) -> None:
        s = self.session
        while True:
            deadline = s.next_deadline_ns()
            if deadline is None or deadline > ns:
                break
            self.clock.set(max(deadline, self.clock.now_ns()))
            s.on_tick(self.clock.now_ns())
            self._settle()
        self.clock.set(max(ns, self.clock.now_ns()))

    def run(self) -> int:
        """Play every record; return the number of differences."""
        s = self.session
        for record in self.records:
            msg = _parse(record.raw)
            if msg is None:
                self._note(f"{record.direction:4} garbled frame {printable(record.raw[:60])}")
                if record.direction == "in":
                    s.receive_data(record.raw, self.clock.now_ns())
                continue
            self._advance(record.ts_ns or self.clock.now_ns())
            if not s.is_connected and (record.direction == "in" or msg.get(35) == b"A"):
                self._note("a new connection")
                s.connection_made(self.clock.now_ns(), ("replay", 0))
                self._state_change()
            if record.direction == "in":
                self._note(f"in   {_summary(msg)}" + ("  (secrets masked in the log)" if record.masked else ""))
                s.receive_data(record.raw, self.clock.now_ns())
            elif msg.get(35) not in _ADMIN and msg.get(43) != b"Y" and s.is_logged_on:
                self._expected.append(msg)
                body = [(t, v) for t, v in msg.fields if t not in (8, 9, 35, 49, 56, 34, 52, 10)]
                s.send(msg.get(35), body, self.clock.now_ns())  # type: ignore[arg-type]
            else:
                self._expected.append(msg)
                self._match()
                continue
            self._settle()
        self._settle()
        for left in self._expected:
            self.differences += 1
            self._note(f"out  {_summary(left)}  DIFFERS: in the log, not written by the replay")
        for extra in self._replayed:
            self.differences += 1
            self._note(f"out  {_summary(extra)}  DIFFERS: written by the replay, not in the log")
        self.lines.append(f"{self.differences} difference(s) from the log")
        return self.differences


# -- the command ------------------------------------------------------------------------------------------

DESCRIPTION = ("Feed a recorded wire log into a sans-I/O session and print each frame, state change and "
               "event; report where the replayed session writes something other than the log.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of ``fixgw replay`` to ``p``."""
    p.add_argument("wire_log", metavar="WIRELOG", help="the wire log file ('-' for standard input)")
    p.add_argument("--sender", help="our SenderCompID (default: read from the log)")
    p.add_argument("--target", help="our TargetCompID (default: read from the log)")
    p.add_argument("--role", choices=("acceptor", "initiator"), help="the recorded engine's role (default: guessed)")
    p.add_argument("--no-validate", action="store_true", help="do not validate messages against the dictionary")


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run ``fixgw replay`` with parsed ``args``."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.wire_log == "-":
            records = list(read_wire_log(sys.stdin.buffer))
        else:
            with Path(args.wire_log).open("rb") as fh:
                records = list(read_wire_log(fh))
        replay = Replay(records, sender=args.sender, target=args.target, role=args.role,
                        validate=not args.no_validate)
    except OSError as exc:
        print(f"fixgw replay: cannot read {args.wire_log}: {exc.strerror or exc}", file=err)
        return 2
    except FixgwError as exc:
        print(f"fixgw replay: {printable(exc)}", file=err)
        return 2
    differences = replay.run()
    print("\n".join(replay.lines), file=out)
    return 1 if differences else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fixgw replay", description=DESCRIPTION)
    add_arguments(p)
    return run(p.parse_args(argv))
