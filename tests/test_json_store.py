"""The bookings list's rows kept as JSON by PostgreSQL's triggers (atmr/json_store.py): every
kind of write leaves each stored row equal to what the row's values write now, a change to
something no row shows re-writes nothing, and a page reads the store only when it is this
code's."""

# ruff: noqa: S608 - the store's own table name
from __future__ import annotations

import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Booking, Client
from bookings.serializers import BOOKING_JSON_ROWS
from bookings.tasks import audit_list_json
from drivers.models import Driver
from tests.factories import BookingFactory, ClientFactory, DriverFactory, at
from tests.test_json_sql import QUERIES, _both_paths, _every_kind

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's triggers"),
]
STORE = BOOKING_JSON_ROWS.store
assert STORE is not None


def _stored() -> dict[str, tuple[str, int]]:
    """Each stored row: its JSON and the transaction that wrote it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT row_id::text, json, xmin::text::bigint FROM {STORE.table}")
        return {row_id: (text, xmin) for row_id, text, xmin in cursor.fetchall()}


def _fresh() -> None:
    assert STORE.stale() == []
    assert set(_stored()) == {str(pk) for pk in Booking.objects.values_list("pk", flat=True)}


@pytest.fixture
def trips(company):
    outbound = _every_kind(company)
    _fresh()
    return outbound


def test_the_store_is_installed_by_migrate_and_ready(company):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {STORE.valid_sql}")
        assert cursor.fetchone() == (True,)
    assert STORE.install() is False  # the same digest: nothing to do
    BookingFactory(company=company)
    assert STORE.install(force=True) is True
    _fresh()


def test_booking_writes_keep_their_rows(trips, company):
    trips.status = "on_board"
    trips.save()
    Booking.objects.filter(company=company).update(notes="Gate B \u00e9")
    rows = list(Booking.objects.filter(company=company))
    for i, row in enumerate(rows):  # an ETA refresh: one statement for many rows
        row.eta_pickup = at(9) + timedelta(minutes=i, microseconds=i)
        row.lateness = "late"
    Booking.objects.bulk_update(rows, ["eta_pickup", "lateness"])
    _fresh()
    assert all("Gate B" in text for text, _ in _stored().values())


def test_a_return_trip_shows_on_its_outbound_as_it_comes_and_goes(trips, company):
    lone = BookingFactory(company=company, scheduled_at=at(8))
    back = BookingFactory(company=company, return_of=lone, scheduled_at=at(15))
    _fresh()
    assert f'"return_trip":"{back.pk}"' in _stored()[str(lone.pk)][0]
    Booking.objects.filter(return_of=trips).delete()  # frees the first outbound
    back.return_of = trips
    back.save()  # moves from `lone` to `trips`
    _fresh()
    assert '"return_trip":null' in _stored()[str(lone.pk)][0]
    assert f'"return_trip":"{back.pk}"' in _stored()[str(trips.pk)][0]
    back.delete()
    _fresh()
    assert '"return_trip":null' in _stored()[str(trips.pk)][0]


def test_related_rows_re_write_only_what_shows_them(trips, company):
    before = _stored()
    driver = trips.driver
    # Nothing a row shows: the driver's position and the user's log-in.
    Driver.objects.filter(pk=driver.pk).update(last_lat=46.5, last_lon=6.6)
    driver.user.last_login = at(7)
    driver.user.save()
    assert _stored() == before
    driver.user.first_name = "Zoë"
    driver.user.save()
    after = _stored()
    changed = {pk for pk in after if after[pk] != before[pk]}
    assert changed == {
        str(pk) for pk in Booking.objects.filter(driver=driver).values_list("pk", flat=True)
    }
    assert all('"first_name":"Zoë"' in after[pk][0] for pk in changed)
    _fresh()


def test_every_related_table_keeps_the_rows(trips, company):
    trips.client.last_name = 'O\'Brien "Jr"'
    trips.client.save()
    trips.driver.phone = "+41 79 000 00 00"
    trips.driver.save()
    trips.vehicle.plate = "VD 1234"
    trips.vehicle.save()
    code = company.reason_codes.get(code="weather")
    code.label = "Schnee"
    code.save()
    _fresh()
    other = DriverFactory(company=company)
    Booking.objects.filter(driver=trips.driver).update(driver=other, vehicle=None)
    trips.driver.delete()
    _fresh()


def test_deletes_and_truncate_empty_the_store(trips, company):
    Booking.objects.filter(return_of__isnull=False).delete()
    Booking.objects.filter(company=company, status="cancelled").delete()
    _fresh()
    with connection.cursor() as cursor:  # (the test's transaction holds deferred FK checks)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE bookings_booking CASCADE")
    assert _stored() == {}


def test_pages_read_the_store_only_when_it_is_this_codes(trips, company, dispatcher_client):
    url = "/api/bookings?date=2026-12-01"
    with connection.cursor() as cursor:  # a mark only the store holds
        cursor.execute(
            f'UPDATE {STORE.table} SET json = replace(json, \'"notes":"\', \'"notes":"stored \')'
        )
    page = dispatcher_client.get(url, HTTP_CACHE_CONTROL="no-cache")
    assert b'"notes":"stored ' in page.content
    with connection.cursor() as cursor:
        cursor.execute(f"COMMENT ON TABLE {STORE.table} IS 'atmr-json:older'")
    with CaptureQueriesContext(connection) as queries:
        page = dispatcher_client.get(url, HTTP_CACHE_CONTROL="no-cache")
    assert page.status_code == 200 and b'"notes":"stored ' not in page.content
    assert len(queries) == 2  # the stored rows refused, then the page written per read


def test_a_row_missing_from_the_store_is_written_per_read(
    trips, company, dispatcher_client, monkeypatch
):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {STORE.table} WHERE row_id = %s", [trips.pk])
    assert STORE.stale() == [str(trips.pk)]
    for query in QUERIES[:3]:
        fast, slow, _ = _both_paths(dispatcher_client, f"/api/bookings?{query}", monkeypatch)
        assert fast == slow


def test_without_the_store_the_json_is_written_per_read(trips, dispatcher_client, monkeypatch):
    monkeypatch.setattr(BOOKING_JSON_ROWS, "store", None)
    monkeypatch.setattr(BOOKING_JSON_ROWS, "_cache", {})
    for query in QUERIES:
        fast, slow, _ = _both_paths(dispatcher_client, f"/api/bookings?{query}", monkeypatch)
        assert fast == slow, query


def test_another_companys_rows_are_not_joined(trips, company, other_company, dispatcher_client):
    ClientFactory(company=other_company)
    BookingFactory(company=other_company, scheduled_at=at(9))
    _fresh()
    page = dispatcher_client.get("/api/bookings?date=2026-12-01", HTTP_CACHE_CONTROL="no-cache")
    ids = {row["id"] for row in page.json()["results"]}
    ours = {str(pk) for pk in Booking.objects.filter(company=company).values_list("pk", flat=True)}
    assert ids and ids <= ours


def test_the_check_command_finds_and_repairs_a_stale_row(trips):
    out = StringIO()
    call_command("booking_list_json_check", stdout=out)
    assert "every row is up to date" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {STORE.table} SET json = '{{}}' WHERE row_id = %s", [trips.pk])
    with pytest.raises(CommandError, match=rf"1 rows differ from their values \({trips.pk}\)"):
        call_command("booking_list_json_check")
    call_command("booking_list_json_check", "--repair", stdout=out)
    _fresh()
    with connection.cursor() as cursor:
        cursor.execute(f"COMMENT ON TABLE {STORE.table} IS 'atmr-json:older'")
    with pytest.raises(CommandError, match="holds shape older"):
        call_command("booking_list_json_check")


def _in_thread(work) -> threading.Thread:
    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()  # this thread's connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _waiting_on_a_lock(deadline_s: float = 10.0) -> bool:
    """Whether another backend of this database waits on a lock (polled, bounded)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with connection.cursor() as cursor:
            # pg_stat_activity is read once per transaction unless its snapshot is cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_rename_and_a_status_change_at_once_leave_both_in_the_row(company):
    """Without the refresh's row locks, the status change's upsert (computed before the rename
    committed) would land last and keep the old name."""
    trip = BookingFactory(company=company, status="pending")
    client = trip.client
    with transaction.atomic():
        Client.objects.filter(pk=client.pk).update(last_name="Renamed")
        writer = _in_thread(
            lambda: Booking.objects.filter(pk=trip.pk).update(notes="Gate B, wheelchair")
        )
        assert _waiting_on_a_lock()
    writer.join(timeout=30)
    assert not writer.is_alive()
    _fresh()
    text = _stored()[str(trip.pk)][0]
    assert '"last_name":"Renamed"' in text and '"notes":"Gate B, wheelchair"' in text


@pytest.mark.django_db(transaction=True)
def test_a_return_trip_booked_while_its_outbound_changes_shows_on_it(company):
    outbound = BookingFactory(company=company, status="pending", scheduled_at=at(8))
    with transaction.atomic():
        Booking.objects.filter(pk=outbound.pk).update(notes="Changed")
        writer = _in_thread(
            lambda: BookingFactory(
                company=company, client=outbound.client, return_of=outbound, scheduled_at=at(15)
            )
        )
        assert _waiting_on_a_lock()
    writer.join(timeout=30)
    assert not writer.is_alive()
    _fresh()
    back = Booking.objects.get(return_of=outbound)
    text = _stored()[str(outbound.pk)][0]
    assert f'"return_trip":"{back.pk}"' in text and '"notes":"Changed"' in text


@pytest.mark.django_db(transaction=True)
def test_a_deadlock_with_another_writer_is_a_409_and_saves_nothing(company, dispatcher_client):
    """The API's write of a return trip locks it, then (its row's refresh) its outbound; a
    writer holding the outbound and then asking for the return trip closes the cycle.
    PostgreSQL aborts the request's transaction: a 409 the office may send again."""
    outbound = BookingFactory(company=company, status="pending", scheduled_at=at(8))
    back = BookingFactory(
        company=company, client=outbound.client, return_of=outbound, scheduled_at=at(15)
    )

    holds = threading.Event()

    def other_writer() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL deadlock_timeout = '20s'")  # the request is the victim
            cursor.execute("SELECT 1 FROM bookings_booking WHERE id = %s FOR UPDATE", [outbound.pk])
            holds.set()
            if _waiting_on_a_lock(30):
                cursor.execute("SELECT 1 FROM bookings_booking WHERE id = %s FOR UPDATE", [back.pk])

    writer = _in_thread(other_writer)
    assert holds.wait(30)  # the writer holds the outbound first
    response = dispatcher_client.patch(
        f"/api/bookings/{back.pk}", {"notes": "Wheelchair at gate B"}, format="json"
    )
    writer.join(timeout=60)
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "concurrent_write"
    assert response["Retry-After"] == "1"
    back.refresh_from_db()
    assert back.notes != "Wheelchair at gate B"
    _fresh()


def test_the_nightly_audit_re_writes_only_recent_stale_rows(trips, company, caplog):
    assert audit_list_json() == 0
    old = BookingFactory(company=company, scheduled_at=timezone.now() - timedelta(days=3))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {STORE.table} SET json = '{{}}' WHERE row_id = ANY(%s::uuid[])",
            [[trips.pk, old.pk]],
        )
    with caplog.at_level("WARNING", logger="bookings.list_json"):
        assert audit_list_json() == 1
    assert f"1 stale rows re-written: ['{trips.pk}']" in caplog.text
    assert STORE.stale() == [str(old.pk)]  # older than yesterday: left to the check command
    with connection.cursor() as cursor:
        cursor.execute(f"COMMENT ON TABLE {STORE.table} IS 'atmr-json:older'")
    assert audit_list_json() == 0  # another code's store: not this code's to judge


def test_a_new_shape_replaces_every_old_function_and_trigger(trips):
    """An older store's function with other arguments must not stay as an overload."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION atmr_json_bookings_booking_json_refresh(ids uuid[]) RETURNS void"
            " LANGUAGE sql AS 'SELECT 1'"
        )
        cursor.execute(
            "CREATE FUNCTION atmr_json_bookings_booking_json_r9() RETURNS trigger"
            " LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'"
        )
        cursor.execute(
            "CREATE TRIGGER atmr_json_bookings_booking_json_r9 AFTER UPDATE ON places_place"
            " FOR EACH STATEMENT EXECUTE FUNCTION atmr_json_bookings_booking_json_r9()"
        )
    assert STORE.install(force=True)
    trips.notes = "After the new shape"
    trips.save()
    _fresh()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_proc WHERE proname LIKE 'atmr_json_bookings_booking_json%%'"
            " AND pronargs = 1 AND proname LIKE '%%refresh'"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'atmr_json_bookings_booking_json_r9'"
        )
        assert cursor.fetchone()[0] == 0
