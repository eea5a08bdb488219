"""``fixgw decode``: FIX messages from a file, stdin or a wire log, printed with names and checked.

Theory of operation
-------------------
Input is read line by line, as bytes. A line may hold raw frames (SOH between fields, several frames
back to back), a wire log record (``|`` for SOH, other control bytes as ``\\xNN`` and the backslash
doubled, as ``fixgw.logsafe.printable_bytes`` writes them), the same with tag names (``MsgType(35)=D``,
what ``fixgw run --wire-log-names`` writes), or a JSON log line whose ``message`` holds such a record.
Whatever stands before ``8=FIX`` (time stamp, logger, direction arrow) is kept as the frame's context.

From ``8=FIX`` on, the text is turned back into the bytes that were on the wire and split into fields up
to and including CheckSum (10); a length-prefixed data field (RawData 96 after RawDataLength 95, ...) is
taken by its length, so an SOH inside it does not end it. BodyLength is checked against the bytes between
its field and CheckSum, CheckSum against the byte sum. Values the wire log masked (``554=***``) make both
unverifiable rather than wrong. The dictionary of the frame's BeginString (``load_dictionary``) names the
tags and enum values and tells which fields form the repeating groups of the message type; a frame whose
checks pass is also validated against it.

``decode_bytes`` and ``render`` do no I/O; ``main`` is the command. A literal ``|`` inside a value of a
wire log line cannot be told from a separator: such a frame fails its checks (the log is ambiguous there).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping, Sequence

from .codec import Parser
from .codec.dictionary import Dictionary, GroupDef, load_dictionary
from .errors import FixgwError
from .logsafe import printable

__all__ = ["Decoded", "Check", "decode_bytes", "decode_lines", "render", "enum_label", "name_tags", "main", "run",
           "build_parser", "add_arguments", "DESCRIPTION"]

SOH = 0x01
_SECRET_TAGS = frozenset((554, 925, 96, 91))
#: A frame starts here: ``8=FIX`` (or ``BeginString(8)=FIX``) not glued to a longer tag.
_START = re.compile(rb"(?<![0-9A-Za-z])(?:BeginString\(8\)|8)=FIX")
#: ``Name(tag)=`` at a field start in a named wire log: the name is dropped again.
_NAMED = re.compile(rb"(^|\|)[A-Za-z][A-Za-z0-9]*\((\d+)\)=")
_ESCAPE = re.compile(rb"\\(\\|x[0-9a-fA-F]{2})")
_TAG = re.compile(rb"[1-9][0-9]{0,8}")
_RAW_END = re.compile(rb"\x0110=\d{3}\x01")
#: A raw frame cut by line ends is joined with the next lines up to this many bytes.
MAX_CARRY = 1 << 20
#: Data fields (tag -> its length tag) of every version; the dictionaries agree on these.
_DATA_OF_LENGTH: dict[int, int] = {}


@dataclass(frozen=True, slots=True)
class Check:
    """A declared value (None when missing or unreadable) against the one counted."""

    declared: int | None
    counted: int | None

    @property
    def ok(self) -> bool:
        return self.declared is not None and self.declared == self.counted


@dataclass(frozen=True, slots=True)
class Decoded:
    """One frame found in the input, with its checks."""

    context: str
    raw: bytes
    fields: tuple[tuple[int, bytes], ...]
    body_length: Check
    checksum: Check
    problems: tuple[str, ...]
    masked: bool

    @property
    def begin_string(self) -> str:
        return self.fields[0][1].decode("ascii", "replace") if self.fields else ""

    @property
    def msg_type(self) -> bytes | None:
        for tag, value in self.fields[:4]:
            if tag == 35:
                return value
        return None

    @property
    def verified(self) -> bool:
        """BodyLength and CheckSum hold (or could not be checked only because secrets were masked)."""
        if self.problems:
            return False
        return (self.body_length.ok and self.checksum.ok) or (self.masked and self.checksum.declared is not None)


# -- finding frames ---------------------------------------------------------------------------------------


def decode_bytes(data: bytes, data_tags: Mapping[int, int] | None = None) -> Iterator[Decoded]:
    """Yield every frame found in ``data`` (a file's content, or some of its lines)."""
    return decode_lines(io.BytesIO(data), data_tags)  # lines end at LF only, as in a binary file


def decode_lines(lines: Iterable[bytes], data_tags: Mapping[int, int] | None = None) -> Iterator[Decoded]:
    """Yield every frame found in ``lines`` (each with its line end, as a binary file yields them).

    A raw frame cut by a line end (a newline inside a value) is joined with the lines that follow, up to
    ``MAX_CARRY`` bytes.
    """
    tags = dict(data_tags) if data_tags is not None else _default_data_tags()
    carry = b""
    for line in lines:
        if carry:
            line, carry = carry + line, b""
        if _open_raw_frame(line) and len(line) < MAX_CARRY:
            carry = line
            continue
        yield from _decode_line(line.rstrip(b"\r\n"), tags)
    if carry:
        yield from _decode_line(carry.rstrip(b"\r\n"), tags)


def _open_raw_frame(line: bytes) -> bool:
    """Tell whether ``line`` ends inside a raw (SOH) frame that a line end has cut."""
    if b"\x01" not in line or not line.endswith(b"\n"):
        return False
    starts = list(_START.finditer(line))
    return bool(starts) and _RAW_END.search(line, starts[-1].start()) is None


def _decode_line(line: bytes, data_tags: dict[int, int]) -> Iterator[Decoded]:
    head = b""
    if line.lstrip().startswith(b"{"):
        line, head = _from_json(line)
    m = _START.search(line)
    if m is None:
        return
    context = head + line[: m.start()]
    rest = line[m.start():]
    if SOH not in rest:
        rest = _unescape(_NAMED.sub(rb"\1\2=", rest))
    while True:
        decoded, used = _frame(rest, data_tags, printable(context.strip()))
        yield decoded
        rest = rest[used:]
        m = _START.search(rest)
        if m is None:
            return
        context, rest = rest[: m.start()], rest[m.start():]


def _from_json(line: bytes) -> tuple[bytes, bytes]:
    """Return the ``message`` of a JSON log line and a context made of its other keys."""
    try:
        record = json.loads(line)
    except ValueError:
        return line, b""
    if not isinstance(record, dict) or not isinstance(record.get("message"), str):
        return line, b""
    keys = ("ts", "session") if record.get("session") else ("ts", "logger")
    head = " ".join(str(record[k]) for k in keys if record.get(k))
    return record["message"].encode("utf-8", "replace"), (head + " ").encode("utf-8", "replace")


def _unescape(text: bytes) -> bytes:
    """Undo ``printable_bytes``: ``|`` is SOH, ``\\xNN`` a byte, ``\\\\`` a backslash."""
    def one(m: re.Match[bytes]) -> bytes:
        s = m.group(1)
        return b"\\" if s == b"\\" else bytes((int(s[1:], 16),))

    parts = text.split(b"|")
    return b"\x01".join(_ESCAPE.sub(one, p) for p in parts)


def _frame(buf: bytes, data_tags: dict[int, int], context: str) -> tuple[Decoded, int]:
    """Split the frame at the start of ``buf``; return it and the number of bytes it used."""
    fields: list[tuple[int, bytes]] = []
    problems: list[str] = []
    offsets: list[int] = []  # where each field starts
    pos, n = 0, len(buf)
    pending_data: tuple[int, int] | None = None  # (data tag, length) announced by the last field
    end = n
    while pos < n:
        eq = buf.find(b"=", pos)
        if eq < 0:
            problems.append(f"trailing bytes without '=': {printable(buf[pos:pos + 40])}")
            end = n
            break
        tag_text = buf[pos:eq]
        if not _TAG.fullmatch(tag_text):
            problems.append(f"malformed tag {printable(tag_text[:20])!s} at byte {pos}")
            stop = buf.find(b"\x01", eq + 1)
            pos = n if stop < 0 else stop + 1
            continue
        tag = int(tag_text)
        stop = -1
        if pending_data is not None and pending_data[0] == tag:
            at = eq + 1 + pending_data[1]
            if at < n and buf[at] == SOH:
                stop = at
            else:
                problems.append(f"data field {tag} does not end where its length field says")
        if stop < 0:
            stop = buf.find(b"\x01", eq + 1)
        offsets.append(pos)
        value = buf[eq + 1: n if stop < 0 else stop]
        fields.append((tag, value))
        pending_data = None
        if tag in data_tags and value.isdigit():
            pending_data = (data_tags[tag], int(value))
        if stop < 0:
            if tag != 10:
                problems.append(f"field {tag} is not ended by SOH (truncated?)")
            end = n
            break
        pos = stop + 1
        end = pos
        if tag == 10:
            break
    masked = any(t in _SECRET_TAGS and v == b"***" for t, v in fields)
    return _checked(context, buf[:end], fields, offsets, problems, masked), end


def _checked(context: str, raw: bytes, fields: list[tuple[int, bytes]], offsets: list[int],
             problems: list[str], masked: bool) -> Decoded:
    body_length = Check(None, None)
    checksum = Check(None, None)
    tags = [t for t, _ in fields]
    if len(tags) < 2 or tags[1] != 9:
        problems.append("BodyLength (9) is not the second field")
    if not tags or tags[-1] != 10:
        problems.append("no CheckSum (10) at the end: the frame is truncated")
    elif len(tags) >= 2:
        sum_at = offsets[-1]
        declared_sum = int(fields[-1][1]) if fields[-1][1].isdigit() and len(fields[-1][1]) == 3 else None
        if declared_sum is None:
            problems.append(f"CheckSum {_text(fields[-1][1][:10])} is not three digits")
        checksum = Check(declared_sum, sum(raw[:sum_at]) % 256)
        if tags[1] == 9:
            declared_len = int(fields[1][1]) if fields[1][1].isdigit() else None
            body_length = Check(declared_len, sum_at - offsets[2] if len(offsets) > 2 else 0)
    return Decoded(context, raw, tuple(fields), body_length, checksum, tuple(problems), masked)


def _default_data_tags() -> dict[int, int]:
    if not _DATA_OF_LENGTH:
        from .codec import DEFAULT_DATA_TAGS

        _DATA_OF_LENGTH.update(DEFAULT_DATA_TAGS)
    return _DATA_OF_LENGTH


# -- printing ---------------------------------------------------------------------------------------------


def enum_label(description: str) -> str:
    """``PARTIALLY_FILLED`` -> ``Partially Filled``: a dictionary's enum description for people."""
    return " ".join(w.capitalize() for w in description.split("_") if w)


def _text(value: bytes) -> str:
    try:
        return printable(value.decode("utf-8"))
    except UnicodeDecodeError:
        return printable(value)


def _dictionary(begin_string: str, specs_dir: Path | None) -> Dictionary | None:
    try:
        return load_dictionary(begin_string, specs_dir)
    except FixgwError:
        return None


def render(d: Decoded, dictionary: Dictionary | None) -> list[str]:
    """Return the lines that show ``d``: a head line with its checks, then one line per field."""
    lines = [f"# {d.context}"] if d.context else []
    mt = d.msg_type
    mdef = dictionary.message_types.get(mt) if dictionary is not None and mt is not None else None
    name = mdef.name if mdef is not None else "unknown message type"
    head = f"{printable(d.begin_string) or '?'} {name} (35={_text(mt) if mt is not None else '?'}): "
    head += ", ".join(_check_texts(d))
    if dictionary is None:
        head += f"; no dictionary for {printable(d.begin_string)!s}"
    elif d.verified and not d.masked:
        head += "; " + _validation(d, dictionary)
    lines.append(head)
    lines.extend(f"  ! {p}" for p in d.problems)
    groups = _top_groups(dictionary, mt)
    out: list[str] = []
    _Layout(d.fields, dictionary, out).run(groups)
    lines.extend(out)
    return lines


def _check_texts(d: Decoded) -> list[str]:
    if d.masked and not (d.body_length.ok and d.checksum.ok) and d.checksum.declared is not None:
        return [f"BodyLength {d.body_length.declared} and CheckSum {d.checksum.declared} not verifiable "
                "(secrets masked in the log)"]
    out = []
    for label, c in (("BodyLength", d.body_length), ("CheckSum", d.checksum)):
        if c.declared is None and c.counted is None:
            out.append(f"{label} not checked")
        else:
            width = 3 if label == "CheckSum" else 0
            shown = "unreadable" if c.declared is None else f"{c.declared:0{width}d}"
            out.append(f"{label} {shown} ok" if c.ok else f"{label} {shown} WRONG (counted {c.counted:0{width}d})")
    return out


def _validation(d: Decoded, dictionary: Dictionary) -> str:
    parser = Parser(data_tags=dictionary.data_tags)
    parser.feed(d.raw)
    msg = parser.next_event()
    if not hasattr(msg, "fields"):
        return f"not parsed: {printable(getattr(msg, 'reason', msg))}"
    try:
        dictionary.validate(msg)
    except FixgwError as exc:
        return f"INVALID: {printable(exc)}"
    return "valid"


def _top_groups(dictionary: Dictionary | None, mt: bytes | None) -> dict[int, GroupDef]:
    if dictionary is None:
        return {}
    mdef = dictionary.message_types.get(mt) if mt is not None else None
    if mdef is not None:
        return {tag: g for tag, (_, g) in mdef.top.items() if g is not None}
    return {m.tag: m.group for m in (*dictionary.header, *dictionary.trailer) if m.group is not None}


class _Layout:
    """Lay fields out one per line, the instances of each repeating group indented under its count."""

    def __init__(self, fields: Sequence[tuple[int, bytes]], dictionary: Dictionary | None, out: list[str]) -> None:
        self.fields = fields
        self.dictionary = dictionary
        self.out = out
        self.i = 0

    def run(self, groups: Mapping[int, GroupDef]) -> None:
        while self.i < len(self.fields):
            tag, value = self.fields[self.i]
            self._line(0, "", tag, value)
            self.i += 1
            group = groups.get(tag)
            if group is not None:
                self._group(group, value, 1)

    def _group(self, g: GroupDef, count_value: bytes, depth: int) -> None:
        fields = self.fields
        found = 0
        while self.i < len(fields) and fields[self.i][0] == g.delimiter:
            found += 1
            seen: set[int] = set()
            while self.i < len(fields):
                tag, value = fields[self.i]
                if tag not in g.fields or tag in seen:
                    break
                seen.add(tag)
                self._line(depth, "- " if len(seen) == 1 else "  ", tag, value)
                self.i += 1
                nested = g.fields[tag]
                if nested is not None:
                    self._group(nested, value, depth + 1)
        declared = int(count_value) if count_value.isdigit() else None
        if declared != found:
            pad = "    " * depth
            self.out.append(f"{pad}! {g.name or g.count_tag} says {_text(count_value)}, {found} instance(s) follow")

    def _line(self, depth: int, mark: str, tag: int, value: bytes) -> None:
        d = self.dictionary
        fdef = d.field(tag) if d is not None else None
        name = fdef.name if fdef is not None else "?"
        shown = _text(value)
        if tag == 35 and d is not None and value in d.message_types:
            shown += f" ({d.message_types[value].name})"
        elif fdef is not None and fdef.values:
            labels = [enum_label(fdef.values[v]) for v in value.split(b" ") if v in fdef.values]
            if labels:
                shown += f" ({', '.join(labels)})"
        pad = "    " * depth
        tag_text = f"{tag:>4}" if depth == 0 else str(tag)
        self.out.append(f"{pad}{mark}{tag_text} {name} = {shown}")


# -- writing names into the wire log ------------------------------------------------------------------------

_FIELD_START = re.compile(r"(^|\|)([1-9][0-9]{0,8})=")


def name_tags(text: str, dictionary: Dictionary | None) -> str:
    """Write ``Name(tag)=`` for every field of a wire log text whose tag ``dictionary`` knows."""
    if dictionary is None:
        return text
    names = dictionary.fields

    def one(m: re.Match[str]) -> str:
        f = names.get(int(m.group(2)))
        return m.group(0) if f is None else f"{m.group(1)}{f.name}({m.group(2)})="

    return _FIELD_START.sub(one, text)


# -- the command ------------------------------------------------------------------------------------------


DESCRIPTION = ("Print FIX messages with tag and enum names, repeating groups indented, BodyLength and "
                "CheckSum verified. Reads raw frames (SOH), wire log lines ('|' and log prefixes), "
                "tag-named wire logs and JSON log lines.")


def build_parser(prog: str = "fixgw decode", parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser
                 ) -> argparse.ArgumentParser:
    """Return the argument parser of ``fixgw decode``."""
    p = parser_class(prog=prog, description=DESCRIPTION)
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of ``fixgw decode`` to ``p``."""
    p.add_argument("files", nargs="*", metavar="FILE", default=["-"],
                   help="files to read; '-' is standard input (default: standard input)")
    p.add_argument("--specs", type=Path, metavar="DIR",
                   help="folder of the FIX dictionaries (default: $FIXGW_SPECS_DIR, else the built-in specs/fix)")


def run(args: argparse.Namespace, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Decode every input named by ``args``; 0 when every frame checks out, 1 otherwise, 2 on unreadable input."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    found = bad = 0
    cache: dict[str, Dictionary | None] = {}
    for name in args.files:
        try:
            for d in decode_lines(_read(name)):
                found += 1
                bs = d.begin_string
                if bs not in cache:
                    cache[bs] = _dictionary(bs, args.specs)
                bad += not d.verified
                print("\n".join(render(d, cache[bs])) + "\n", file=out)
        except BrokenPipeError:  # the reader went away (``| head``): nothing more to say
            _silence_stdout()
            return 0
        except OSError as exc:
            print(f"fixgw decode: cannot read {name}: {exc.strerror or exc}", file=err)
            return 2
    if not found:
        print(f"fixgw decode: no FIX message found in {', '.join(args.files)}", file=err)
        return 1
    if bad:
        print(f"fixgw decode: {bad} of {found} message(s) failed their BodyLength/CheckSum checks", file=err)
        return 1
    return 0


def _silence_stdout() -> None:
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


def _read(name: str) -> Iterable[bytes]:
    if name == "-":
        return iter(sys.stdin.buffer)
    path = Path(name)
    if path.is_dir():
        raise IsADirectoryError(21, "is a directory", name)
    return _lines(path)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from fh


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fixgw decode`` with ``argv`` (without the program name)."""
    return run(build_parser().parse_args(argv))

