"""Dispatch runs through the API, the task and the services, on the real database."""

from __future__ import annotations

from datetime import time, timedelta
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Booking
from dispatch import services
from dispatch.local_osrm.fault_proxy import Fault, Mode
from dispatch.models import DispatchRun, RunAssignment
from dispatch.tasks import execute_run
from tests.factories import (
    GENEVA,
    LAUSANNE,
    BookingFactory,
    DriverFactory,
    VehicleFactory,
    at,
)

pytestmark = pytest.mark.django_db
DAY = "2026-12-01"


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """POST a run and let its on-commit enqueue run (tasks are eager in tests)."""

    def post(client, mode="auto", day=DAY):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/dispatch/run", {"date": day, "mode": mode}, format="json")
        if response.status_code != 202:
            return response
        assert response.json()["status"] == "queued"
        # The run executed on commit, after the 202 was built: answer with its state now.
        detail = client.get(f"/api/dispatch/runs/{response.json()['id']}").json()
        return SimpleNamespace(status_code=202, json=lambda: detail)

    return post


@pytest.fixture
def small_day(company):
    """Two drivers (a car and a wheelchair van) and four trips around Lausanne."""
    car = DriverFactory(company=company)
    van = DriverFactory(
        company=company, default_vehicle=VehicleFactory(company=company, wheelchair_places=1)
    )
    trips = [
        BookingFactory(company=company, scheduled_at=at(8)),
        BookingFactory(company=company, scheduled_at=at(10)),
        BookingFactory(company=company, scheduled_at=at(9), mobility="wheelchair"),
        BookingFactory(company=company, scheduled_at=at(13), mobility="wheelchair"),
    ]
    return car, van, trips


def test_auto_run_assigns_the_day(start, company, small_day, dispatcher_client):
    _car, van, trips = small_day
    response = start(dispatcher_client)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "succeeded"  # tasks run in-process in tests
    assert body["assigned_count"] == 4 and body["unassigned_count"] == 0
    assert body["travel_source"] == "straight_line" and body["fallback_share"] == 1.0
    for key in ("load_ms", "matrix_ms", "solve_ms", "save_ms"):
        assert body[key] is not None
    for trip in trips:
        trip.refresh_from_db()
        assert trip.status == "assigned"
        if trip.mobility == "wheelchair":
            assert trip.driver_id == van.id  # never in the car without a wheelchair place
    detail = dispatcher_client.get(f"/api/dispatch/runs/{body['id']}").json()
    stops = [s for r in detail["routes"] for s in r["stops"] if s["booking"]]
    assert len(stops) == 8  # a pick-up and a drop-off per trip
    assert all(s["arrival"] <= s["service_start"] <= s["departure"] for s in stops)


def test_suggest_stores_the_plan_and_apply_writes_it_once(
    start, company, small_day, dispatcher_client
):
    _, _, _trips = small_day
    run = start(dispatcher_client, mode="suggest").json()
    assert run["applied_at"] is None
    assert Booking.objects.filter(status="assigned").count() == 0
    assert RunAssignment.objects.filter(run_id=run["id"]).count() == 4
    applied = dispatcher_client.post(f"/api/dispatch/runs/{run['id']}/apply")
    assert applied.status_code == 200 and applied.json()["applied_at"]
    assert Booking.objects.filter(status="assigned").count() == 4
    again = dispatcher_client.post(f"/api/dispatch/runs/{run['id']}/apply")
    assert again.status_code == 409 and again.json()["code"] == "run_not_applicable"


def test_apply_writes_each_planned_driver_and_vehicle_in_constant_queries(
    start, company, small_day, dispatcher_client
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def apply(run_id: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert dispatcher_client.post(f"/api/dispatch/runs/{run_id}/apply").status_code == 200
        for row in RunAssignment.objects.filter(run_id=run_id):
            booking = Booking.objects.get(id=row.booking_id)
            assert booking.status == "assigned"
            assert (booking.driver_id, booking.vehicle_id) == (row.driver_id, row.vehicle_id)
        return len(queries)

    few = apply(start(dispatcher_client, mode="suggest").json()["id"])
    for hour in range(8, 16):
        BookingFactory(company=company, scheduled_at=at(hour, 30))
    run = start(dispatcher_client, mode="suggest").json()
    assert run["assigned_count"] >= 6
    assert apply(run["id"]) == few


def test_bookings_changed_during_the_run_are_left_alone(
    start, company, small_day, dispatcher_client
):
    _, _, trips = small_day
    run = start(dispatcher_client, mode="suggest").json()
    edited = trips[0]
    edited.notes = "changed by phone"
    edited.save()  # bumps updated_at after the run loaded it
    applied = dispatcher_client.post(f"/api/dispatch/runs/{run['id']}/apply").json()
    assert applied["skipped"] == [str(edited.id)]
    edited.refresh_from_db()
    assert edited.status == "pending" and edited.driver_id is None
    assert Booking.objects.filter(status="assigned").count() == 3


def test_shift_is_respected_and_infeasible_trip_reported(start, company, dispatcher_client):
    DriverFactory(company=company, shift_start=time(8, 0), shift_end=time(12, 0))
    fits = BookingFactory(company=company, scheduled_at=at(9))
    late = BookingFactory(company=company, scheduled_at=at(17))  # after every shift
    run = start(dispatcher_client).json()
    fits.refresh_from_db()
    late.refresh_from_db()
    assert fits.status == "assigned" and late.status == "pending"
    assert run["unassigned"] == [{"booking": str(late.id), "reason": "window_unreachable"}]


@pytest.mark.parametrize("urgent", ["from_lausanne", "from_geneva"])
def test_when_not_everything_fits_the_urgent_trip_is_served(
    urgent, start, company, dispatcher_client
):
    DriverFactory(company=company)  # one driver, starting in Lausanne
    trips = {  # both at 9:00, 60 km apart: one driver can do only one of them
        "from_lausanne": BookingFactory(company=company, urgent=urgent == "from_lausanne"),
        "from_geneva": BookingFactory(
            company=company,
            urgent=urgent == "from_geneva",
            pickup_lat=GENEVA[0],
            pickup_lon=GENEVA[1],
            dropoff_lat=LAUSANNE[0],
            dropoff_lon=LAUSANNE[1],
        ),
    }
    run = start(dispatcher_client).json()
    served = trips[urgent]
    served.refresh_from_db()
    assert served.status == "assigned"
    other = next(t for name, t in trips.items() if name != urgent)
    assert run["unassigned"] == [{"booking": str(other.id), "reason": "no_room"}]


def test_stretcher_without_a_stretcher_vehicle_is_no_equipment(start, company, dispatcher_client):
    DriverFactory(company=company)
    trip = BookingFactory(company=company, mobility="stretcher")
    run = start(dispatcher_client).json()
    assert run["unassigned"] == [{"booking": str(trip.id), "reason": "no_equipment"}]


def test_one_active_run_per_company_day(start, company, small_day, dispatcher_client):
    first = services.run_start(
        company=company,
        service_date=timezone.datetime(2026, 12, 1).date(),
        mode="auto",
        enqueue=False,
    )
    response = start(dispatcher_client)
    assert response.status_code == 409
    assert response.json() == {
        "code": "run_active",
        "detail": "A dispatch run for this day is already active.",
        "run": str(first.id),
    }
    # The database itself refuses a second active run, whatever the code path.
    with pytest.raises(IntegrityError), transaction.atomic():
        DispatchRun.objects.create(company=company, service_date=first.service_date)
    # Another day, and another company's same day, are free.
    assert start(dispatcher_client, day="2026-12-02").status_code == 202


def test_redelivered_task_does_nothing(start, company, small_day):
    run = services.run_start(
        company=company,
        service_date=timezone.datetime(2026, 12, 1).date(),
        mode="suggest",
        enqueue=False,
    )
    execute_run(str(run.id))
    run.refresh_from_db()
    finished = run.finished_at
    execute_run(str(run.id))  # a second delivery of the same message
    run.refresh_from_db()
    assert run.finished_at == finished
    assert RunAssignment.objects.filter(run=run).count() == 4


def test_stale_running_run_is_failed_and_day_can_restart(
    start, company, small_day, dispatcher_client
):
    run = services.run_start(
        company=company,
        service_date=timezone.datetime(2026, 12, 1).date(),
        mode="auto",
        enqueue=False,
    )
    DispatchRun.objects.filter(id=run.id).update(
        status="running", started_at=timezone.now() - timedelta(hours=1)
    )
    assert services.runs_fail_stale() == 1
    run.refresh_from_db()
    assert run.status == "failed" and "worker" in run.error
    assert start(dispatcher_client).status_code == 202


def test_runs_are_tenant_scoped_and_office_only(
    start,
    company,
    other_company,
    small_day,
    dispatcher_client,
    other_dispatcher_client,
    driver_client,
):
    run = start(dispatcher_client, mode="suggest").json()
    assert other_dispatcher_client.get(f"/api/dispatch/runs/{run['id']}").status_code == 404
    response = other_dispatcher_client.post(f"/api/dispatch/runs/{run['id']}/apply")
    assert response.status_code == 404
    assert other_dispatcher_client.get("/api/dispatch/runs").json()["count"] == 0
    assert driver_client.post("/api/dispatch/run", {"date": DAY}, format="json").status_code == 403
    assert driver_client.get("/api/dispatch/runs").status_code == 403
    listed = dispatcher_client.get(f"/api/dispatch/runs?date={DAY}").json()
    assert [r["id"] for r in listed["results"]] == [run["id"]]


@pytest.mark.parametrize(
    "body", [{"date": "2026-13-01"}, {"date": DAY, "mode": "yolo"}, {"mode": "auto"}]
)
def test_bad_run_input_is_400(body, dispatcher_client):
    response = dispatcher_client.post("/api/dispatch/run", body, format="json")
    assert response.status_code == 400
    assert DispatchRun.objects.count() == 0


def test_run_list_query_budget(company, dispatcher_client, django_assert_max_num_queries):
    for day in range(20):
        DispatchRun.objects.create(
            company=company,
            service_date=timezone.datetime(2026, 1, 1 + day).date(),
            status="succeeded",
        )
    with django_assert_max_num_queries(2):  # count, runs
        assert dispatcher_client.get("/api/dispatch/runs").json()["count"] == 20


def test_run_with_osrm_down_still_succeeds(
    start, company, small_day, dispatcher_client, fault_proxy, settings
):
    settings.OSRM_URL = fault_proxy.url
    settings.OSRM_TIMEOUT_S = 0.5
    fault_proxy.set_fault(Fault(Mode.STATUS, status=503))
    body = start(dispatcher_client).json()
    assert body["status"] == "succeeded" and body["assigned_count"] == 4
    # Every cell between distinct points is an estimate (identical points cost 0 anyway).
    assert body["travel_source"] == "osrm" and body["fallback_share"] > 0.5


def test_run_on_real_osrm_uses_road_times(
    start, company, small_day, dispatcher_client, osrm_server, settings
):
    settings.OSRM_URL = osrm_server
    body = start(dispatcher_client).json()
    assert body["status"] == "succeeded" and body["assigned_count"] == 4
    assert body["fallback_share"] == 0.0


# --- manual assignment ----------------------------------------------------------------------
def test_manual_assign_names_the_conflicting_booking(company, dispatcher_client):
    driver = DriverFactory(company=company)
    busy = BookingFactory(company=company, driver=driver, status="assigned", scheduled_at=at(9))
    clash = BookingFactory(  # Geneva→Lausanne while the driver is still leaving Lausanne
        company=company,
        scheduled_at=at(9, 5),
        pickup_lat=GENEVA[0],
        pickup_lon=GENEVA[1],
        dropoff_lat=LAUSANNE[0],
        dropoff_lon=LAUSANNE[1],
    )
    response = dispatcher_client.post(
        f"/api/bookings/{clash.id}/assign", {"driver": str(driver.id)}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "driver_day_conflict"
    assert response.json()["conflicting_booking"] == str(busy.id)
    clash.refresh_from_db()
    assert clash.driver_id is None


def test_manual_assign_outside_the_shift_is_409(company, dispatcher_client):
    driver = DriverFactory(company=company, shift_start=time(6, 0), shift_end=time(8, 0))
    trip = BookingFactory(company=company, scheduled_at=at(15))
    response = dispatcher_client.post(
        f"/api/bookings/{trip.id}/assign", {"driver": str(driver.id)}, format="json"
    )
    assert response.status_code == 409
    assert "shift" in response.json()["detail"]


def test_manual_assign_that_fits_is_accepted(company, dispatcher_client):
    driver = DriverFactory(company=company)
    BookingFactory(company=company, driver=driver, status="assigned", scheduled_at=at(8))
    later = BookingFactory(company=company, scheduled_at=at(14))
    response = dispatcher_client.post(
        f"/api/bookings/{later.id}/assign", {"driver": str(driver.id)}, format="json"
    )
    assert response.status_code == 200, response.json()


def test_run_publishes_progress_and_result_to_the_office(
    start, company, small_day, dispatcher_client, monkeypatch
):
    from realtime.groups import group_for_company_dispatch, group_for_driver

    sent: list[tuple[str, dict]] = []
    record = lambda messages: sent.extend((g, dict(e)) for g, e in messages)  # noqa: E731
    monkeypatch.setattr("realtime.publish.publish_many", record)  # publish() sends through it
    car, van, _ = small_day
    run = start(dispatcher_client).json()
    office = [e for g, e in sent if g == group_for_company_dispatch(company.id)]
    runs = [e for e in office if e["type"] == "dispatch_run"]
    assert runs[0]["status"] == "queued"
    assert [e["progress"] for e in runs if e["status"] == "running"] == [0.2, 0.4, 0.9]
    assert runs[-1] == {
        "type": "dispatch_run",
        "run_id": run["id"],
        "status": "succeeded",
        "progress": 1.0,
        "detail": "4 planned, 0 unassigned",
    }
    to_drivers = [e for g, e in sent if g in (group_for_driver(car.id), group_for_driver(van.id))]
    assert len(to_drivers) == 4 and {e["action"] for e in to_drivers} == {"assigned"}
