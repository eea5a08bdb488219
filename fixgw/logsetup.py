"""Logging of the ``fixgw`` command line: level, format, log file, and the wire log's own destination.

The core never configures logging; the command line does it here, once per run.

* The narrative log (every logger but ``fixgw.wire``) goes to standard error, or to ``--log-file``
  (a ``WatchedFileHandler``, so an external log rotation is followed), as ``text`` -- one line of UTC
  time, level, logger and message -- or ``json``: one object per line with ``ts`` (UTC, ISO 8601),
  ``level``, ``logger``, ``message`` and, where the line concerns one, ``session`` and ``venue``.
* The wire log (``fixgw.wire.<session>``, see ``fixgw.transport.wirelog``) is off unless ``--wire-log``
  names a file or ``-`` (standard output); it then goes there only, in the same format, and with
  ``--wire-log-names`` every tag carries its name (``MsgType(35)=D``; ``fixgw decode`` reads both).
  At ``--log-level DEBUG`` without ``--wire-log`` it stays in the narrative log, as before.

``ContextFilter`` finds the session or venue of a record without help from the code that logs: a
``session``/``venue`` attribute given through ``extra``, else the logger name (``fixgw.wire.<session>``,
``fixgw.venues.<kind>``), else the message's prefix (``FIX.4.4:SENDER->TARGET: ...``, the gateway's
session keys ``CLIENT44_44: ...``, ``venue NAME ...``).
"""

from __future__ import annotations

import functools
import json
import logging
import logging.handlers
import re
import sys
import time
from pathlib import Path
from typing import IO, Any

from .errors import ConfigError, FixgwError

__all__ = ["LEVELS", "FORMATS", "ContextFilter", "JsonFormatter", "TextFormatter", "configure", "parse_level"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
WIRE_LOGGER = "fixgw.wire"
_MARK = "_fixgw_cli_handler"  # our handlers carry it, so a second configure() replaces only them

_FIX_SESSION = re.compile(r"(FIX\.4\.\d:[^\s:]+->[^\s:]+?)(?::\s|\s|$)")
_SESSION_KEY = re.compile(r"([A-Za-z0-9]{1,14}_4[24][A-Za-z0-9_-]*):\s")
_VENUE = re.compile(r"(?:venue|simulated exchange) '?([A-Za-z0-9_.-]+)'?[\s:(]")


def parse_level(text: str) -> int:
    """Return the ``logging`` level named by ``text`` (any case); raise ``ValueError`` naming the choices."""
    name = text.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"unknown log level {text!r} (choose from {', '.join(LEVELS)})")
    return int(getattr(logging, name))


class ContextFilter(logging.Filter):
    """Give every record ``session`` and ``venue`` attributes (``""`` when the line concerns neither)."""

    def filter(self, record: logging.LogRecord) -> bool:
        session = getattr(record, "session", "") or ""
        venue = getattr(record, "venue", "") or ""
        name = record.name
        if not session and name.startswith(WIRE_LOGGER + "."):
            label = name[len(WIRE_LOGGER) + 1:]
            begin, sep, rest = label.partition(":")
            session = begin.replace("_", ".") + sep + rest
        if not (session and venue):
            text = _message(record)
            if not session:
                m = _FIX_SESSION.match(text) or _SESSION_KEY.match(text)
                session = m.group(1) if m else ""
            if not venue:
                m = _VENUE.match(text)
                venue = m.group(1) if m else ""
        if not venue and name.startswith("fixgw.venues."):
            venue = name.split(".")[2]
        record.session = str(session)
        record.venue = str(venue)
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string is the logging module's to report
        return str(record.msg)


def _utc_iso(created: float) -> str:
    seconds = int(created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((created - seconds) * 1e6):06d}Z"


class TextFormatter(logging.Formatter):
    """``2026-12-06T01:10:42.053123Z INFO fixgw.gateway: message`` (the wire log: time, session, message)."""

    def __init__(self, *, wire: bool = False, names: bool = False) -> None:
        super().__init__()
        self._wire = wire
        self._names = names

    def format(self, record: logging.LogRecord) -> str:
        message = _message(record)
        if self._names:
            message = with_tag_names(message)
        if self._wire:
            line = f"{_utc_iso(record.created)} {getattr(record, 'session', '') or record.name} {message}"
        else:
            line = f"{_utc_iso(record.created)} {record.levelname} {record.name}: {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, session/venue when known, exc on errors."""

    def __init__(self, *, names: bool = False) -> None:
        super().__init__()
        self._names = names

    def format(self, record: logging.LogRecord) -> str:
        message = _message(record)
        if self._names:
            message = with_tag_names(message)
        out: dict[str, Any] = {"ts": _utc_iso(record.created), "level": record.levelname, "logger": record.name,
                               "message": message}
        for key in ("session", "venue", "direction"):
            value = getattr(record, key, None)
            if value:
                out[key] = str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def with_tag_names(message: str) -> str:
    """Write tag names into the FIX frame of a wire log message (``35=D`` -> ``MsgType(35)=D``)."""
    start = message.find("8=FIX")
    if start < 0:
        return message
    begin = message[start + 2: message.find("|", start) if "|" in message[start:] else len(message)]
    from .decode import name_tags

    return message[:start] + name_tags(message[start:], _dictionary(begin))


@functools.lru_cache(maxsize=8)
def _dictionary(begin_string: str) -> Any:
    from .codec.dictionary import load_dictionary

    try:
        return load_dictionary(begin_string)
    except FixgwError:
        return None


def _handler(target: str | Path, stream: IO[str], what: str) -> logging.Handler:
    if str(target) == "-":
        return logging.StreamHandler(stream)
    path = Path(target)
    if path.is_dir():
        raise ConfigError(what, f"{path} is a directory, not a file")
    try:
        return logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(what, f"cannot write {path}: {exc.strerror or exc}") from None


def configure(level: str | int = "INFO", fmt: str = "text", log_file: str | Path | None = None,
              wire_log: str | Path | None = None, wire_names: bool = False, *,
              stderr: IO[str] | None = None, stdout: IO[str] | None = None) -> list[logging.Handler]:
    """Set up the root and wire loggers; return the handlers added (a second call replaces them).

    Raise ``ConfigError`` for an unknown level or format or a log file that cannot be written.
    """
    try:
        lvl = level if isinstance(level, int) else parse_level(level)
    except ValueError as exc:
        raise ConfigError("--log-level", str(exc)) from None
    if fmt not in FORMATS:
        raise ConfigError("--log-format", f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    err = stderr if stderr is not None else sys.stderr
    out = stdout if stdout is not None else sys.stdout
    main = _handler(log_file, err, "--log-file") if log_file else logging.StreamHandler(err)
    handlers = [main]
    wire_handler = None
    if wire_log:
        try:
            wire_handler = _handler(wire_log, out, "--wire-log")
        except ConfigError:
            main.close()
            raise
        handlers.append(wire_handler)
    context = ContextFilter()
    for h in handlers:
        setattr(h, _MARK, True)
        h.addFilter(context)
    main.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _MARK, False):
            root.removeHandler(h)
            h.close()
    root.addHandler(main)
    root.setLevel(lvl)
    wire = logging.getLogger(WIRE_LOGGER)
    for h in list(wire.handlers):
        if getattr(h, _MARK, False):
            wire.removeHandler(h)
            h.close()
    if wire_handler is not None:
        wire_handler.setFormatter(JsonFormatter(names=wire_names) if fmt == "json"
                                  else TextFormatter(wire=True, names=wire_names))
        wire.addHandler(wire_handler)
        wire.setLevel(logging.INFO)
        wire.propagate = False
    else:
        wire.setLevel(logging.NOTSET if lvl <= logging.DEBUG else logging.WARNING)
        wire.propagate = True
    if lvl > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per venue request is noise
    return handlers
