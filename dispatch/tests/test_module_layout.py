"""How the dispatch modules depend on each other: no import cycles, not even lazy ones.

services -> tasks -> execution -> run_effects; services -> execution; the task imports the
execution module, never the services (issue 10: the services <-> tasks cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = ["dispatch", *path.relative_to(APP).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _dispatch_imports(path: Path, known: set[str]) -> set[str]:
    """Modules of `known` that `path` imports anywhere (top level or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def _graph() -> dict[str, set[str]]:
    paths = [p for p in APP.rglob("*.py") if "tests" not in p.parts and "migrations" not in p.parts]
    known = {_module_name(p) for p in paths}
    graph = {_module_name(p): _dispatch_imports(p, known) for p in paths}
    for module in graph:  # a package's __init__ is not a dependency of its own modules
        graph[module] = {d for d in graph[module] if not module.startswith(f"{d}.")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module], _ = 1, path.append(module)
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        state[module], _ = 2, path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_dispatch_modules_have_no_import_cycle() -> None:
    assert _cycle(_graph()) is None


def test_the_task_runs_execution_and_services_only_enqueue() -> None:
    graph = _graph()
    assert "dispatch.execution" in graph["dispatch.tasks"]
    assert "dispatch.services" not in graph["dispatch.tasks"]
    assert "dispatch.services" not in graph["dispatch.execution"]


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
