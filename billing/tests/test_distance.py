"""The tariff distance: OSRM's route from a real osrm-routed on loopback (the synthetic test
map), and the straight line × 1.3, flagged, when OSRM does not answer."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from billing.services import trip_distance_km
from dispatch.engine.osrm import OsrmClient
from dispatch.engine.straight_line import road_distance_m
from dispatch.local_osrm.server import start_osrm
from dispatch.local_osrm.synthetic_map import TEST_MAP, land_points
from tests.factories import BookingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def osrm_url():
    try:
        server = start_osrm(map_spec=TEST_MAP, port=8151)
    except Exception as exc:  # a silently skipped OSRM test would hide a broken distance
        pytest.fail(f"cannot run the local osrm-routed: {type(exc).__name__}: {exc}", False)
    yield server.url
    server.stop()


def _booking(company):
    a, b = land_points(2, seed=14)
    return (
        BookingFactory(
            company=company,
            pickup_lat=a.lat,
            pickup_lon=a.lon,
            dropoff_lat=b.lat,
            dropoff_lon=b.lon,
        ),
        a,
        b,
    )


def test_the_tariff_distance_is_osrms_route(company, settings, osrm_url):
    settings.OSRM_URL = osrm_url
    booking, a, b = _booking(company)
    km, estimated = trip_distance_km(booking=booking)
    with OsrmClient(osrm_url) as client:
        _, metres = client.route(a, b)
    assert estimated is False
    assert km == (Decimal(round(metres)) / 1000).quantize(Decimal("0.1"), ROUND_HALF_UP)
    straight = (Decimal(road_distance_m(a, b)) / 1000).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert km != straight


def test_without_an_answer_from_osrm_it_is_the_straight_line_flagged(company, settings):
    settings.OSRM_URL = "http://127.0.0.1:8159"  # nothing listens there (our port range)
    settings.OSRM_TIMEOUT_S = 0.5
    booking, a, b = _booking(company)
    km, estimated = trip_distance_km(booking=booking)
    assert estimated is True
    assert km == (Decimal(road_distance_m(a, b)) / 1000).quantize(Decimal("0.1"), ROUND_HALF_UP)
