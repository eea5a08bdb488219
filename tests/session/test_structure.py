"""The session engine's structure, checked on the source (``fixgw/session/_core.py`` docstring).

- Every change of a session's state is in ``_core.py`` (``SessionCore``), beside the transition table of
  ``states.py``; ``Session`` adds no state.
- The modules of the protocol's decisions (``_engine``, ``_logon``, ``_inbound``, ``_admin``) assign
  nothing and never reach the core's collaborators (outbox, sequencer, timers, event queue, parser): they
  ask the core's methods for every change.
- The connection state moves only through ``states.next_state`` (the table).
- No import cycle between the session's modules; only the package imports the engine.
"""

from __future__ import annotations

import ast
import enum
from pathlib import Path

from fixgw.session import Session, SessionConfig, SessionID
from fixgw.stores import MemoryMessageStore

PACKAGE = Path(__file__).resolve().parents[2] / "fixgw" / "session"
CORE = "_core"
LOGIC = ("_engine", "_logon", "_inbound", "_admin")
#: Core slots that hold read-only ports or settings: reading them is fine anywhere.
PORTS = {"config", "session_id", "store", "dictionary", "authenticator", "_writer", "_validate_options"}
#: Methods of the store port that change it (``SessionStore``); ``fetch`` only reads.
STORE_WRITES = {"save_outbound", "set_next_target_seq", "set_next_sender_seq", "advance_sender_seq", "reset", "commit"}
T0 = 1_700_000_000 * 1_000_000_000


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.glob("*.py"))}


def _imported_session_modules(name: str, tree: ast.Module, names: set[str]) -> set[str]:
    """The session modules ``name`` imports (TYPE_CHECKING imports included)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module is None:
                    out |= {a.name for a in node.names if a.name in names}
                else:
                    out.add(node.module.split(".")[0])
            elif node.level == 0 and node.module and node.module.startswith("fixgw.session"):
                parts = node.module.split(".")
                out.add(parts[2] if len(parts) > 2 else "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[:2] == ["fixgw", "session"]:
                    out.add(parts[2] if len(parts) > 2 else "__init__")
    out.discard(name)
    return out & names


def _assignment_targets(tree: ast.AST) -> list[ast.expr]:
    targets: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets.extend(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets.append(node.target)
        elif isinstance(node, ast.Delete):
            targets.extend(node.targets)
    flat: list[ast.expr] = []
    while targets:
        t = targets.pop()
        if isinstance(t, (ast.Tuple, ast.List)):
            targets.extend(t.elts)
        elif isinstance(t, ast.Starred):
            targets.append(t.value)
        else:
            flat.append(t)
    return flat


def _core_slots() -> tuple[str, ...]:
    slots: list[str] = []
    for cls in Session.__mro__:
        slots.extend(cls.__dict__.get("__slots__", ()))
    return tuple(slots)


def _collaborator_slots() -> set[str]:
    """Core slots holding a mutable object on a connected session (minus the read-only ports)."""
    store = MemoryMessageStore(now_ns=lambda: T0)
    sid = SessionID("FIX.4.4", "GW", "CLIENT")
    session = Session(SessionConfig(sid, role="acceptor"), store.session_store(sid))
    session.connection_made(T0)
    immutable = (type(None), bool, int, float, str, bytes, enum.Enum, frozenset, tuple)
    return {slot for slot in _core_slots() if not isinstance(getattr(session, slot), immutable)} - PORTS


def test_session_modules_import_graph_has_no_cycle():
    modules = _modules()
    names = set(modules)
    graph = {name: _imported_session_modules(name, tree, names) for name, tree in modules.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, f"import cycle: {' -> '.join(path[path.index(name):] + [name])}"
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, path + [name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert CORE in graph and graph[CORE].isdisjoint(LOGIC)  # the core knows none of the decision modules


def test_session_engine_imported_only_by_package():
    modules = _modules()
    names = set(modules)
    importers = {name for name, tree in modules.items() if "_engine" in _imported_session_modules(name, tree, names)}
    assert importers == {"__init__"}


def test_session_adds_no_state_to_the_core():
    assert Session.__dict__["__slots__"] == ()
    assert all("__slots__" in cls.__dict__ for cls in Session.__mro__[:-1])
    assert not hasattr(Session.__new__(Session), "__dict__")  # every attribute is a declared core slot
    owners = {cls.__module__ for cls in Session.__mro__ if cls.__dict__.get("__slots__")}
    assert owners == {f"fixgw.session.{CORE}"}


def test_session_decision_modules_assign_nothing():
    modules = _modules()
    found = []
    for name in LOGIC:
        for target in _assignment_targets(modules[name]):
            if not isinstance(target, ast.Name):  # an attribute or item of some object
                found.append(f"{name}.py:{target.lineno}: {ast.unparse(target)}")
    assert found == []


def test_session_core_extended_only_by_the_engine_session():
    """With the two tests around this one: session state is assigned by ``SessionCore``'s methods only."""
    found = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(base).endswith("SessionCore") for base in node.bases):
                found.append(f"{name}.{node.name}")
    assert found == ["_engine.Session"]


def test_session_objects_change_only_their_own_attributes():
    """Across the package an attribute is assigned only on ``self``: collaborators change by their methods."""
    found = []
    for name, tree in _modules().items():
        for target in _assignment_targets(tree):
            if isinstance(target, ast.Attribute) and not (isinstance(target.value, ast.Name) and target.value.id == "self"):
                found.append(f"{name}.py:{target.lineno}: {ast.unparse(target)}")
    assert found == []


def test_session_decision_modules_never_reach_core_collaborators():
    collaborators = _collaborator_slots()
    assert {"_outbox", "_seq", "_hb", "_gap", "_events", "_persist_after", "_parser"} <= collaborators
    modules = _modules()
    found = []
    for name in LOGIC:
        for node in ast.walk(modules[name]):
            if isinstance(node, ast.Attribute) and node.attr in collaborators:
                found.append(f"{name}.py:{node.lineno}: {ast.unparse(node)}")
    assert found == []


def test_session_store_written_only_by_core():
    found = []
    for name, tree in _modules().items():
        if name in (CORE, "store"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in STORE_WRITES:
                found.append(f"{name}.py:{node.lineno}: {ast.unparse(node.func)}")
    assert found == []


def test_session_state_moves_only_through_the_transition_table():
    """Every ``self._state = ...`` in the core takes ``next_state(...)`` (directly or from a local)."""
    tree = _modules()[CORE]
    checked = 0
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        from_table = {
            t.id
            for node in ast.walk(func)
            if isinstance(node, ast.Assign) and _is_next_state(node.value)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(func):
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "_state":
                    checked += 1
                    value = node.value
                    ok = _is_next_state(value) or (isinstance(value, ast.Name) and value.id in from_table)
                    initial = func.name == "__init__" and ast.unparse(value).endswith("DISCONNECTED")
                    assert ok or initial, f"_core.py:{node.lineno}: {ast.unparse(node)}"
    assert checked >= 5


def _is_next_state(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "next_state"
