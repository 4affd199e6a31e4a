"""The engine is pure Python (STYLE.md §7): no Django and none of our apps.

Only `dispatch.engine` itself may be imported from inside it; `dispatch.adapters` is the one
module that speaks both the ORM and the engine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
# Top-level packages the engine must not import: the framework and every app of ours
# (`dispatch` only outside `dispatch.engine`).
FORBIDDEN = {"django", "rest_framework", "channels", "celery"}
FORBIDDEN |= {"atmr", "bookings", "drivers", "dispatch", "realtime"}


def _modules_in(source: str, package: list[str]) -> set[str]:
    """Absolute names of every module `source` imports, relative imports resolved from
    `package` (the module's package, e.g. ["dispatch", "engine", "solver"])."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            if not node.module:  # `from . import x`: x may be a module
                names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _package_of(path: Path) -> list[str]:
    return ["dispatch", *path.relative_to(ENGINE.parent).parts[:-1]]


def _forbidden(name: str) -> bool:
    if name == "dispatch.engine" or name.startswith("dispatch.engine."):
        return False
    return name.split(".")[0] in FORBIDDEN


def test_engine_modules_exist() -> None:
    assert len(list(ENGINE.rglob("*.py"))) > 5


def test_no_engine_module_imports_django_or_our_apps() -> None:
    offenders = {
        str(path.relative_to(ENGINE)): sorted(
            n for n in _modules_in(path.read_text(), _package_of(path)) if _forbidden(n)
        )
        for path in ENGINE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("import django.db", True),
        ("from bookings.models import Booking", True),
        ("from dispatch import adapters", True),
        ("from dispatch.models import DispatchRun", True),
        ("from atmr.localtime import format_local", True),
        ("import realtime.events", True),
        ("from ..adapters import build_problem", True),  # written in dispatch/engine/x.py
        ("from .. import selectors", True),
        ("from dispatch.engine.geo import Location", False),
        ("from .geo import Location", False),
        ("import math", False),
    ],
)
def test_the_check_sees_each_way_of_importing(source: str, forbidden: bool) -> None:
    names = _modules_in(source, ["dispatch", "engine"])
    assert any(_forbidden(n) for n in names) is forbidden, names
