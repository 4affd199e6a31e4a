"""Dispatch runs through the API, the task and the services, on the real database."""

from __future__ import annotations

import os
import signal
from datetime import datetime, time, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Booking
from dispatch import execution, services
from dispatch.errors import RunDayOutOfRange, RunDayPast, RunSuperseded
from dispatch.local_osrm.fault_proxy import Fault, Mode
from dispatch.models import DispatchRun, RunAssignment
from dispatch.tasks import execute_run
from tests.factories import (
    GENEVA,
    LAUSANNE,
    ZURICH,
    BookingFactory,
    DriverFactory,
    VehicleFactory,
    at,
    driver_day_clash,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eve_of_test_day")]
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
    late = BookingFactory(company=company, scheduled_at=at(17))  # after every shift: nobody on
    run = start(dispatcher_client).json()
    fits.refresh_from_db()
    late.refresh_from_db()
    assert fits.status == "assigned" and late.status == "pending"
    assert [(u["booking"], u["reason"]) for u in run["unassigned"]] == [
        (str(late.id), "no_driver_on_shift")
    ]


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
    assert [(u["booking"], u["reason"]) for u in run["unassigned"]] == [(str(other.id), "no_room")]


def test_stretcher_without_a_stretcher_vehicle_is_no_vehicle_for_mobility(
    start, company, dispatcher_client
):
    DriverFactory(company=company)
    trip = BookingFactory(company=company, mobility="stretcher")
    run = start(dispatcher_client).json()
    assert run["unassigned"] == [
        {
            "booking": str(trip.id),
            "reason": "no_vehicle_for_mobility",
            "detail": "No vehicle with a stretcher is on shift for a pick-up between 08:50 and "
            "09:15.",
        }
    ]


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
    assert execution.runs_fail_stale() == 1
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
    busy, clash = driver_day_clash(company, driver)
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


def test_the_run_event_knows_every_status_a_run_can_have():
    """run_announce narrows the stored status to the event's Literal; a status added to the
    model but not to realtime.schemas.RunStatus would make it refuse to announce the run."""
    from realtime.events import RUN_STATUSES

    assert set(RUN_STATUSES) == set(DispatchRun.Status.values)


# --- a past day -------------------------------------------------------------------------------
def test_a_past_day_is_refused_by_the_service_naming_service_date(company):
    yesterday = timezone.datetime(2026, 11, 29).date()
    with pytest.raises(RunDayPast) as refused:
        services.run_start(company=company, service_date=yesterday, mode="auto")
    assert refused.value.field == "service_date"
    assert "2026-11-29" in refused.value.detail and "Europe/Zurich" in refused.value.detail
    assert DispatchRun.objects.count() == 0


def test_a_past_day_is_a_400_from_the_api(dispatcher_client):
    response = dispatcher_client.post(
        "/api/dispatch/run", {"date": "2026-11-29", "mode": "auto"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "service_date_past"
    assert response.json()["field"] == "service_date"
    assert DispatchRun.objects.count() == 0


@pytest.mark.parametrize("day", ["9999-12-31", "2030-01-01"])
def test_a_day_past_the_accepted_range_is_a_400_not_a_500(dispatcher_client, day):
    response = dispatcher_client.post("/api/dispatch/run", {"date": day}, format="json")
    assert response.status_code == 400
    assert "date" in response.json()
    assert dispatcher_client.get(f"/api/dispatch/runs?date={day}").status_code == 400
    assert DispatchRun.objects.count() == 0


def test_the_service_refuses_a_day_out_of_range_for_every_door(company):
    # The admin and the command reach run_start without the API's serializer.
    with pytest.raises(RunDayOutOfRange) as refused:
        services.run_start(company=company, service_date=datetime(2031, 1, 1).date(), mode="auto")
    assert refused.value.field == "service_date"
    assert DispatchRun.objects.count() == 0


def test_today_in_the_company_zone_is_not_past(company):
    # 00:30 on 1 December in Zurich is still 30 November in UTC: the company's day counts
    # (and today is re-planned from now).
    with time_machine.travel(datetime(2026, 12, 1, 0, 30, tzinfo=ZURICH), tick=False):
        run = services.run_start(
            company=company,
            service_date=datetime(2026, 12, 1).date(),
            mode="auto",
            enqueue=False,
            from_now=True,
        )
    assert run.status == "queued"


def test_the_command_refuses_a_past_day(company):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="service_date 2026-11-29 is in the past"):
        call_command("dispatch", company=company.name, date=datetime(2026, 11, 29).date())
    assert DispatchRun.objects.count() == 0


# --- superseded runs --------------------------------------------------------------------------
def test_applying_a_run_a_newer_one_superseded_is_409_naming_it(
    start, company, small_day, dispatcher_client
):
    older = start(dispatcher_client, mode="suggest").json()
    newer = start(dispatcher_client, mode="suggest").json()
    response = dispatcher_client.post(f"/api/dispatch/runs/{older['id']}/apply")
    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["code"] == "run_superseded" and body["run"] == newer["id"]
    assert newer["id"] in body["detail"]
    assert Booking.objects.filter(status="assigned").count() == 0
    assert DispatchRun.objects.get(id=older["id"]).applied_at is None
    # The newer plan is the one to apply.
    assert dispatcher_client.post(f"/api/dispatch/runs/{newer['id']}/apply").status_code == 200


def test_an_auto_run_supersedes_an_older_suggestion(start, company, small_day, dispatcher_client):
    suggestion = start(dispatcher_client, mode="suggest").json()
    auto = start(dispatcher_client, mode="auto").json()
    run = DispatchRun.objects.get(id=suggestion["id"])
    with pytest.raises(RunSuperseded) as refused:
        services.run_apply(run=run)
    assert refused.value.extra == {"run": auto["id"]}
    assert "was applied at 2026-11-30 " in refused.value.detail  # local time, with the date


def test_an_older_run_applied_later_supersedes_a_newer_suggestion(
    company, small_day, django_capture_on_commit_callbacks
):
    day = datetime(2026, 12, 1).date()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.run_start(company=company, service_date=day, mode="suggest")
    with django_capture_on_commit_callbacks(execute=True):
        second = services.run_start(company=company, service_date=day, mode="suggest")
    DispatchRun.objects.filter(id=first.id).update(applied_at=timezone.now())
    with pytest.raises(RunSuperseded) as refused:
        services.run_apply(run=second)
    assert refused.value.extra == {"run": str(first.id)}


def test_failed_and_other_days_runs_do_not_supersede(
    start, company, small_day, other_company, dispatcher_client
):
    run = start(dispatcher_client, mode="suggest").json()
    created = DispatchRun.objects.get(id=run["id"]).created_at
    later = created + timedelta(minutes=1)
    DispatchRun.objects.create(company=company, service_date=run["service_date"], status="failed")
    DispatchRun.objects.create(
        company=company, service_date=datetime(2026, 12, 2).date(), status="succeeded"
    )
    DispatchRun.objects.create(
        company=other_company, service_date=run["service_date"], status="succeeded"
    )
    DispatchRun.objects.update(created_at=later)  # all "newer" than the run...
    DispatchRun.objects.filter(id=run["id"]).update(created_at=created)  # ...but itself
    assert dispatcher_client.post(f"/api/dispatch/runs/{run['id']}/apply").status_code == 200


# --- runs whose worker died -------------------------------------------------------------------
def _running(company, *, heartbeat_age_s):
    run = services.run_start(
        company=company, service_date=datetime(2026, 12, 1).date(), mode="auto", enqueue=False
    )
    beat = timezone.now() - timedelta(seconds=heartbeat_age_s)
    DispatchRun.objects.filter(id=run.id).update(
        status="running", started_at=beat - timedelta(minutes=5), heartbeat_at=beat
    )
    return run


def test_a_running_run_that_beats_is_left_alone(company):
    run = _running(company, heartbeat_age_s=10)  # started 5 min ago, but alive
    assert execution.runs_fail_stale() == 0
    run.refresh_from_db()
    assert run.status == "running"


def test_a_run_silent_past_the_threshold_is_failed_with_local_time(company, settings):
    run = _running(company, heartbeat_age_s=settings.DISPATCH_RUN_STALE_S + 1)
    assert execution.runs_fail_stale() == 1
    run.refresh_from_db()
    assert run.status == "failed" and run.finished_at is not None
    beat = (timezone.now() - timedelta(seconds=settings.DISPATCH_RUN_STALE_S + 1)).astimezone(
        ZURICH
    )
    assert f"last heartbeat at {beat:%Y-%m-%d %H:%M}" in run.error


def test_starting_a_run_frees_a_day_whose_run_went_silent(company, dispatcher_client, settings):
    dead = _running(company, heartbeat_age_s=settings.DISPATCH_RUN_STALE_S + 1)
    response = dispatcher_client.post("/api/dispatch/run", {"date": DAY}, format="json")
    assert response.status_code == 202, response.json()
    dead.refresh_from_db()
    assert dead.status == "failed"


def test_starting_a_run_beside_a_live_one_is_still_409(company, dispatcher_client):
    alive = _running(company, heartbeat_age_s=5)
    response = dispatcher_client.post("/api/dispatch/run", {"date": DAY}, format="json")
    assert response.status_code == 409 and response.json()["run"] == str(alive.id)


def test_the_defaults_free_a_dead_workers_day_within_a_minute(settings):
    from atmr.celery import app

    sweep = app.conf.beat_schedule["dispatch-fail-stale-runs"]["schedule"]
    # Worst case: the last beat just before death, then the threshold, then the next sweep.
    assert settings.DISPATCH_HEARTBEAT_S + settings.DISPATCH_RUN_STALE_S + sweep <= 65
    assert settings.DISPATCH_RUN_STALE_S + sweep <= 60


def test_a_run_failed_as_stale_does_not_come_back_when_its_process_resumes(
    company, small_day, monkeypatch
):
    run = services.run_start(
        company=company, service_date=datetime(2026, 12, 1).date(), mode="auto", enqueue=False
    )
    real_solve = execution.solve_off_gil

    def stall_then_solve(problem, *, time_limit_s):
        # The sweep decides this process is dead while it solves.
        DispatchRun.objects.filter(id=run.id).update(status="failed", error="stale")
        return real_solve(problem, time_limit_s=time_limit_s)

    monkeypatch.setattr(execution, "solve_off_gil", stall_then_solve)
    execution.run_execute(str(run.id))
    run.refresh_from_db()
    assert run.status == "failed" and run.error == "stale"
    assert RunAssignment.objects.filter(run=run).count() == 0
    assert Booking.objects.filter(status="assigned").count() == 0


def test_a_solver_that_dies_fails_the_run_in_words(company, small_day, monkeypatch):
    parent = os.getpid()

    def die(problem, *, time_limit_s):
        if os.getpid() != parent:  # only ever the forked child
            os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("the solve ran in the test process")

    monkeypatch.setattr("dispatch.adapters.solve_day", die)
    run = services.run_start(
        company=company, service_date=datetime(2026, 12, 1).date(), mode="auto", enqueue=False
    )
    execution.run_execute(str(run.id))
    run.refresh_from_db()
    assert run.status == "failed"
    assert "solver process stopped unexpectedly" in run.error


def test_the_solve_runs_in_a_child_process_and_its_errors_come_back(monkeypatch):
    monkeypatch.setattr("dispatch.adapters.solve_day", lambda problem, *, time_limit_s: os.getpid())
    assert execution.solve_off_gil(None, time_limit_s=1) != os.getpid()

    def broken(problem, *, time_limit_s):
        raise ValueError("no vehicles")

    monkeypatch.setattr("dispatch.adapters.solve_day", broken)
    with pytest.raises(RuntimeError, match="The solver failed: ValueError: no vehicles"):
        execution.solve_off_gil(None, time_limit_s=1)


def test_unassigned_reasons_are_worded_in_local_time(start, company, dispatcher_client):
    DriverFactory(company=company, shift_start=time(8, 0), shift_end=time(12, 0))
    late = BookingFactory(company=company, scheduled_at=at(17))  # 16:50-17:15 in Zurich
    run = start(dispatcher_client).json()
    stored = DispatchRun.objects.get(id=run["id"]).unassigned
    assert stored == [
        {
            "booking": str(late.id),
            "reason": "no_driver_on_shift",
            "detail": "No driver is on shift for a pick-up between 16:50 and 17:15.",
        }
    ]
