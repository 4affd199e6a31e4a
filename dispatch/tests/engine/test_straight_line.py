from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from dispatch.engine.geo import Location
from dispatch.engine.straight_line import (
    DETOUR_FACTOR,
    SPEED_BANDS,
    duration_for_road_distance_s,
    estimate,
    estimate_matrix,
    haversine_m,
)
from dispatch.engine.travel import StraightLineProvider

LAUSANNE = Location(46.5197, 6.6323)
GENEVA = Location(46.2044, 6.1432)
MORGES = Location(46.5107, 6.4981)

lats = st.floats(min_value=46.0, max_value=46.7, allow_nan=False)
lons = st.floats(min_value=5.9, max_value=7.0, allow_nan=False)
locations = st.builds(Location, lats, lons)


def test_haversine_lausanne_geneva_is_about_51_km() -> None:
    assert 50_000 < haversine_m(LAUSANNE, GENEVA) < 52_500


def test_lausanne_to_geneva_takes_40_to_70_minutes_over_about_60_km() -> None:
    seconds, metres = estimate(LAUSANNE, GENEVA)
    assert 40 * 60 <= seconds <= 70 * 60
    assert 55_000 <= metres <= 75_000


def test_short_town_trip_is_slow_and_long_trip_is_fast() -> None:
    town = duration_for_road_distance_s(2_000)
    assert 2_000 / town * 3.6 < 35  # km/h through town
    motorway = duration_for_road_distance_s(100_000)
    assert 70 < 100_000 / motorway * 3.6 < 100


def test_estimate_is_continuous_at_band_edges() -> None:
    for upper, _ in SPEED_BANDS[:-1]:
        below, above = (
            duration_for_road_distance_s(upper - 1),
            duration_for_road_distance_s(upper + 1),
        )
        assert 0 < above - below < 1  # no jump: 2 m take well under a second


@given(locations, locations)
def test_estimate_is_symmetric(a: Location, b: Location) -> None:
    assert estimate(a, b) == estimate(b, a)


@given(locations)
def test_estimate_to_self_is_zero(a: Location) -> None:
    assert estimate(a, a) == (0, 0)


@given(st.floats(0, 300_000), st.floats(0, 300_000))
def test_duration_is_monotone_in_distance(d1: float, d2: float) -> None:
    short, long = sorted((d1, d2))
    assert duration_for_road_distance_s(short) <= duration_for_road_distance_s(long)


@given(locations, locations)
def test_road_distance_is_haversine_times_detour(a: Location, b: Location) -> None:
    assert math.isclose(estimate(a, b)[1], haversine_m(a, b) * DETOUR_FACTOR, abs_tol=0.5)


def test_matrix_has_zero_diagonal_and_is_symmetric() -> None:
    points = [LAUSANNE, GENEVA, MORGES, Location(46.38, 6.24)]
    m = estimate_matrix(points)
    for i in range(4):
        assert m.durations[i][i] == m.distances[i][i] == 0
        for j in range(4):
            assert m.durations[i][j] == m.durations[j][i]
            assert (m.durations[i][j], m.distances[i][j]) == (
                estimate(points[i], points[j]) if i != j else (0, 0)
            )


def test_nearer_place_is_quicker() -> None:
    m = StraightLineProvider().matrix([LAUSANNE, MORGES, GENEVA])
    assert 0 < m.durations[0][1] < m.durations[0][2]


def test_straight_line_provider_counts_every_cell_as_estimate() -> None:
    m = StraightLineProvider().matrix([LAUSANNE, MORGES, GENEVA])
    assert m.fallback_cells == 6
    assert m.fallback_share == 1.0
