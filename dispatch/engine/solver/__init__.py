"""Dispatch solver: VROOM builds the plan, OR-Tools repairs ride times, the checker gates.

Public entry point: `solve(problem, time_limit_s=..., seed=...) -> Plan`.
"""

from __future__ import annotations

from dispatch.engine.solver.orchestrate import solve

__all__ = ["solve"]
