"""Loaders for the public PDPTW/DARP benchmark formats into engine Problems.

Coordinates are Euclidean in the files; times and distances there are unrounded floats.
The engine wants integers, so every time and distance is multiplied by SCALE and rounded:
at 1000 the rounding error per leg is 0.0005 units, far below the BKS precision. Reported
distances are recomputed in the original unit from the coordinates.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from dispatch.engine.geo import TravelMatrix
from dispatch.engine.problem import Problem, Request, Vehicle

SCALE = 1000


@dataclass(frozen=True)
class Instance:
    name: str
    problem: Problem
    points: tuple[tuple[float, float], ...]  # per matrix index, original unit
    max_ride: float | None  # DARP's L in original unit, for the float re-check


@dataclass(frozen=True)
class Bks:
    vehicles: int
    distance: float


def _matrix(points: list[tuple[float, float]]) -> TravelMatrix:
    cells = [[round(math.dist(a, b) * SCALE) for b in points] for a in points]
    return TravelMatrix(cells, [row[:] for row in cells])


def _rows(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def load_lilim(path: Path) -> Instance:
    """Li & Lim: `K Q speed`, then `id x y demand early late service pickup delivery`."""
    header, *rows = _rows(path)
    count, capacity = int(header[0]), int(header[1])
    nodes = {int(r[0]): r for r in rows}
    points = [(float(nodes[i][1]), float(nodes[i][2])) for i in range(len(nodes))]
    depot = nodes[0]
    requests = []
    for i, r in nodes.items():
        if i == 0 or int(r[7]) != 0:
            continue  # depot or a delivery node (it names its pickup sibling)
        d = nodes[int(r[8])]
        requests.append(
            Request(
                f"{i}", i, int(r[8]),
                int(r[4]) * SCALE, int(r[5]) * SCALE,
                dropoff_earliest=int(d[4]) * SCALE, dropoff_latest=int(d[5]) * SCALE,
                pickup_service=int(r[6]) * SCALE, dropoff_service=int(d[6]) * SCALE,
                seats=int(r[3]),
            )
        )  # fmt: skip
    vehicles = tuple(
        Vehicle(f"k{k}", 0, int(depot[4]) * SCALE, int(depot[5]) * SCALE, capacity, end=0)
        for k in range(count)
    )
    problem = Problem(tuple(requests), vehicles, _matrix(points))
    return Instance(path.stem, problem, tuple(points), None)


def load_cordeau(path: Path) -> Instance:
    """Cordeau DARP: `m n T Q L`, then `id x y service load early late`.

    Some files say 2n in the header; the row count (2n + 2 nodes) is the truth.
    The depot window is [0, T] (route duration <= T follows from it).
    """
    header, *rows = _rows(path)
    count, horizon, capacity, ride = (
        int(header[0]),
        float(header[2]),
        int(header[3]),
        float(header[4]),
    )
    n = (len(rows) - 2) // 2
    points = [(float(r[1]), float(r[2])) for r in rows]

    def minutes(value: str) -> int:
        return round(float(value) * SCALE)

    requests = tuple(
        Request(
            f"{i}", i, n + i,
            minutes(rows[i][5]), minutes(rows[i][6]),
            dropoff_earliest=minutes(rows[n + i][5]), dropoff_latest=minutes(rows[n + i][6]),
            pickup_service=minutes(rows[i][3]), dropoff_service=minutes(rows[n + i][3]),
            seats=int(rows[i][4]), max_ride=round(ride * SCALE),
        )
        for i in range(1, n + 1)
    )  # fmt: skip
    shift_end = round(horizon * SCALE)
    vehicles = tuple(
        Vehicle(f"k{k}", 0, 0, shift_end, capacity, end=2 * n + 1) for k in range(count)
    )
    problem = Problem(requests, vehicles, _matrix(points))
    return Instance(path.stem, problem, tuple(points), ride)


def load_bks(path: Path) -> dict[str, Bks]:
    with path.open() as handle:
        return {
            row["instance"].lower(): Bks(int(row["vehicles"]), float(row["distance"]))
            for row in csv.DictReader(handle)
        }
