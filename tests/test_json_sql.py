"""PostgreSQL writing the bookings list's JSON (atmr/json_sql.py) answers exactly what the
Python path (atmr/row_shapes.py) answers: same bytes for every filter, page, order and caller,
and values formatted as orjson writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from atmr.json_sql import JsonRows, json_datetime, json_float
from atmr.row_shapes import iso_datetime
from bookings.models import Booking
from bookings.selectors import booking_list_build
from bookings.serializers import BOOKING_LIST
from tests.factories import BookingFactory, ClientFactory, DriverFactory, at
from tests.test_list_performance_contract import _varied_bookings

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="PostgreSQL writes the JSON"
)


def _written(to_json, sql_type: str, value: object) -> str:
    """`value` as PostgreSQL's JSON text for a column of `sql_type`."""
    sql = f"SELECT {to_json('v')} FROM (SELECT %s::{sql_type} AS v) AS t"  # noqa: S608 - ours
    with connection.cursor() as cursor:
        cursor.execute(sql, [value])
        return cursor.fetchone()[0]


FLOATS = [
    0.0,
    -0.0,
    46.0,
    -180.0,
    46.519653,
    6.632273,
    0.30000000000000004,
    179.99999999999997,
    0.0001,
    9.99e-05,
    2.5e-05,
    -3e-05,
    1e-05,
    9.9e-07,
    1.5e-06,
    1e-07,
    5e-324,
    123456789012345.0,
    1e15,
    1e15 + 0.5,
    4503599627370495.5,
    1e16,
    1.2345e22,
    1.5e300,
]


@postgres_only
@pytest.mark.parametrize("value", FLOATS)
def test_floats_are_written_as_orjson_writes_them(value):
    assert _written(json_float, "float8", value).encode() == orjson.dumps(value)


@postgres_only
def test_null_nan_and_infinities_are_null():
    for value in ["NaN", "Infinity", "-Infinity", None]:
        assert _written(json_float, "float8", value) == "null"


@postgres_only
@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 8, 0, 0, 120000, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 59, 59, 5, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        # Microseconds with zeros on either side of the digits: only all six zero are dropped.
        datetime(2026, 12, 1, 8, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 12, 1, 8, 0, 0, 100000, tzinfo=UTC),
        datetime(2026, 12, 1, 8, 0, 0, 10, tzinfo=UTC),
        datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC),
    ],
)
def test_datetimes_are_written_as_the_api_writes_them(value):
    assert (
        _written(json_datetime, "timestamptz", value)
        == orjson.dumps(iso_datetime(value, UTC)).decode()
    )


def _every_kind(company) -> Booking:
    """The contract's bookings, plus a will-call return, an urgent trip with an odd price and
    coordinates PostgreSQL writes differently (46.0, 1e-05), and another driver's trip."""
    _varied_bookings(company)
    outbound = Booking.objects.filter(company=company, status="assigned").get()
    returned = Booking.objects.get(return_of=outbound)
    Booking.objects.filter(pk=returned.pk).update(will_call=True, ready_link_version=3)
    other = DriverFactory(company=company)
    client = ClientFactory(company=company, last_name='Quote "double" \\ back\tslash\u2028')
    BookingFactory(
        company=company,
        client=client,
        driver=other,
        status="assigned",
        scheduled_at=at(14) + timedelta(microseconds=1),
        pickup_lat=46.0,
        pickup_lon=1e-05,
        price=Decimal("0.05"),
        urgent=True,
        lateness="at_risk",
        notes='"ready_link":!00000000-0000-0000-0000-000000000000.1!',
    )
    return outbound


QUERIES = [
    "date=2026-12-01",
    "date=2026-12-01&page_size=2",
    "date=2026-12-01&page_size=2&page=2",
    "date=2026-12-01&page_size=2&page=last&ordering=-scheduled_at",
    "date=2026-12-01&ordering=-scheduled_at",
    "date=2026-12-01&status=assigned&status=cancelled",
    "date=2026-12-01&status=pending",
    "status=assigned",
    "date=2026-12-01&cancel_code=Weather",
    "date=2026-12-01&cancelled_late=true",
    "date=2026-12-01&cancelled_late=false",
    "date=2026-12-01&late=true",
    "date=2026-12-01&late=false",
    "date=2026-12-01&will_call=all",
    "date=2026-12-01&will_call=waiting",
    "date=2026-12-01&will_call=released",
    "date=2026-12-02",
    "",
]


def _both_paths(client, url: str, monkeypatch) -> tuple[bytes, bytes, int]:
    """The page from PostgreSQL's JSON and from Python's rows, past the page cache."""
    with CaptureQueriesContext(connection) as queries:
        fast = client.get(url, HTTP_CACHE_CONTROL="no-cache")
    count = len(queries)  # the next request empties the log
    with monkeypatch.context() as patch:
        patch.setattr(JsonRows, "usable", staticmethod(lambda: False))
        slow = client.get(url, HTTP_CACHE_CONTROL="no-cache")
    assert fast.status_code == slow.status_code == 200, fast.content
    return fast.content, slow.content, count


@postgres_only
@pytest.mark.parametrize("query", QUERIES)
def test_postgresql_json_equals_the_python_rows_byte_for_byte(
    company, dispatcher_client, query, monkeypatch
):
    _every_kind(company)
    fast, slow, _ = _both_paths(dispatcher_client, f"/api/bookings?{query}", monkeypatch)
    assert fast == slow


@postgres_only
def test_the_reason_code_by_id_driver_and_client_filters_match(
    company, dispatcher_client, monkeypatch
):
    outbound = _every_kind(company)
    code = company.reason_codes.get(code="weather")
    for query in [
        f"cancel_code={code.id}",
        f"driver={outbound.driver_id}",
        f"client={outbound.client_id}&date=2026-12-01",
    ]:
        fast, slow, _ = _both_paths(dispatcher_client, f"/api/bookings?{query}", monkeypatch)
        assert fast == slow and orjson.loads(fast)["count"] >= 1


@postgres_only
def test_a_driver_sees_its_own_trips_without_ready_links(company, monkeypatch):
    from conftest import _client_for

    outbound = _every_kind(company)
    driver_client = _client_for(outbound.driver.user)
    fast, slow, _ = _both_paths(driver_client, "/api/bookings?date=2026-12-01", monkeypatch)
    assert fast == slow
    rows = orjson.loads(fast)["results"]
    assert {r["driver"]["id"] for r in rows} == {str(outbound.driver_id)}


@postgres_only
def test_ready_links_are_signed_in_python_and_no_text_can_forge_one(
    company, dispatcher_client, monkeypatch
):
    _every_kind(company)
    fast, slow, _ = _both_paths(dispatcher_client, "/api/bookings?date=2026-12-01", monkeypatch)
    assert fast == slow
    rows = orjson.loads(fast)["results"]
    links = [r["ready_link"] for r in rows if r["ready_link"]]
    assert len(links) == 1 and links[0].startswith("http://testserver/")
    forged = next(r for r in rows if r["notes"].startswith('"ready_link"'))
    assert forged["ready_link"] is None


@postgres_only
def test_one_query_for_a_single_page_two_for_more(company, dispatcher_client, monkeypatch):
    _every_kind(company)
    dispatcher_client.get("/api/bookings?date=2026-12-01")  # caches the company
    _, _, one = _both_paths(dispatcher_client, "/api/bookings?date=2026-12-01", monkeypatch)
    _, _, two = _both_paths(
        dispatcher_client, "/api/bookings?date=2026-12-01&page_size=2", monkeypatch
    )
    # page (one statement: rows, count and ids); + the count when another page exists
    assert (one, two) == (1, 2)


@postgres_only
def test_the_sql_is_compiled_once_per_shape(company, dispatcher_client):
    rows = JsonRows(BOOKING_LIST, booking_list_build)
    params = {"company_id": company.id, "statuses": ("pending",)}
    shape = (None, None, None, "scheduled_at")
    BookingFactory(company=company)
    assert rows.page(shape, params, offset=0, limit=10, keep=10)[0] == 1
    compiled = dict(rows._cache)
    other = {"company_id": company.id, "statuses": ("assigned",)}
    assert rows.page(shape, other, offset=0, limit=10, keep=10)[0] == 0
    assert rows._cache == compiled  # the same shape: the same SQL, other values


@postgres_only
def test_a_value_the_orm_writes_into_the_sql_is_refused(company):
    rows = JsonRows(BOOKING_LIST, lambda shape, p: Booking.objects.filter(company_id=company.id))
    with pytest.raises(ValueError, match="does not bind"):
        rows.page("s", {"company_id": company.id}, offset=0, limit=1, keep=1)
