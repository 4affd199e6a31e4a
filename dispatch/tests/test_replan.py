"""Re-planning today from now: through the API, the services and the command, on the real
database and channel layer. The clock is pinned at 10:00 in Zurich on the factories' day."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.models import Booking
from dispatch import execution, services
from dispatch.errors import RunFromNow
from dispatch.models import DispatchRun, DispatchSettings, RunAssignment
from drivers.models import Driver
from realtime.groups import group_for_company_dispatch, group_for_driver
from tests.admin_helpers import EventListener
from tests.factories import GENEVA, LAUSANNE, ZURICH, BookingFactory, DriverFactory, at

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZURICH)
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]
TODAY = "2026-12-01"


def replan_now(company, mode: str = "suggest") -> DispatchRun:
    run = services.run_start(
        company=company,
        service_date=NOW.date(),
        mode=mode,
        enqueue=False,
        from_now=True,
    )
    execution.run_execute(str(run.id))
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return run


@pytest.fixture
def listener():
    events = EventListener()
    yield events
    events.close()


# --- the door: today needs "from": "now", other days refuse it ---------------------------------
@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"date": TODAY}, "re-planned from now"),
        ({"date": TODAY, "mode": "suggest"}, "re-planned from now"),
        ({"date": "2026-12-02", "from": "now"}, "Only today"),
    ],
)
def test_today_without_from_now_and_another_day_with_it_are_400_naming_from(
    body, why, dispatcher_client
):
    response = dispatcher_client.post("/api/dispatch/run", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "from"
    assert why in response.json()["detail"]
    assert DispatchRun.objects.count() == 0


@pytest.mark.parametrize("value", ["later", "", None, 1, ["now"]])
def test_a_bad_from_is_a_400_naming_it(value, dispatcher_client):
    body = {"date": TODAY, "from": value}
    response = dispatcher_client.post("/api/dispatch/run", body, format="json")
    assert response.status_code == 400
    assert "from" in response.json()
    assert DispatchRun.objects.count() == 0


def test_the_service_refuses_today_without_from_now_for_every_door(company):
    with pytest.raises(RunFromNow) as refused:
        services.run_start(company=company, service_date=NOW.date(), mode="auto", enqueue=False)
    assert refused.value.field == "from"
    with pytest.raises(CommandError, match="re-planned from now"):
        call_command("dispatch", "--company", str(company.id), "--date", TODAY)


def test_the_api_queues_a_replan_and_reports_it(
    dispatcher_client, company, django_capture_on_commit_callbacks
):
    DriverFactory(company=company)
    BookingFactory(company=company, scheduled_at=at(12))
    with django_capture_on_commit_callbacks(execute=True):
        response = dispatcher_client.post(
            "/api/dispatch/run", {"date": TODAY, "mode": "suggest", "from": "now"}, format="json"
        )
    assert response.status_code == 202
    run = dispatcher_client.get(f"/api/dispatch/runs/{response.json()['id']}").json()
    assert run["status"] == "succeeded" and run["from_now"] is True
    assert datetime.fromisoformat(run["planned_from"]) == NOW + timedelta(minutes=5)
    assert run["assigned_count"] == 1
    assert set(run["diff"]) == {"moved", "eta_changes", "unassigned"}


# --- what is under way stays ---------------------------------------------------------------
def test_trips_under_way_stay_with_their_driver_first_and_nothing_is_planned_before_now(company):
    a, b = DriverFactory(company=company), DriverFactory(company=company)
    done = BookingFactory(company=company, driver=a, status="completed", scheduled_at=at(8))
    carried = BookingFactory(company=company, driver=a, status="on_board", scheduled_at=at(9, 30))
    fetched = BookingFactory(company=company, driver=b, status="en_route", scheduled_at=at(10))
    later = BookingFactory(company=company, driver=b, status="assigned", scheduled_at=at(14))
    new = BookingFactory(company=company, scheduled_at=at(12))
    run = replan_now(company)
    routes = {r["driver"]: r["stops"] for r in run.routes}
    first = lambda driver: [(s["kind"], s["booking"]) for s in routes[str(driver.id)][1:3]]  # noqa: E731
    assert first(a)[0] == ("dropoff", str(carried.id))
    assert first(b) == [("pickup", str(fetched.id)), ("dropoff", str(fetched.id))]
    planned = {s["booking"] for stops in routes.values() for s in stops if s["booking"]}
    assert str(done.id) not in planned
    assert {str(later.id), str(new.id)} <= planned
    ready = NOW + timedelta(minutes=5)
    for stops in routes.values():
        for stop in stops:
            assert datetime.fromisoformat(stop["arrival"]) >= ready
    rows = {str(r.booking_id): r for r in RunAssignment.objects.filter(run=run)}
    assert not rows[str(carried.id)].is_new and str(rows[str(carried.id)].driver_id) == str(a.id)
    assert not rows[str(fetched.id)].is_new and str(rows[str(fetched.id)].driver_id) == str(b.id)
    services.run_apply(run=run)
    for booking, status, driver in ((carried, "on_board", a), (fetched, "en_route", b)):
        booking.refresh_from_db()
        assert (booking.status, booking.driver_id) == (status, driver.id)


def test_an_arrived_trip_stays_with_its_driver_first_even_after_its_shift(company):
    """The driver waits at the pick-up (`arrived`): the trip is under way like en route."""
    waiting = DriverFactory(company=company, shift_end=time(10, 3))
    other = DriverFactory(company=company)
    arrived = BookingFactory(company=company, driver=waiting, status="arrived", scheduled_at=at(10))
    BookingFactory(company=company, scheduled_at=at(12))
    run = replan_now(company)
    routes = {r["driver"]: r["stops"] for r in run.routes}
    assert [(s["kind"], s["booking"]) for s in routes[str(waiting.id)][1:3]] == [
        ("pickup", str(arrived.id)),
        ("dropoff", str(arrived.id)),
    ]
    assert str(arrived.id) not in {s["booking"] for s in routes.get(str(other.id), [])}
    row = RunAssignment.objects.get(run=run, booking=arrived)
    assert not row.is_new and row.driver_id == waiting.id
    services.run_apply(run=run)
    arrived.refresh_from_db()
    assert (arrived.status, arrived.driver_id) == ("arrived", waiting.id)


def test_a_driver_whose_shift_has_ended_is_left_out(company):
    DriverFactory(company=company, shift_end=time(10, 3))
    late = DriverFactory(company=company)
    BookingFactory(company=company, scheduled_at=at(12))
    run = replan_now(company)
    assert [r["driver"] for r in run.routes] == [str(late.id)]
    assert run.drivers_count == 1


def test_the_lead_time_is_the_companys(company):
    DispatchSettings.objects.update_or_create(company=company, defaults={"replan_lead_minutes": 30})
    DriverFactory(company=company)
    BookingFactory(company=company, scheduled_at=at(10, 20))  # window 10:10..10:35
    run = replan_now(company)
    assert run.planned_from == NOW + timedelta(minutes=30)
    pickup = next(s for s in run.routes[0]["stops"] if s["kind"] == "pickup")
    assert datetime.fromisoformat(pickup["service_start"]) >= NOW + timedelta(minutes=30)


# --- stability and the diff ----------------------------------------------------------------------
def _far_and_near(company, far_position):
    """`far` has an 11:00 Lausanne -> Geneva trip and is at `far_position`; `near` is at home in
    Lausanne with nothing to do."""
    far, near = DriverFactory(company=company), DriverFactory(company=company)
    far.last_lat, far.last_lon = far_position
    far.last_seen_at = timezone.now() - timedelta(minutes=1)
    far.save(update_fields=["last_lat", "last_lon", "last_seen_at"])
    trip = BookingFactory(company=company, driver=far, status="assigned", scheduled_at=at(11))
    return far, near, trip


def test_a_small_saving_leaves_a_trip_with_its_driver(company):
    far, _, trip = _far_and_near(company, (LAUSANNE[0] + 0.01, LAUSANNE[1]))
    run = replan_now(company)
    assert run.diff["moved"] == [] and run.diff["unassigned"] == []
    assert RunAssignment.objects.get(run=run, booking=trip).driver_id == far.id


def test_a_big_saving_moves_the_trip_and_applying_tells_both_drivers(
    company, listener, django_capture_on_commit_callbacks
):
    far, near, trip = _far_and_near(company, GENEVA)
    run = replan_now(company)
    assert run.diff["moved"] == [
        {"booking": str(trip.id), "from_driver": str(far.id), "to_driver": str(near.id)}
    ]
    (eta,) = run.diff["eta_changes"]
    assert eta["booking"] == str(trip.id) and eta["before"] is not None
    assert eta["change_seconds"] == int(
        (
            datetime.fromisoformat(eta["after"]) - datetime.fromisoformat(eta["before"])
        ).total_seconds()
    )
    trip.refresh_from_db()
    assert trip.driver_id == far.id  # suggested: nothing changes before it is applied
    listener.subscribe(group_for_driver(far.id), group_for_driver(near.id))
    listener.subscribe(group_for_company_dispatch(company.id))
    with django_capture_on_commit_callbacks(execute=True):
        services.run_apply(run=run)
    trip.refresh_from_db()
    assert (trip.status, trip.driver_id) == ("assigned", near.id)
    assert [e["action"] for e in listener.events(group_for_driver(far.id), 1)] == ["withdrawn"]
    assert [e["action"] for e in listener.events(group_for_driver(near.id), 1)] == ["assigned"]
    office = listener.events(group_for_company_dispatch(company.id), 2)
    assert [e["type"] for e in office] == ["booking_updated", "dispatch_run"]


def test_applying_leaves_a_moved_trip_that_changed_meanwhile(company):
    far, _, trip = _far_and_near(company, GENEVA)
    run = replan_now(company)
    Booking.objects.filter(id=trip.id).update(updated_at=timezone.now() + timedelta(seconds=1))
    applied = services.run_apply(run=run)
    trip.refresh_from_db()
    assert trip.driver_id == far.id
    assert applied.skipped == [str(trip.id)]


def test_the_move_threshold_is_the_companys(company):
    DispatchSettings.objects.update_or_create(
        company=company,
        defaults={"move_saves_drive_minutes": 600, "move_saves_lateness_minutes": 600},
    )
    _far_and_near(company, GENEVA)
    run = replan_now(company)
    assert run.diff["moved"] == []


def test_a_trip_its_driver_can_no_longer_do_is_reported_and_withdrawn_on_apply(company):
    alone = DriverFactory(company=company, shift_end=time(11, 0))
    trip = BookingFactory(company=company, driver=alone, status="assigned", scheduled_at=at(15))
    run = replan_now(company)
    assert [d["booking"] for d in run.diff["unassigned"]] == [str(trip.id)]
    assert run.diff["unassigned"][0]["driver"] == str(alone.id)
    services.run_apply(run=run)
    trip.refresh_from_db()
    assert (trip.status, trip.driver_id) == ("pending", None)


def test_the_admin_run_page_shows_the_diff_before_it_is_applied(company, staff_web):
    far, near, _ = _far_and_near(company, GENEVA)
    run = replan_now(company)
    page = staff_web.get(f"/admin/dispatch/dispatchrun/{run.id}/change/").content.decode()
    assert "What this re-plan changes (not applied yet)" in page
    assert f"moved from {far.user.full_name} to {near.user.full_name}" in page


def test_the_admin_form_replans_today_from_now(company, staff_web):
    DriverFactory(company=company)
    refused = staff_web.post(
        "/admin/dispatch/dispatchrun/dispatch-day/", {"service_date": TODAY, "mode": "suggest"}
    )
    assert "from_now" in refused.context["form"].errors
    staff_web.post(
        "/admin/dispatch/dispatchrun/dispatch-day/",
        {"service_date": TODAY, "mode": "suggest", "from_now": "on"},
    )
    assert DispatchRun.objects.get().from_now


def test_the_command_replans_from_now(company, capsys):
    far, near, trip = _far_and_near(company, GENEVA)
    call_command(
        "dispatch", "--company", str(company.id), "--date", TODAY, "--mode", "suggest", "--from-now"
    )
    out = capsys.readouterr().out
    assert f"moved {trip.id}: {far.id} -> {near.id}" in out


# --- a property over random live days, through the services --------------------------------------
STATUSES = ("pending", "assigned", "en_route", "arrived", "on_board", "completed")
UNDER_WAY = ("en_route", "arrived", "on_board")


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    trips=st.lists(
        st.tuples(st.sampled_from(STATUSES), st.integers(0, 1), st.integers(8 * 4, 16 * 4)),
        min_size=1,
        max_size=6,
    )
)
def test_no_replan_moves_a_trip_under_way_or_done(company, trips):
    drivers = list(Driver.objects.filter(company=company)) or [
        DriverFactory(company=company),
        DriverFactory(company=company),
    ]
    made, busy = [], set()
    for status, who, quarter in trips:
        driver = drivers[who]
        if status in UNDER_WAY:
            if driver.id in busy:  # one patient under way per driver keeps within its seats
                status = "assigned"
            busy.add(driver.id)
        made.append(
            BookingFactory(
                company=company,
                status=status,
                driver=None if status == "pending" else driver,
                scheduled_at=at(quarter // 4, 15 * (quarter % 4)),
            )
        )
    try:
        run = replan_now(company, mode="auto")
        stops = {
            s["booking"]: (r["driver"], i)
            for r in run.routes
            for i, s in enumerate(r["stops"])
            if s["booking"]
        }
        for booking in made:
            before = (booking.status, booking.driver_id)
            booking.refresh_from_db()
            if before[0] in (*UNDER_WAY, "completed"):
                assert (booking.status, booking.driver_id) == before
            if before[0] == "completed":
                assert str(booking.id) not in stops
            if before[0] in UNDER_WAY:
                driver, index = stops[str(booking.id)]
                assert driver == str(before[1]) and index <= 2  # first, after the start
        ready = NOW + timedelta(minutes=5)
        assert all(
            datetime.fromisoformat(s["arrival"]) >= ready for r in run.routes for s in r["stops"]
        )
    finally:
        RunAssignment.objects.all().delete()
        DispatchRun.objects.all().delete()
        Booking.objects.filter(company=company).delete()
