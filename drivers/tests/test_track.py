"""GET /api/drivers/{id}/track: a driver's fixes of a local day, written from rows without
model instances, byte for byte what the serializer over instances writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_orjson_renderer.renderers import ORJSONRenderer

from drivers.locations import DriverBatch, Position, location_batches_store, location_list
from drivers.serializers import LOCATION_TRACK, DriverLocationOutputSerializer
from tests.factories import DriverFactory

pytestmark = pytest.mark.django_db

# The company's day 30 Nov in Zurich: 29 Nov 23:00 UTC to 30 Nov 23:00 UTC (two UTC days).
LOCAL_START = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
LOCAL_END = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
# Values whose text differs between PostgreSQL and orjson (46 / 46.0, 1e-05 / 0.00001, 1e-07)
# or that are missing, and times with and without microseconds.
FIXES = [
    Position(46.0, 6.6, LOCAL_START, speed=1e-7, heading=0.0, accuracy=None),
    Position(-0.00001, 179.99999, LOCAL_START + timedelta(hours=5), 12.5, 359.9, 8.0),
    Position(46.51234567891, 6.63, LOCAL_START + timedelta(hours=9, microseconds=120_000)),
    Position(46.5, -6.6, LOCAL_END - timedelta(microseconds=1), 1e16, 1e-5, 123456789.125),
]
OUTSIDE = [LOCAL_START - timedelta(microseconds=1), LOCAL_END]  # the days either side


@pytest.fixture
def track(company, driver):
    other = DriverFactory(company=company)
    everything = [*FIXES, *(Position(46.5, 6.6, at) for at in OUTSIDE)]
    location_batches_store(
        batches=[
            DriverBatch(str(company.id), str(driver.id), everything),
            DriverBatch(str(company.id), str(other.id), FIXES),  # interleaved with another
        ]
    )
    return driver


def _serializer_bytes(driver) -> bytes:
    """The old way: model instances through the output serializer, rendered by the API's
    renderer."""
    fixes = location_list(
        company_id=driver.company_id,
        driver_id=driver.id,
        recorded_from=LOCAL_START,
        recorded_before=LOCAL_END,
    )
    return ORJSONRenderer().render(DriverLocationOutputSerializer(fixes, many=True).data)


def test_the_track_is_the_serializers_output_byte_for_byte(track, dispatcher_client):
    with CaptureQueriesContext(connection) as queries:
        response = dispatcher_client.get(f"/api/drivers/{track.id}/track?day=2026-11-30")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == _serializer_bytes(track)
    fixes = orjson.loads(response.content)
    assert [f["recorded_at"] for f in fixes] == [
        "2026-11-29T23:00:00Z",
        "2026-11-30T04:00:00Z",
        "2026-11-30T08:00:00.120000Z",
        "2026-11-30T22:59:59.999999Z",
    ]
    assert list(fixes[0]) == ["recorded_at", "lat", "lon", "speed", "heading", "accuracy"]
    assert fixes[0]["speed"] == 1e-7 and fixes[0]["accuracy"] is None
    track_queries = [q["sql"] for q in queries if "drivers_driverlocation" in q["sql"]]
    assert len(track_queries) == 1  # one query for the day, whatever its number of fixes


def test_the_rows_path_writes_the_same_bytes(track):
    # The selector's own call, without the view (the API's zone, UTC, as in production).
    rows = location_list(
        company_id=track.company_id,
        driver_id=track.id,
        recorded_from=LOCAL_START,
        recorded_before=LOCAL_END,
    )
    assert orjson.dumps(LOCATION_TRACK.data(rows)) == _serializer_bytes(track)


def test_a_day_without_fixes_is_an_empty_list(track, dispatcher_client):
    response = dispatcher_client.get(f"/api/drivers/{track.id}/track?day=2026-11-28")
    assert response.status_code == 200 and response.content == b"[]"


def test_a_driver_reads_its_own_track_only(track, company, driver_client, client_for):
    assert driver_client.get(f"/api/drivers/{track.id}/track?day=2026-11-30").status_code == 200
    colleague = client_for(DriverFactory(company=company).user)
    response = colleague.get(f"/api/drivers/{track.id}/track?day=2026-11-30")
    assert response.status_code == 404


def test_another_companys_driver_is_404(track, other_dispatcher_client):
    response = other_dispatcher_client.get(f"/api/drivers/{track.id}/track?day=2026-11-30")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "query", ["", "?day=", "?day=2026-13-01", "?day=30.11.2026", "?day=1900-01-01"]
)
def test_a_bad_day_is_400_naming_it(track, dispatcher_client, query):
    response = dispatcher_client.get(f"/api/drivers/{track.id}/track{query}")
    assert response.status_code == 400
    assert "day" in response.json(), response.json()
