"""The layer rules of ARCHITECTURE.md, checked on the source: higher layers import lower, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "fixgw"

# Package prefix -> layer number.
LAYERS = {
    "fixgw.errors": 0,
    "fixgw.backoff": 0,
    "fixgw.clock": 0,
    "fixgw.logsafe": 0,
    "fixgw.jsonio": 0,
    "fixgw.config": 0,
    "fixgw.codec": 1,
    "fixgw_ext": 1,
    "fixgw.session": 2,
    "fixgw.orders": 2,
    "fixgw.translate": 3,
    "fixgw.risk": 3,
    "fixgw.transport": 4,
    "fixgw.venues": 4,
    "fixgw.stores": 4,
    "fixgw.sim": 4,
    "fixgw.gateway": 5,
    "fixgw.bridge": 6,
    "fixgw.cli": 6,
    "fixgw.decode": 6,
    "fixgw.democlient": 6,
    "fixgw.logsetup": 6,
    "fixgw.testing": 6,
}
# Sans-I/O cores: no async frameworks, sockets or clock reads.
SANS_IO = ("fixgw.codec", "fixgw.session", "fixgw.orders", "fixgw.translate", "fixgw.risk")
FORBIDDEN_IN_SANS_IO = {"anyio", "asyncio", "socket", "ssl", "trio", "httpx", "websockets", "sqlite3", "threading"}
WEB_FRAMEWORKS = {"fastapi", "starlette", "uvicorn"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer_of(name: str) -> tuple[str, int] | None:
    best = None
    for prefix, layer in LAYERS.items():
        if name == prefix or name.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    return best


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    out.extend(f"{mod}.{alias.name}" for alias in node.names)
                else:
                    out.append(mod)
            elif node.module:
                out.append(node.module)
    return out


SOURCES = sorted(ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_layers_imports_point_downwards(path: Path) -> None:
    me = _module_name(path)
    mine = _layer_of(me)
    if mine is None:
        return
    my_prefix, my_layer = mine
    for name in _imports(path):
        top = name.split(".")[0]
        if me.startswith(SANS_IO):
            assert top not in FORBIDDEN_IN_SANS_IO, f"{me} is sans-I/O but imports {name}"
        if top in WEB_FRAMEWORKS:
            assert me.startswith(("fixgw.bridge", "fixgw.sim")), f"{me} imports {name}"
        theirs = _layer_of(name)
        if theirs is None or theirs[0] == my_prefix:
            continue
        assert theirs[1] <= my_layer, f"{me} (layer {my_layer}) imports {name} (layer {theirs[1]})"
        # Two independent implementations of one protocol must not share code.
        if me.startswith("fixgw.sim"):
            assert not name.startswith("fixgw.venues"), f"{me} imports {name}"
        if me.startswith("fixgw.venues"):
            assert not name.startswith("fixgw.sim"), f"{me} imports {name}"
            parts = me.split(".")
            if len(parts) > 2 and not parts[2].startswith("_") and parts[2] != "base":
                other = name.split(".")
                if len(other) > 2 and other[1] == "venues" and not other[2].startswith("_") and other[2] != "base":
                    assert other[2] == parts[2], f"venue {parts[2]} imports venue {other[2]}"
        if me.startswith("fixgw.gateway"):
            assert not name.startswith("fixgw.sim"), "the gateway does not know the simulator"


def test_layers_sans_io_cores_never_read_the_clock() -> None:
    offenders = []
    for path in SOURCES:
        me = _module_name(path)
        if not me.startswith(SANS_IO):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("time.time(", "time.time_ns(", "time.monotonic", "datetime.now(", "datetime.utcnow("):
            if needle in text:
                offenders.append(f"{me}: {needle}")
    assert offenders == []
