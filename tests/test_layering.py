"""The import graph of our modules keeps the rules of docs/design.md: no circles, no arrow that runs back up.

Every module of solver/, heuristics/ and devices/ is parsed with ``ast``; every import counts (module level,
inside functions, under ``if TYPE_CHECKING``). The allowed arrows between rooms are read from the table under
"### Import rules" in docs/design.md, so the rule lives in one place.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("solver", "heuristics", "devices")
DESIGN = ROOT / "docs" / "design.md"


def module_names() -> dict[str, Path]:
    """Dotted module name -> file, for every module of our packages."""
    names = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names[".".join(parts)] = path
    return names


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imported_modules(name: str, path: Path, ours: set[str]) -> set[str]:
    """Our modules that ``name`` imports anywhere in its file.

    ``from a.b import c`` counts as an import of ``a.b.c`` when that is a module, else of ``a.b``.
    Parent packages are not counted (their ``__init__`` runs, but re-exports would make every
    room look circular).
    """
    package = name if _is_package(path) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in ours else module for alias in node.names]
        else:
            continue
        for target in targets:
            # ``import a.b.c`` of a name that is no module of ours: the longest prefix that is one.
            while target and target not in ours:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> nx.DiGraph:
    names = module_names()
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    for name, path in names.items():
        for target in imported_modules(name, path, set(names)):
            graph.add_edge(name, target)
    return graph


def allowed_table() -> dict[str, set[str]]:
    """Room -> the rooms it may import, from the "Import rules" table of docs/design.md."""
    text = DESIGN.read_text()
    section = text[text.index("### Import rules") :]
    table = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        match = re.fullmatch(r"\|\s*`([\w.]+)`\s*\|(.*)\|", line.strip())
        if match:
            table[match.group(1)] = set(re.findall(r"`([\w.]+)`", match.group(2)))
    return table


def room_of(module: str, rooms: set[str]) -> str:
    """The longest room name that is ``module`` or a package above it."""
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in rooms:
            return ".".join(parts[:k])
    raise AssertionError(f"{module} belongs to no room of docs/design.md's import rules")


def test_the_table_is_read_and_names_every_room():
    table = allowed_table()
    assert {"heuristics", "devices", "solver.io", "solver.commands", "solver.cli"} <= set(table)
    for room, allowed in table.items():
        assert allowed <= set(table), f"{room} may import unknown rooms {allowed - set(table)}"
    rooms = set(table)
    # Every subpackage and top-level module of solver/ is a room of its own: a new one needs its row.
    solver_rooms = {".".join(m.split(".")[:2]) for m in module_names() if m.startswith("solver.")}
    assert not solver_rooms - rooms, f"rooms missing from docs/design.md's import rules: {sorted(solver_rooms - rooms)}"
    for room in rooms:
        assert any(room_of(m, rooms) == room for m in module_names()), f"room {room} holds no module"


def test_relative_and_absolute_imports_are_resolved(tmp_path):
    ours = {"p", "p.a", "p.b", "p.sub", "p.sub.c"}
    (tmp_path / "c.py").write_text(
        "from .. import a\nfrom ..b import thing\nimport p.sub.c.x\ndef f():\n    from p.sub import c\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import p.a\n"
    )
    assert imported_modules("p.sub.c", tmp_path / "c.py", ours) == {"p.a", "p.b"}


def test_no_import_circles():
    cycles = sorted(sorted(c) for c in nx.simple_cycles(import_graph()))
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_heuristics_and_devices_import_nothing_of_ours():
    graph = import_graph()
    bad = [
        f"{u} imports {v}"
        for u, v in graph.edges
        if u.split(".")[0] in ("heuristics", "devices") and v.split(".")[0] != u.split(".")[0]
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("room", sorted(allowed_table()))
def test_each_room_imports_only_the_rooms_it_may(room):
    table = allowed_table()
    rooms = set(table)
    bad = []
    for u, v in import_graph().edges:
        source, target = room_of(u, rooms), room_of(v, rooms)
        if source == room and target != room and target not in table[room]:
            bad.append(f"{u} imports {v} ({source} may import: {', '.join(sorted(table[room])) or 'nothing of ours'})")
    assert not bad, "\n".join(bad)


def test_no_command_imports_another():
    """Commands parse, call and print: what two commands share lives in the library or in a ``_`` helper module
    of solver/commands/, never in another command."""

    def is_command(module: str) -> bool:
        return module.startswith("solver.commands.") and not module.rpartition(".")[2].startswith("_")

    bad = [f"{u} imports {v}" for u, v in import_graph().edges if is_command(u) and is_command(v)]
    assert not bad, "\n".join(bad)
