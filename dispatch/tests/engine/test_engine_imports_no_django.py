"""The engine must stay importable without Django (STYLE.md §7)."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_engine_modules_exist() -> None:
    assert len(list(ENGINE.rglob("*.py"))) > 5


def test_no_engine_module_imports_django() -> None:
    offenders = {
        str(path.relative_to(ENGINE)): sorted(
            n for n in _imported_modules(path) if n.split(".")[0] == "django"
        )
        for path in ENGINE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
