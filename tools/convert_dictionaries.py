#!/usr/bin/env python3
"""Convert FIX data dictionaries (QuickFIX XML layout) into fixgw's JSON format in ``specs/fix/``.

Usage::

    python tools/convert_dictionaries.py [SOURCE_DIR] [--out OUT_DIR]

``SOURCE_DIR`` holds ``FIX42.xml`` and ``FIX44.xml`` (default: ``../shared/fix-dictionaries`` beside the
repository); ``OUT_DIR`` defaults to ``specs/fix`` in the repository. The output format is described in
``specs/README.md``. The output is deterministic: the same input always gives the same bytes, so a
regenerated file can be compared with the committed one.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "fix-dictionaries"
DEFAULT_OUT = REPO / "specs" / "fix"
FORMAT_VERSION = 1

#: Source file -> output file, for the versions the gateway speaks.
VERSIONS = {"FIX42.xml": "FIX42.json", "FIX44.xml": "FIX44.json"}


class ConversionError(Exception):
    """The source dictionary is inconsistent (a reference to an undefined field or component)."""


def _required(elem: ET.Element) -> bool:
    return elem.get("required", "N").upper() == "Y"


class _Converter:
    def __init__(self, root: ET.Element, source_name: str) -> None:
        self.root = root
        self.source_name = source_name
        self.fields_by_name: dict[str, dict[str, Any]] = {}
        self.components: dict[str, ET.Element] = {}

    def convert(self) -> dict[str, Any]:
        root = self.root
        if root.tag != "fix":
            raise ConversionError(f"{self.source_name}: root element is <{root.tag}>, expected <fix>")
        fields = self._fields()
        for comp in _children(root, "components", "component"):
            self.components[comp.get("name", "")] = comp
        major, minor = root.get("major", "?"), root.get("minor", "?")
        sp = root.get("servicepack", "0")
        begin = f"{root.get('type', 'FIX')}.{major}.{minor}"
        out: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "begin_string": begin,
            "servicepack": int(sp) if sp.isdigit() else 0,
            "source": self.source_name,
            "fields": fields,
            "header": self._members(_one(root, "header"), "header"),
            "trailer": self._members(_one(root, "trailer"), "trailer"),
            "components": [
                {"name": name, "members": self._members(elem, f"component {name}")}
                for name, elem in self.components.items()
            ],
            "messages": [
                {
                    "msgtype": msg.get("msgtype", ""),
                    "name": msg.get("name", ""),
                    "msgcat": msg.get("msgcat", "app"),
                    "members": self._members(msg, f"message {msg.get('name')}"),
                }
                for msg in _children(root, "messages", "message")
            ],
        }
        return out

    def _fields(self) -> list[dict[str, Any]]:
        out = []
        for f in _children(self.root, "fields", "field"):
            number = f.get("number", "")
            if not number.isdigit():
                raise ConversionError(f"{self.source_name}: field {f.get('name')} has number {number!r}")
            entry: dict[str, Any] = {"number": int(number), "name": f.get("name", ""), "type": f.get("type", "")}
            values = [
                {"enum": v.get("enum", ""), "description": v.get("description", "")} for v in f.findall("value")
            ]
            if values:
                entry["values"] = values
            self.fields_by_name[entry["name"]] = entry
            out.append(entry)
        out.sort(key=lambda e: e["number"])
        return out

    def _tag(self, name: str | None, where: str) -> int:
        entry = self.fields_by_name.get(name or "")
        if entry is None:
            raise ConversionError(f"{self.source_name}: {where} refers to undefined field {name!r}")
        return int(entry["number"])

    def _members(self, parent: ET.Element, where: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for child in parent:
            name = child.get("name")
            if child.tag == "field":
                out.append({"tag": self._tag(name, where), "name": name, "required": _required(child)})
            elif child.tag == "component":
                if name not in self.components:
                    raise ConversionError(f"{self.source_name}: {where} refers to undefined component {name!r}")
                out.append({"component": name, "required": _required(child)})
            elif child.tag == "group":
                members = self._members(child, f"{where} group {name}")
                if not members:
                    raise ConversionError(f"{self.source_name}: {where} group {name} has no members")
                out.append(
                    {
                        "group": self._tag(name, where),
                        "name": name,
                        "required": _required(child),
                        "delimiter": self._first_tag(members, where),
                        "members": members,
                    }
                )
            else:
                raise ConversionError(f"{self.source_name}: {where} holds unexpected <{child.tag}>")
        return out

    def _first_tag(self, members: list[dict[str, Any]], where: str) -> int:
        """Return the delimiter of a group: its first field, looking inside a leading component."""
        first = members[0]
        if "tag" in first:
            return int(first["tag"])
        if "group" in first:
            return int(first["group"])
        comp = self.components[first["component"]]
        inner = self._members(comp, f"{where} component {first['component']}")
        if not inner:
            raise ConversionError(f"{self.source_name}: {where} starts with an empty component")
        return self._first_tag(inner, where)


def _one(root: ET.Element, name: str) -> ET.Element:
    elem = root.find(name)
    return elem if elem is not None else ET.Element(name)


def _children(root: ET.Element, section: str, name: str) -> list[ET.Element]:
    elem = root.find(section)
    return [] if elem is None else elem.findall(name)


def convert_file(path: Path) -> dict[str, Any]:
    """Read one QuickFIX-layout XML dictionary and return it in fixgw's format."""
    root = ET.parse(path).getroot()
    return _Converter(root, path.name).convert()


# -- deterministic, diff-friendly JSON ---------------------------------------------------------------
# Containers are laid out one entry per line down to single fields, enum values and members, which are
# written compactly on one line each; object keys are sorted everywhere.


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _expand(value: Any, indent: int) -> bool:
    if isinstance(value, list):
        return bool(value) and any(isinstance(v, (dict, list)) for v in value)
    if isinstance(value, dict):
        # A plain member or field stays on one line; a group, component or message (with "members"), a
        # field with enum values and the top-level object are laid out.
        return indent == 0 or "members" in value or "values" in value
    return False


def dumps(value: Any, indent: int = 0) -> str:
    """Serialise ``value`` as JSON with sorted keys and a stable, line-per-entry layout."""
    if not _expand(value, indent):
        return _compact(value)
    pad = " " * (indent + 1)
    end = " " * indent
    if isinstance(value, list):
        items = [pad + dumps(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + end + "]"
    items = [pad + json.dumps(k) + ": " + dumps(value[k], indent + 1) for k in sorted(value)]
    return "{\n" + ",\n".join(items) + "\n" + end + "}"


def write_all(source: Path, out_dir: Path) -> list[Path]:
    """Convert every known version found in ``source`` into ``out_dir``; return the files written."""
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for src_name, out_name in VERSIONS.items():
        src = source / src_name
        if not src.is_file():
            raise ConversionError(f"{src} not found")
        text = dumps(convert_file(src)) + "\n"
        target = out_dir / out_name
        target.write_bytes(text.encode("utf-8"))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE, help="folder of FIX4x.xml files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default specs/fix)")
    args = parser.parse_args(argv)
    try:
        for path in write_all(args.source, args.out):
            print(path)
    except (ConversionError, ET.ParseError, OSError) as exc:
        print(f"convert_dictionaries: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
