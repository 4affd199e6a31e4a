"""Night shifts in a run: the shift that began the evening before serves the early hours, and
a driver on two nights running is planned over both parts of the day."""

from __future__ import annotations

from datetime import date, datetime, time
from types import SimpleNamespace

import pytest
import time_machine

from dispatch import selectors
from dispatch.models import RunAssignment
from drivers import rosters
from tests.factories import (
    ZURICH,
    BookingFactory,
    DriverFactory,
    UserFactory,
    VehicleFactory,
    at,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eve_of_test_day")]
TUESDAY = date(2026, 12, 1)
NEAR = (46.53, 6.60)  # a few km from Lausanne: short trips
NIGHT = {"start": time(22), "end": time(6)}
NIGHT_BREAK = {"break_earliest": time(1), "break_latest": time(4), "break_minutes": 30}


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    def post(client, day="2026-12-01"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/dispatch/run", {"date": day, "mode": "auto"}, format="json"
            )
        assert response.status_code == 202, response.json()
        return client.get(f"/api/dispatch/runs/{response.json()['id']}").json()

    return post


@pytest.fixture
def crew(company):
    """A night driver (no roster yet) and a day driver on Tuesday 07:00-15:00."""
    van = VehicleFactory(company=company, seats=3, wheelchair_places=1)
    night = DriverFactory(company=company, default_vehicle=van, roster=False)
    day = DriverFactory(company=company, roster=False)
    rosters.roster_set(driver=day, entries=[{"weekday": 2, "start": time(7), "end": time(15)}])
    return SimpleNamespace(night=night, day=day, van=van)


def _trip(company, hour, minute=0, day=0, **fields):
    fields.setdefault("dropoff_lat", NEAR[0])
    fields.setdefault("dropoff_lon", NEAR[1])
    return BookingFactory(company=company, scheduled_at=at(hour, minute, day), **fields)


def _local(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(ZURICH)


def test_the_night_shift_of_the_evening_before_serves_the_early_hours(
    start, company, crew, dispatcher_client
):
    rosters.roster_set(driver=crew.night, entries=[{"weekday": 1, **NIGHT, **NIGHT_BREAK}])
    two, half_past_three = _trip(company, 2), _trip(company, 3, 30)
    nine = _trip(company, 9)
    run = start(dispatcher_client)
    assert run["status"] == "succeeded", run  # the checker passed it, break included
    assert run["unassigned"] == []
    rows = {a.booking_id: a for a in RunAssignment.objects.filter(run_id=run["id"])}
    for trip in (two, half_past_three):
        assert (rows[trip.id].driver_id, rows[trip.id].vehicle_id) == (crew.night.id, crew.van.id)
    assert rows[nine.id].driver_id == crew.day.id
    night_route = next(r for r in run["routes"] if r["driver"] == str(crew.night.id))
    (pause,) = [s for s in night_route["stops"] if s["kind"] == "break"]
    assert time(1) <= _local(pause["service_start"]).time() <= time(3, 30)


def test_a_driver_on_two_nights_running_serves_both_ends_of_the_day(
    start, company, crew, dispatcher_client
):
    rosters.roster_set(
        driver=crew.night, entries=[{"weekday": 1, **NIGHT}, {"weekday": 2, **NIGHT}]
    )
    (span,) = [
        s
        for s in selectors.shift_drivers(company_id=company.id, day=TUESDAY, tz=company.tz)
        if s.driver_id == crew.night.id
    ]
    assert _local(span.start.isoformat()) == datetime(2026, 11, 30, 22, tzinfo=ZURICH)
    assert _local(span.end.isoformat()) == datetime(2026, 12, 2, 6, tzinfo=ZURICH)
    assert span.break_minutes == 16 * 60  # 06:00 to 22:00 off
    early, late = _trip(company, 2), _trip(company, 22, 45)
    run = start(dispatcher_client)
    assert run["status"] == "succeeded", run
    assert run["unassigned"] == []
    rows = {a.booking_id: a for a in RunAssignment.objects.filter(run_id=run["id"])}
    assert rows[early.id].driver_id == rows[late.id].driver_id == crew.night.id
    night_route = next(r for r in run["routes"] if r["driver"] == str(crew.night.id))
    (off,) = [s for s in night_route["stops"] if s["kind"] == "break"]
    assert _local(off["service_start"]) == datetime(2026, 12, 1, 6, tzinfo=ZURICH)
    assert _local(off["departure"]) == datetime(2026, 12, 1, 22, tzinfo=ZURICH)


def test_two_nights_with_breaks_plan_the_part_with_more_of_the_day(
    start, company, crew, dispatcher_client
):
    week = [{"weekday": d, **NIGHT, **NIGHT_BREAK} for d in (1, 2)]
    rosters.roster_set(driver=crew.night, entries=week)
    early, late = _trip(company, 2), _trip(company, 22, 45)
    run = start(dispatcher_client)
    assert run["status"] == "succeeded", run
    # The engine takes one break per driver: the night before (6 h of Tuesday) is planned
    # with its break; tonight's first hours are not, and the trip says why.
    assert {u["booking"]: u["reason"] for u in run["unassigned"]} == {
        str(late.id): "no_driver_on_shift"
    }
    early.refresh_from_db()
    assert early.driver_id == crew.night.id


def test_a_night_shift_starting_in_the_evening_is_planned_from_its_start(
    start, company, crew, dispatcher_client
):
    rosters.roster_set(driver=crew.night, entries=[{"weekday": 2, **NIGHT, **NIGHT_BREAK}])
    late = _trip(company, 23)  # Tuesday 23:00; the shift's break falls on Wednesday
    run = start(dispatcher_client)
    assert run["status"] == "succeeded", run
    assert run["unassigned"] == []
    late.refresh_from_db()
    assert late.driver_id == crew.night.id


def test_manual_assignment_at_two_takes_the_night_shift_of_the_evening_before(
    company, crew, dispatcher_client
):
    rosters.roster_set(driver=crew.night, entries=[{"weekday": 1, **NIGHT, **NIGHT_BREAK}])
    two = _trip(company, 2)
    url = f"/api/bookings/{two.id}/assign"
    response = dispatcher_client.post(url, {"driver": str(crew.night.id)}, format="json")
    assert response.status_code == 200, response.json()
    two.refresh_from_db()
    assert (two.driver_id, two.vehicle_id) == (crew.night.id, crew.van.id)
    seven = _trip(company, 7)  # the night shift is over by then
    response = dispatcher_client.post(
        f"/api/bookings/{seven.id}/assign", {"driver": str(crew.night.id)}, format="json"
    )
    assert response.status_code in (400, 409) and response.json()["field"] == "driver"


def test_a_replan_at_one_in_the_morning_plans_with_the_night_shift_still_running(
    company, crew, client_for, django_capture_on_commit_callbacks
):
    rosters.roster_set(driver=crew.night, entries=[{"weekday": 1, **NIGHT, **NIGHT_BREAK}])
    half_past_two = _trip(company, 2, 30)
    with time_machine.travel(datetime(2026, 12, 1, 1, 0, tzinfo=ZURICH), tick=True):
        dispatcher_client = client_for(UserFactory(company=company, role="dispatcher"))
        with django_capture_on_commit_callbacks(execute=True):
            response = dispatcher_client.post(
                "/api/dispatch/run",
                {"date": "2026-12-01", "mode": "auto", "from": "now"},
                format="json",
            )
        assert response.status_code == 202, response.json()
        run = dispatcher_client.get(f"/api/dispatch/runs/{response.json()['id']}").json()
    assert run["status"] == "succeeded", run
    half_past_two.refresh_from_db()
    assert half_past_two.driver_id == crew.night.id


def test_manual_assignment_in_the_early_hours_ignores_tonights_trips(
    company, crew, dispatcher_client
):
    rosters.roster_set(
        driver=crew.night, entries=[{"weekday": 1, **NIGHT}, {"weekday": 2, **NIGHT}]
    )
    tonight = _trip(company, 22, 45)
    ok = dispatcher_client.post(
        f"/api/bookings/{tonight.id}/assign", {"driver": str(crew.night.id)}, format="json"
    )
    assert ok.status_code == 200, ok.json()
    two = _trip(company, 2)
    response = dispatcher_client.post(
        f"/api/bookings/{two.id}/assign", {"driver": str(crew.night.id)}, format="json"
    )
    assert response.status_code == 200, response.json()
