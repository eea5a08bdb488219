"""Hypothesis strategies for FIX: field values by type, valid messages of any type, garbled frames, peers.

Requires hypothesis (``pip install fixgw[testing]``)::

    from hypothesis import given
    from fixgw.testing import strategies as fst

    @given(fst.messages("FIX.4.4"))
    def test_any_message_validates(m):
        frame = m.encode(sender="A", target="B", seq=1)
        ...

- ``field_values(field_def)`` / ``values_of_type(fix_type)``: wire values (bytes) valid for a field of
  the dictionary: its enumeration when it has one (space-separated subsets for multi-value fields),
  else its type's format (INT, QTY, UTCTIMESTAMP, MONTHYEAR, DATA, ...).
- ``messages(begin_string, msg_types=None)``: ``DrawnMessage`` values valid against the FIX 4.2 or 4.4
  dictionary (``specs/fix``): every required field, optional ones drawn, repeating groups with 0..N
  instances (delimiter first, nested groups included), length-prefixed data fields with their length.
- ``garbled(frames)``: ``Mutation`` values of a frame: ``framing="kept"`` mutations change the content
  and recompute BodyLength and CheckSum (a duplicated, removed or inserted field, a changed value, a bad
  tag), ``framing="broken"`` ones break BodyLength or CheckSum (wrong length, wrong sum, truncated,
  an SOH removed).
- ``peer_steps()``: lists of ``PeerStep`` (send, gap, duplicate, resend, gap fill, reset, garble, wait),
  the event sequences a counterparty produces; ``ScriptedPeer`` (in ``fixgw.testing.peer``) plays them.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from hypothesis import strategies as st

from ..codec import encode, format_decimal, format_utc_timestamp
from ..codec.dictionary import Dictionary, FieldDef, GroupDef, MemberDef, load_dictionary
from .pair import NS, T0
from .peer import PeerStep

__all__ = [
    "DrawnMessage",
    "Mutation",
    "PeerStep",
    "field_values",
    "values_of_type",
    "messages",
    "garbled",
    "peer_steps",
    "text_values",
]

_PRINTABLE = string.ascii_letters + string.digits + " !\"#$%&'()*+,-./:;<>?@[]^_`{|}~"
_BOOL = st.booleans()
#: Header fields the encoder or ``DrawnMessage.encode`` writes; never drawn as body fields.
_HEADER_TAGS = frozenset((8, 9, 35, 10, 34, 49, 52, 56))


@functools.lru_cache(maxsize=None)
def text_values(max_size: int = 16) -> st.SearchStrategy[bytes]:
    """Free text without SOH: printable ASCII."""
    return st.text(_PRINTABLE, min_size=1, max_size=max_size).map(lambda s: s.encode("ascii"))


def _timestamps() -> st.SearchStrategy[bytes]:
    return st.tuples(st.integers(0, 4_000_000_000 * NS), st.sampled_from((0, 3, 6, 9))).map(
        lambda t: format_utc_timestamp(t[0], t[1]))


def _dates() -> st.SearchStrategy[bytes]:
    return st.dates().filter(lambda d: d.year >= 1).map(lambda d: d.strftime("%Y%m%d").zfill(8).encode())


@functools.lru_cache(maxsize=None)
def values_of_type(fix_type: str) -> st.SearchStrategy[bytes]:
    """Wire values of a FIX type (no enumeration): what the dictionary's format check accepts."""
    t = fix_type.upper()
    if t in ("INT",):
        return st.integers(-10**9, 10**9).map(lambda i: b"%d" % i)
    if t in ("LENGTH", "NUMINGROUP", "SEQNUM"):
        return st.integers(0, 10**9).map(lambda i: b"%d" % i)
    if t == "DAYOFMONTH":
        return st.integers(1, 31).map(lambda i: b"%d" % i)
    if t in ("FLOAT", "QTY", "PRICE", "PRICEOFFSET", "AMT", "PERCENTAGE"):
        return st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False,
                           allow_infinity=False).map(format_decimal)
    if t == "CHAR":
        return st.sampled_from(_PRINTABLE.replace(" ", "")).map(lambda c: c.encode("ascii"))
    if t == "BOOLEAN":
        return st.sampled_from((b"Y", b"N"))
    if t == "UTCTIMESTAMP":
        return _timestamps()
    if t == "UTCTIMEONLY":
        return st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59), st.sampled_from(("", ".123"))
                         ).map(lambda x: b"%02d:%02d:%02d%s" % (x[0], x[1], x[2], x[3].encode()))
    if t in ("UTCDATE", "UTCDATEONLY", "LOCALMKTDATE"):
        return _dates()
    if t == "MONTHYEAR":
        return _dates().map(lambda d: d[:6]) | _dates()
    if t == "DATA":
        return st.binary(min_size=1, max_size=24)
    return text_values()


def field_values(field: FieldDef) -> st.SearchStrategy[bytes]:
    """Wire values valid for ``field``: one of its enumeration (or a subset for multi-value), else by type."""
    if field.values:
        enums = sorted(field.values)
        if field.is_multi_value:
            return st.lists(st.sampled_from(enums), min_size=1, max_size=3, unique=True).map(b" ".join)
        return st.sampled_from(enums)
    return values_of_type(field.type)


@dataclass(frozen=True)
class DrawnMessage:
    """A message drawn from a dictionary: its type and body fields (header left to ``encode``)."""

    begin_string: str
    msg_type: bytes
    body: tuple[tuple[int, bytes], ...]

    def encode(self, *, sender: str = "SENDER", target: str = "TARGET", seq: int = 1,
               sending_time_ns: int = T0, header: Sequence[tuple[int, Any]] = ()) -> bytes:
        """The frame, with the standard header (49, 56, 34, 52 and ``header``), BodyLength and CheckSum."""
        fields = [(49, sender), (56, target), (34, seq), (52, format_utc_timestamp(sending_time_ns)), *header,
                  *self.body]
        return encode(self.begin_string, self.msg_type, fields)


class _Drawer:
    """Draw the members of a message or group instance, in definition order."""

    def __init__(self, dictionary: Dictionary, draw: Any, optional: bool, max_instances: int,
                 cache: dict[int, st.SearchStrategy[bytes]]) -> None:
        self.d = dictionary
        self.cache = cache
        self.draw = draw
        self.optional = optional
        self.max_instances = max_instances
        self.data_length = {data: length for length, data in dictionary.data_tags.items()}

    def members(self, members: Sequence[MemberDef], depth: int, first: int | None = None) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        scope = {m.tag for m in members}
        for m in members:
            tag = m.tag
            if tag in _HEADER_TAGS:
                continue
            if tag in self.d.data_tags and self.d.data_tags[tag] in scope:
                continue  # written with its data field
            if tag in self.data_length and self.data_length[tag] not in scope:
                continue  # a data field whose length field is elsewhere: left out
            wanted = m.required or tag == first or (self.optional and self.draw(_BOOL))
            if not wanted:
                continue
            if m.group is not None:
                out.extend(self.group(m.group, m.required, depth))
                continue
            fdef = self.d.field(tag)
            if fdef is None:
                continue
            values = self.cache.get(tag)
            if values is None:
                values = self.cache[tag] = field_values(fdef)
            value = self.draw(values)
            if tag in self.data_length:
                out.append((self.data_length[tag], b"%d" % len(value)))
            out.append((tag, value))
        return out

    def group(self, g: GroupDef, required: bool, depth: int) -> list[tuple[int, bytes]]:
        limit = self.max_instances if depth < 2 else min(1, self.max_instances)
        n = self.draw(st.integers(1 if required else 0, max(limit, 1 if required else 0)))
        if n == 0:
            return [(g.count_tag, b"0")] if self.draw(_BOOL) else []
        out = [(g.count_tag, b"%d" % n)]
        for _ in range(n):
            out.extend(self.members(g.members, depth + 1, first=g.delimiter))
        return out


def messages(begin_string: str = "FIX.4.4", msg_types: Sequence[bytes | str] | None = None, *,
             dictionary: Dictionary | None = None, optional: bool = True,
             max_instances: int = 2) -> st.SearchStrategy[DrawnMessage]:
    """Messages valid against the dictionary of ``begin_string`` (every type unless ``msg_types``)."""
    d = dictionary or load_dictionary(begin_string)
    types = sorted(d.message_types) if msg_types is None else [
        t.encode("ascii") if isinstance(t, str) else t for t in msg_types]

    cache: dict[int, st.SearchStrategy[bytes]] = {}
    type_choice = st.sampled_from(types)

    @st.composite
    def build(draw: Any) -> DrawnMessage:
        mt = draw(type_choice)
        body = _Drawer(d, draw, optional, max_instances, cache).members(d.message_types[mt].members, 0)
        return DrawnMessage(d.begin_string, mt, tuple(body))

    return build()


# -- garbled frames -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """A mutated frame: the bytes, what was done, and whether BodyLength and CheckSum still hold."""

    data: bytes
    kind: str
    framing: str  # "kept" | "broken"


def _reframe(begin: bytes, body: bytes) -> bytes:
    head = b"8=%s\x019=%d\x01" % (begin, len(body))
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


def _split(frame: bytes) -> tuple[bytes, list[bytes]]:
    """BeginString and the body fields (without 8, 9, 10), each without its SOH."""
    parts = frame.split(b"\x01")[:-1]
    return parts[0][2:], parts[2:-1]


@st.composite
def _kept(draw: Any, frame: bytes) -> Mutation:
    begin, fields = _split(frame)
    i = draw(st.integers(1, max(1, len(fields) - 1)))  # never the MsgType at 0
    kind = draw(st.sampled_from(("duplicate field", "remove field", "insert field", "change value", "bad tag",
                                 "empty value")))
    fields = list(fields)
    if kind == "duplicate field" and i < len(fields):
        fields.insert(i, fields[i])
    elif kind == "remove field" and i < len(fields):
        del fields[i]
    elif kind == "insert field":
        fields.insert(i, b"%d=%s" % (draw(st.integers(1, 9999)), draw(text_values(8))))
    elif kind == "change value" and i < len(fields):
        tag = fields[i].split(b"=", 1)[0]
        fields[i] = tag + b"=" + draw(text_values(8))
    elif kind == "bad tag" and i < len(fields):
        fields[i] = draw(st.sampled_from((b"0", b"AB", b"", b"-1", b"0049"))) + b"=" + fields[i].split(b"=", 1)[-1]
    elif kind == "empty value" and i < len(fields):
        fields[i] = fields[i].split(b"=", 1)[0] + b"="
    body = b"".join(f + b"\x01" for f in fields)
    return Mutation(_reframe(begin, body), kind, "kept")


@st.composite
def _broken(draw: Any, frame: bytes) -> Mutation:
    kind = draw(st.sampled_from(("wrong BodyLength", "wrong CheckSum", "truncated", "SOH removed")))
    if kind == "wrong BodyLength":
        head_end = frame.index(b"\x01", frame.index(b"\x019=") + 1)
        length = int(frame[frame.index(b"\x019=") + 3:head_end])
        delta = draw(st.integers(-min(5, length - 1), 5).filter(lambda x: x != 0))
        data = frame[:frame.index(b"\x019=") + 3] + b"%d" % (length + delta) + frame[head_end:]
    elif kind == "wrong CheckSum":
        total = int(frame[-4:-1])
        data = frame[:-4] + b"%03d\x01" % ((total + draw(st.integers(1, 255))) % 256)
    elif kind == "truncated":
        data = frame[: draw(st.integers(1, len(frame) - 1))]
    else:
        positions = [i for i, b in enumerate(frame[:-1]) if b == 1]
        at = draw(st.sampled_from(positions))
        data = frame[:at] + frame[at + 1:]
    return Mutation(data, kind, "broken")


def garbled(frames: st.SearchStrategy[bytes], framing: str | None = None) -> st.SearchStrategy[Mutation]:
    """Mutations of frames: ``framing="kept"`` (BodyLength/CheckSum recomputed), ``"broken"``, or either."""
    kept = frames.flatmap(_kept)
    broken = frames.flatmap(_broken)
    if framing == "kept":
        return kept
    if framing == "broken":
        return broken
    return kept | broken


# -- session event sequences --------------------------------------------------------------------------------


def peer_steps(min_size: int = 1, max_size: int = 20, *, kinds: Sequence[str] | None = None,
               max_wait: float = 90.0) -> st.SearchStrategy[list[PeerStep]]:
    """Lists of ``PeerStep``: the gaps, duplicates, PossDup resends, resets and waits of a counterparty."""
    allowed = set(kinds or ("send", "gap", "duplicate", "resend", "gap_fill", "reset", "garble", "wait"))
    options = []
    if "send" in allowed:
        options.append(st.integers(1, 3).map(lambda n: PeerStep("send", n)))
    if "gap" in allowed:
        options.append(st.integers(1, 3).map(lambda n: PeerStep("gap", n)))
    for kind in ("duplicate", "gap_fill", "garble"):
        if kind in allowed:
            options.append(st.just(PeerStep(kind)))
    if "resend" in allowed:
        options.append(st.integers(1, 4).map(lambda n: PeerStep("resend", n)))
    if "reset" in allowed:
        options.append(st.integers(1, 5).map(lambda n: PeerStep("reset", n)))
    if "wait" in allowed:
        options.append(st.floats(0.5, max_wait).map(lambda s: PeerStep("wait", seconds=round(s, 3))))
    return st.lists(st.one_of(options), min_size=min_size, max_size=max_size)
