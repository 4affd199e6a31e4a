"""The simulator's legs over a real osrm-routed (the synthetic test map): the road's geometry,
and straight lines where OSRM fails or is not configured."""

from __future__ import annotations

import itertools

import pytest

from dispatch.engine.osrm import OsrmClient
from dispatch.engine.straight_line import estimate, haversine_m
from dispatch.local_osrm.fault_proxy import Fault, FaultProxy, Mode
from dispatch.simulator import LegRouter


def test_route_path_follows_the_roads(osrm_server, make_points):
    a, b = make_points(2, seed=3)
    with OsrmClient(osrm_server, timeout_s=30.0) as osrm:
        seconds, metres, points = osrm.route_path(a, b)
        plain_seconds, _ = osrm.route(a, b)

    assert seconds == pytest.approx(plain_seconds)
    assert len(points) > 2
    along = sum(haversine_m(p, q) for p, q in itertools.pairwise(points))
    assert along == pytest.approx(metres, rel=0.05)
    assert along > haversine_m(a, b)
    assert haversine_m(points[0], a) < 2_000 and haversine_m(points[-1], b) < 2_000


def test_legs_use_osrm_and_ask_each_pair_once(fault_proxy: FaultProxy, make_points):
    a, b = make_points(2, seed=4)
    routes = LegRouter(fault_proxy.url, 30.0)

    leg = routes(a, b)
    assert routes(a, b) is leg

    assert len(fault_proxy.requests) == 1
    assert leg.path[0] == a and leg.path[-1] == b and len(leg.path) > 3
    assert routes.fallbacks == 0


def test_legs_fall_back_to_straight_lines(fault_proxy: FaultProxy, make_points):
    a, b = make_points(2, seed=5)
    fault_proxy.set_fault(Fault(Mode.STATUS, status=503))
    routes = LegRouter(fault_proxy.url, 30.0)

    leg = routes(a, b)

    assert leg.path == (a, b) and leg.seconds == estimate(a, b)[0]
    assert routes.fallbacks == 1
    assert LegRouter("", 1.0)(a, b) == leg  # no OSRM_URL: straight lines
