"""Straight-line travel estimate: the fallback when OSRM cannot answer.

road distance = great-circle distance x DETOUR_FACTOR
duration      = road distance driven through SPEED_BANDS, like tax brackets: the first 3 km
                at urban speed, the next 12 km at suburban speed, the rest at highway speed.

Why brackets and not "one speed per trip length": a single speed chosen by total length jumps
at the band edges (a 3.1 km trip would be faster than a 2.9 km one), which breaks the
triangle-ish sanity the solver relies on. Brackets keep the estimate continuous and strictly
increasing in distance, and the average speed still rises with trip length as it does on
real roads (town streets, then cantonal roads, then the A1).

The constants are the single source of truth for estimates anywhere in the engine. They were
set for the Lausanne-Geneva area and err slightly slow, because a late pick-up for a patient
costs more than an idle driver: Lausanne to Geneva (51 km as the crow flies) gives 66 km in
about 56 minutes, against 62-65 km and 45-55 minutes by car outside rush hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dispatch.engine.geo import Location, TravelMatrix

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)

# Road distance / great-circle distance. Measured median on Swiss lowland roads is about
# 1.25-1.4; the lake shore and hills push it up, so the estimate uses the upper-middle.
DETOUR_FACTOR = 1.3

# (upper bound of the band in road metres, speed in km/h within that band)
SPEED_BANDS: tuple[tuple[float, float], ...] = (
    (3_000.0, 25.0),  # town centre: lights, crossings, 30 zones
    (15_000.0, 50.0),  # suburbs and cantonal roads
    (
        math.inf,
        90.0,
    ),  # motorway-dominated long trips (120 limit, minus access and traffic)
)


def haversine_m(a: Location, b: Location) -> float:
    """Great-circle distance in metres."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def road_distance_m(a: Location, b: Location) -> float:
    return haversine_m(a, b) * DETOUR_FACTOR


def duration_for_road_distance_s(metres: float) -> float:
    """Seconds to drive `metres` through the speed brackets (continuous, increasing)."""
    seconds, lower = 0.0, 0.0
    for upper, kmh in SPEED_BANDS:
        if metres <= lower:
            break
        seconds += (min(metres, upper) - lower) / (kmh / 3.6)
        lower = upper
    return seconds


def estimate(a: Location, b: Location) -> tuple[int, int]:
    """(seconds, metres) from a to b, rounded to whole units; symmetric; 0 for a == b."""
    metres = road_distance_m(a, b)
    return round(duration_for_road_distance_s(metres)), round(metres)


def estimate_matrix(locations: Sequence[Location]) -> TravelMatrix:
    """Full straight-line matrix; every off-diagonal cell is an estimate and counted so."""
    n = len(locations)
    durations = [[0] * n for _ in range(n)]
    distances = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            seconds, metres = estimate(locations[i], locations[j])
            durations[i][j] = durations[j][i] = seconds
            distances[i][j] = distances[j][i] = metres
    return TravelMatrix(durations, distances, n * (n - 1))
