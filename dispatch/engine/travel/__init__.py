"""Travel-time layer: who answers "how long from A to B" for the solver.

`MatrixProvider` is the protocol the solver depends on. `OsrmMatrixProvider` asks OSRM with
block splitting, a shared per-cell cache, a shared circuit breaker and per-block fallback to
`StraightLineProvider`'s estimate. State (cache, breaker) lives in a `KeyValueStore`: pass
Django's cache from the Django side, or let it default to an in-process store.
"""

from __future__ import annotations

from dispatch.engine.travel.breaker import BreakerState, CircuitBreaker
from dispatch.engine.travel.providers import (
    MatrixProvider,
    OsrmMatrixProvider,
    StraightLineProvider,
)

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "MatrixProvider",
    "OsrmMatrixProvider",
    "StraightLineProvider",
]
