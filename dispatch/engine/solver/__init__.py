"""Dispatch solver: VROOM builds the plan, OR-Tools repairs ride times, the checker gates.

Public entry point: `solve(problem, time_limit_s=..., seed=...) -> Plan`. It is imported on
first use: the stage helpers (`common`, `ride_insertion`) serve insertion proposals in web
workers, which should not carry VROOM and OR-Tools (about 100 MB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dispatch.engine.solver.orchestrate import solve

__all__ = ["solve"]


def __getattr__(name: str) -> Any:
    if name == "solve":
        from dispatch.engine.solver.orchestrate import solve

        return solve
    raise AttributeError(name)
