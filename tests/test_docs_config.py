"""docs/configuration.md names exactly the keys the configuration loader reads, section by section.

Two independent views of the loader are compared with the page:

* the source: every key string in ``fixgw/config/*.py`` -- the allowed sets given to ``Reader.only``
  (with ``*NAME`` expanded from module-level tuples), the first argument of the typed getters
  (``r.str("host", ...)``), both names of ``r.secret(...)``, ``r.data.get("...")``, and the key argument of
  module helpers taking a ``Reader`` first (``_seconds(r, "logon_failure_forget", ...)``);
* the running loader: a minimal valid configuration with one unknown key planted in a section is built,
  and the ``unknown key (allowed: ...)`` error lists that section's keys. The entries of ``[[bridge.keys]]``
  pass through ``fixgw.config`` unread and are checked by ``fixgw.bridge.load_keys`` when the bridge
  starts, so that section is probed there (``EXTERNAL``).

On the page, a section is a heading ``## `[name]``` or ``### `[parent.name]``` (``[[...]]`` for arrays of
tables) and its keys are the table rows that start with ``| `key` |``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from fixgw.config import build_config
from fixgw.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"
CONFIG_SOURCES = sorted((ROOT / "fixgw" / "config").glob("*.py"))

_GETTERS = {"str", "opt_str", "int", "opt_int", "bool", "seconds", "decimal", "str_list", "path_", "table", "array"}
_HEADING = re.compile(r"^#{2,4} `(\[\[?)([a-z_][a-z0-9_.]*)\]\]?`")
_ROW = re.compile(r"^\| `([a-z_][a-z0-9_]*)` \|")
_PROBE = "zz_not_a_setting"


# -- the page ------------------------------------------------------------------------------------


def doc_sections(text: str) -> tuple[dict[str, set[str]], set[str]]:
    """Return {section: keys in its table} and the sections written as arrays of tables."""
    sections: dict[str, set[str]] = {}
    arrays: set[str] = set()
    current: str | None = None
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            current = m.group(2)
            sections.setdefault(current, set())
            if m.group(1) == "[[":
                arrays.add(current)
            continue
        if line.startswith("#"):
            current = None  # a heading that is not a section ends the previous section's table
            continue
        r = _ROW.match(line)
        if r and current is not None:
            sections[current].add(r.group(1))
    return sections, arrays


def doc_keys(sections: dict[str, set[str]]) -> set[str]:
    """Every name the page documents: the keys of each table and the sections' own names."""
    names = {name.rsplit(".", 1)[-1] for name in sections}
    for keys in sections.values():
        names |= keys
    return names


# -- the loader's source -------------------------------------------------------------------------


def _strings(node: ast.AST, constants: dict[str, set[str]]) -> set[str]:
    """String constants of a literal set/tuple/list, with ``*NAME`` taken from module constants."""
    found: set[str] = set()
    if isinstance(node, (ast.Set, ast.Tuple, ast.List)):
        for elt in node.elts:
            if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                found.add(elt.value)
            elif isinstance(elt, ast.Starred) and isinstance(elt.value, ast.Name):
                found |= constants.get(elt.value.id, set())
    elif isinstance(node, ast.Name):
        found |= constants.get(node.id, set())
    return found


def _first_str(args: list[ast.expr], index: int) -> str | None:
    if len(args) > index and isinstance(args[index], ast.Constant) and isinstance(args[index].value, str):
        return args[index].value
    return None


def source_keys(sources: list[Path]) -> set[str]:
    """Every configuration key the loader's source names (see the module docstring)."""
    keys: set[str] = set()
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants: dict[str, set[str]] = {}
        reader_helpers: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                values = _strings(node.value, {})
                if values and isinstance(node.value, (ast.Tuple, ast.Set, ast.List)):
                    constants[node.targets[0].id] = values
            if isinstance(node, ast.FunctionDef) and node.args.args:
                ann = node.args.args[0].annotation
                if isinstance(ann, ast.Name) and ann.id == "Reader" or (
                        isinstance(ann, ast.Constant) and ann.value == "Reader"):
                    reader_helpers.add(node.name)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute):
                if func.attr == "only" and node.args:
                    keys |= _strings(node.args[0], constants)
                elif func.attr in _GETTERS:
                    name = _first_str(node.args, 0)
                    if name is not None:
                        keys.add(name)
                elif func.attr == "secret":
                    keys |= {k for k in (_first_str(node.args, 0), _first_str(node.args, 1)) if k}
                elif func.attr == "get" and isinstance(func.value, ast.Attribute) and func.value.attr == "data":
                    name = _first_str(node.args, 0)
                    if name is not None:
                        keys.add(name)
            elif isinstance(func, ast.Name) and func.id in reader_helpers:
                name = _first_str(node.args, 1)
                if name is not None:
                    keys.add(name)
    return keys


# -- the running loader --------------------------------------------------------------------------


def _minimal() -> dict[str, Any]:
    return {
        "venues": [{"name": "sim", "kind": "binance", "simulated": True}],
        "sessions": [{"begin_string": "FIX.4.4", "sender_comp_id": "GW", "target_comp_id": "C1", "venue": "sim"}],
    }


def _allowed(err: ConfigError, section: str) -> set[str]:
    assert err.key.endswith(_PROBE), f"[{section}]: the loader stopped on {err} before reading the planted key"
    m = re.search(r"allowed: ([^)]*)\)", err.problem)
    assert m, f"[{section}]: no list of allowed keys in {err}"
    return {k.strip() for k in m.group(1).split(",") if k.strip()}


def _bridge_key_entry(section: str) -> set[str]:
    from fixgw.bridge import load_keys

    with pytest.raises(ConfigError) as info:
        load_keys([{_PROBE: 1}], {})
    return _allowed(info.value, section)


#: Sections whose keys another module checks: section -> probe returning the allowed keys.
EXTERNAL = {"bridge.keys": _bridge_key_entry}


def allowed_keys(section: str, arrays: set[str]) -> set[str]:
    """Plant an unknown key in ``section`` of a minimal configuration; return the keys the error allows."""
    if section in EXTERNAL:
        return EXTERNAL[section](section)
    data = _minimal()
    table: dict[str, Any] = data
    parts = section.split(".") if section else []
    for i, part in enumerate(parts):
        path = ".".join(parts[: i + 1])
        if isinstance(table.get(part), list):
            table = table[part][0]
        elif path in arrays:
            table[part] = [{}]
            table = table[part][0]
        else:
            table = table.setdefault(part, {})
    table[_PROBE] = 1
    with pytest.raises(ConfigError) as info:
        build_config(data, environ={})
    return _allowed(info.value, section)


# -- tests ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page() -> tuple[dict[str, set[str]], set[str]]:
    return doc_sections(DOC.read_text(encoding="utf-8"))


def test_docs_config_every_key_the_loader_reads_is_documented(page: Any) -> None:
    sections, _ = page
    missing = source_keys(CONFIG_SOURCES) - doc_keys(sections)
    assert not missing, f"keys read by fixgw/config but missing from docs/configuration.md: {sorted(missing)}"


def test_docs_config_every_documented_key_is_read_by_the_loader(page: Any) -> None:
    sections, _ = page
    own = {name: keys for name, keys in sections.items() if name not in EXTERNAL}
    unknown = doc_keys(own) - source_keys(CONFIG_SOURCES)
    assert not unknown, f"keys in docs/configuration.md that fixgw/config does not read: {sorted(unknown)}"


def test_docs_config_top_level_sections_match_the_loader(page: Any) -> None:
    sections, arrays = page
    documented = {name for name in sections if "." not in name}
    assert documented == allowed_keys("", arrays)


def test_docs_config_each_section_lists_exactly_its_keys(page: Any) -> None:
    sections, arrays = page
    wrong = {}
    for section, keys in sections.items():
        allowed = allowed_keys(section, arrays)
        if keys != allowed:
            wrong[section] = {"undocumented": sorted(allowed - keys), "not read": sorted(keys - allowed)}
    assert not wrong, f"docs/configuration.md disagrees with the loader: {wrong}"


def test_docs_config_page_has_the_expected_sections(page: Any) -> None:
    sections, arrays = page
    assert {"gateway", "gateway.tls", "venues", "sessions", "sessions.schedule", "sessions.limits"} <= set(sections)
    assert {"venues", "sessions"} <= arrays


def test_docs_config_source_scan_finds_keys_of_every_kind() -> None:
    # The scanner itself: an allowed set, a starred constant, a getter, a secret pair, a Reader helper.
    keys = source_keys(CONFIG_SOURCES)
    assert {"store_path", "validate_user_defined_fields", "heartbeat_interval", "api_key_env", "api_key_file",
            "logon_failure_forget", "terminal_order_retention", "sender_comp_id", "start"} <= keys
    assert "127.0.0.1" not in keys and "{base}/{quote}" not in keys  # defaults are not keys


def test_docs_config_doc_parser_reads_sections_and_rows() -> None:
    text = "## `[a]`\n| `x` | int |\n### `[[a.b]]`\n| `y` | str |\n## Notes\n| `z` | not a key |\n"
    sections, arrays = doc_sections(text)
    assert sections == {"a": {"x"}, "a.b": {"y"}}
    assert arrays == {"a.b"}
    assert doc_keys(sections) == {"a", "b", "x", "y"}


# -- the other operator pages ----------------------------------------------------------------------

OWN_PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", DOC, ROOT / "docs" / "operations.md",
             ROOT / "docs" / "deployment.md", *sorted((ROOT / "docs" / "venues").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_docs_pages_relative_links_point_to_existing_files() -> None:
    broken = []
    for page in OWN_PAGES:
        for target in _LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_docs_operations_flag_table_names_real_run_options() -> None:
    from fixgw.cli import build_parser

    parser = build_parser()
    run = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict)).choices["run"]
    options = {s for action in run._actions for s in action.option_strings}
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    flags = re.findall(r"^\| `(--[a-z-]+)", text, flags=re.M)
    assert flags, "the logs table of operations.md lists the run options"
    assert set(flags) <= options, sorted(set(flags) - options)
