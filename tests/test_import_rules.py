"""The house's import rules, read from the source (docs/architecture.md, "Who may import whom").

- no room imports `pbxbridge` (the root wires the rooms, never the other way);
- `primitives` (the ground floor) imports no room;
- the rooms' import graph has no cycle.

Every import counts: at module level, inside functions, under `if TYPE_CHECKING:`, relative
ones resolved against their package. A room is any top-level folder with an `__init__.py`
(but the root, tests, benches and scripts), so a new room is checked the day it lands.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT_DIR = Path(__file__).resolve().parent.parent
ROOT = "pbxbridge"
GROUND = "primitives"
NOT_ROOMS = frozenset({ROOT, "tests", "bench", "scripts"})


@dataclass(frozen=True)
class Edge:
    """One import of `target` (a top-level package) written in `path` at `line`."""

    source: str
    target: str
    path: Path
    line: int

    def where(self, base: Path) -> str:
        return f"{self.path.relative_to(base)}:{self.line}"


def rooms_of(base: Path) -> list[str]:
    return sorted(
        d.name
        for d in base.iterdir()
        if d.is_dir() and (d / "__init__.py").is_file() and d.name not in NOT_ROOMS
    )


def _module_of(path: Path, base: Path) -> list[str]:
    parts = list(path.relative_to(base).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(node: ast.AST, module: list[str], is_package: bool) -> Iterator[str]:
    """The top-level package names one import statement reaches."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name.split(".")[0]
    elif isinstance(node, ast.ImportFrom):
        if node.level == 0:
            if node.module:
                yield node.module.split(".")[0]
            return
        package = module if is_package else module[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        yield anchor[0] if anchor else "<beyond the top level>"


def edges_of(base: Path, rooms: list[str]) -> list[Edge]:
    """Every import from a room of another top-level package of this tree (the root, a room)."""
    known = {*rooms, ROOT}
    edges = []
    for source in rooms:
        for path in sorted((base / source).rglob("*.py")):
            module = _module_of(path, base)
            is_package = path.name == "__init__.py"
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                for target in _imported(node, module, is_package):
                    if target != source and (target in known or target.startswith("<")):
                        edges.append(Edge(source, target, path, getattr(node, "lineno", 0)))
    return edges


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def violations(base: Path) -> list[str]:
    """What breaks the rules in the tree at `base`, one line each (empty: the house holds)."""
    rooms = rooms_of(base)
    edges = edges_of(base, rooms)
    problems = [
        f"{e.where(base)}: {e.source} has a relative import above the top level"
        for e in edges
        if e.target.startswith("<")
    ]
    room_edges = [e for e in edges if not e.target.startswith("<")]
    problems += [
        f"{e.where(base)}: room {e.source} imports the root {ROOT}"
        for e in room_edges
        if e.target == ROOT
    ]
    problems += [
        f"{e.where(base)}: the ground floor {GROUND} imports the room {e.target}"
        for e in room_edges
        if e.source == GROUND and e.target != ROOT
    ]
    first = {(e.source, e.target): e for e in reversed(room_edges)}  # the first of each pair
    cycle = find_cycle(_graph(rooms, room_edges))
    if cycle:
        steps = [f"{a} -> {b} ({first[a, b].where(base)})" for a, b in itertools.pairwise(cycle)]
        problems.append(
            "import cycle between rooms: " + " -> ".join(cycle) + ": " + "; ".join(steps)
        )
    return problems


def _graph(rooms: list[str], edges: list[Edge]) -> dict[str, set[str]]:
    """room -> the rooms it imports (the root and the room itself left out)."""
    graph: dict[str, set[str]] = {room: set() for room in rooms}
    for e in edges:
        if e.target in graph:
            graph[e.source].add(e.target)
    return graph


def room_graph(base: Path) -> dict[str, set[str]]:
    rooms = rooms_of(base)
    return _graph(rooms, edges_of(base, rooms))


# --- the project ----------------------------------------------------------------------------


def test_the_project_keeps_the_import_rules() -> None:
    problems = violations(ROOT_DIR)
    assert not problems, "the import rules are broken:\n" + "\n".join(problems)


def test_rooms_are_found_without_a_list() -> None:
    rooms = rooms_of(ROOT_DIR)
    assert GROUND in rooms
    assert {"agi", "storage", "web"} <= set(rooms)
    assert not NOT_ROOMS & set(rooms)


# --- the checker itself, on small trees made for it -----------------------------------------


def _tree(base: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in ("pbxbridge", "primitives", "tests", "bench"):
        (base / package).mkdir(exist_ok=True)
        (base / package / "__init__.py").touch()
    return base


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    base = _tree(
        tmp_path,
        {
            "alpha/__init__.py": "from primitives import clock\nfrom . import beta_user\n",
            "alpha/beta_user.py": "import beta.x\n",
            "beta/__init__.py": "",
            "beta/x.py": "from primitives.clock import Clock\n",
            "pbxbridge/app.py": "import alpha\nimport beta\n",
            "tests/test_x.py": "import pbxbridge\n",  # tests are no room
            "docs/x.py": "import pbxbridge\n",  # no __init__.py: no room
        },
    )
    assert violations(base) == []
    assert room_graph(base) == {
        "alpha": {"beta", "primitives"},
        "beta": {"primitives"},
        "primitives": set(),
    }


BROKEN: dict[str, tuple[dict[str, str], str]] = {
    "a room imports the root, inside a function": (
        {
            "alpha/__init__.py": "",
            "alpha/late.py": "def f() -> None:\n    from pbxbridge.settings import Settings\n",
        },
        "alpha/late.py:2: room alpha imports the root pbxbridge",
    ),
    "the ground floor imports a room, for type checking": (
        {
            "alpha/__init__.py": "",
            "primitives/kinds.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import alpha.x\n"
            ),
        },
        "primitives/kinds.py:3: the ground floor primitives imports the room alpha",
    ),
    "a cycle of three rooms, one edge inside a function": (
        {
            "alpha/__init__.py": "from beta import x\n",
            "beta/__init__.py": "",
            "beta/x.py": "import gamma\n",
            "gamma/__init__.py": "",
            "gamma/sub/__init__.py": "",
            "gamma/sub/y.py": "from .. import w\n\n\ndef f() -> None:\n    import alpha.z\n",
        },
        "import cycle between rooms: alpha -> beta -> gamma -> alpha: "
        "alpha -> beta (alpha/__init__.py:1); beta -> gamma (beta/x.py:1); "
        "gamma -> alpha (gamma/sub/y.py:5)",
    ),
    "a relative import above the top level": (
        {"alpha/__init__.py": "from .. import beta\n"},
        "alpha/__init__.py:1: alpha has a relative import above the top level",
    ),
}


@pytest.mark.parametrize(("files", "reported"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_rule_is_reported(tmp_path: Path, files: dict[str, str], reported: str) -> None:
    assert violations(_tree(tmp_path, files)) == [reported]
