"""Shared value types between the travel-time providers and the solver."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """A WGS84 point in degrees."""

    lat: float
    lon: float


@dataclass(frozen=True)
class TravelMatrix:
    """Square travel matrix over a list of locations.

    `durations[i][j]` is seconds and `distances[i][j]` metres from location i to j, both ints.
    The lists are never mutated after construction (they stay lists for speed).
    `fallback_cells` counts the off-diagonal cells that came from the straight-line estimate
    instead of OSRM, so a run can report how much of its plan rests on estimates.
    """

    durations: list[list[int]]
    distances: list[list[int]]
    fallback_cells: int = 0

    @property
    def size(self) -> int:
        return len(self.durations)

    @property
    def fallback_share(self) -> float:
        cells = self.size * (self.size - 1)
        return self.fallback_cells / cells if cells else 0.0
