"""Small builders for engine tests: points on a plane become an integer travel matrix."""

from __future__ import annotations

import math

from dispatch.engine.geo import TravelMatrix


def euclid_matrix(points: list[tuple[float, float]], speed: float = 1.0) -> TravelMatrix:
    """Durations are rounded-up straight-line seconds at `speed`; distances are metres."""
    durations = [[math.ceil(math.dist(a, b) / speed) for b in points] for a in points]
    distances = [[math.ceil(math.dist(a, b)) for b in points] for a in points]
    return TravelMatrix(durations, distances)


def line_matrix(n: int, step: int = 100) -> TravelMatrix:
    """Locations 0..n-1 on a line, `step` seconds and 10*step metres apart."""
    durations = [[abs(i - j) * step for j in range(n)] for i in range(n)]
    distances = [[abs(i - j) * step * 10 for j in range(n)] for i in range(n)]
    return TravelMatrix(durations, distances)
