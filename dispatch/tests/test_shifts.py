"""Dispatch with rosters: each driver's shift of the day, that day's vehicle, its break, and
the true cause of every trip left out."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import pytest

from bookings.models import Booking
from dispatch import adapters, selectors
from dispatch.engine.checker import check_plan
from dispatch.engine.geo import Location
from dispatch.models import RunAssignment
from dispatch.travel import travel_provider
from drivers import rosters
from drivers.models import Shift
from tests.factories import GENEVA, ZURICH, BookingFactory, DriverFactory, VehicleFactory, at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eve_of_test_day")]
TUESDAY, WEDNESDAY = date(2026, 12, 1), date(2026, 12, 2)
NEAR = (46.53, 6.60)  # a few km from Lausanne: short trips
EARLY = {"start": time(6, 30), "end": time(15, 0), "break_earliest": time(10, 30),
         "break_latest": time(13, 30), "break_minutes": 30}  # fmt: skip
LATE = {"start": time(11, 0), "end": time(19, 30), "break_earliest": time(14, 0),
        "break_latest": time(17, 30), "break_minutes": 30}  # fmt: skip


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    def post(client, day="2026-12-01"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/dispatch/run", {"date": day, "mode": "auto"}, format="json"
            )
        assert response.status_code == 202, response.json()
        detail = client.get(f"/api/dispatch/runs/{response.json()['id']}").json()
        return SimpleNamespace(status_code=202, json=lambda: detail)

    return post


@pytest.fixture
def fleet(company):
    """An early driver with a wheelchair van on Tuesday and a car on Wednesday (the car is
    the default vehicle), and a late driver with a van on Tuesday only."""
    car = VehicleFactory(company=company, seats=4)
    van = VehicleFactory(company=company, seats=3, wheelchair_places=2, label="Van early")
    late_van = VehicleFactory(company=company, seats=3, wheelchair_places=2, label="Van late")
    early = DriverFactory(company=company, default_vehicle=car, roster=False)
    late = DriverFactory(company=company, default_vehicle=late_van, roster=False)
    rosters.roster_set(
        driver=early,
        entries=[{"weekday": 2, "vehicle": van, **EARLY}, {"weekday": 3, "vehicle": car, **EARLY}],
    )
    rosters.roster_set(driver=late, entries=[{"weekday": 2, **LATE}])
    return SimpleNamespace(early=early, late=late, car=car, van=van, late_van=late_van)


def _trip(company, hour, minute=0, day=0, **fields):
    fields.setdefault("dropoff_lat", NEAR[0])
    fields.setdefault("dropoff_lon", NEAR[1])
    return BookingFactory(company=company, scheduled_at=at(hour, minute, day), **fields)


def _local(stamp: str) -> time:
    return datetime.fromisoformat(stamp).astimezone(ZURICH).time()


def test_a_run_plans_each_drivers_shift_with_its_vehicle_and_break(
    start, company, fleet, dispatcher_client
):
    morning_chair = _trip(company, 8, mobility="wheelchair")
    morning_walk = _trip(company, 9)
    late_chair = _trip(company, 16, 30, mobility="wheelchair")  # only the late van is on
    evening_walk = _trip(company, 18)
    run = start(dispatcher_client).json()
    assert run["status"] == "succeeded", run  # the run applies only plans the checker passes
    assert run["unassigned"] == []
    rows = {a.booking_id: a for a in RunAssignment.objects.filter(run_id=run["id"])}
    assert rows[morning_chair.id].driver_id == fleet.early.id
    assert rows[morning_chair.id].vehicle_id == fleet.van.id  # Tuesday's van, not the car
    for late_trip in (late_chair, evening_walk):
        assert (rows[late_trip.id].driver_id, rows[late_trip.id].vehicle_id) == (
            fleet.late.id,
            fleet.late_van.id,
        )
    assert rows[morning_walk.id].driver_id in (fleet.early.id, fleet.late.id)
    windows = {str(fleet.early.id): EARLY, str(fleet.late.id): LATE}
    for route in run["routes"]:
        breaks = [s for s in route["stops"] if s["kind"] == "break"]
        assert len(breaks) == 1, route
        window = windows[route["driver"]]
        taken, back = _local(breaks[0]["service_start"]), _local(breaks[0]["departure"])
        assert window["break_earliest"] <= taken and back <= window["break_latest"]
        assert _local(route["stops"][0]["departure"]) >= window["start"]
    late_chair.refresh_from_db()
    assert late_chair.status == "assigned" and late_chair.vehicle_id == fleet.late_van.id


def test_every_plan_of_a_rostered_day_passes_the_checker_with_breaks(company, fleet):
    for hour in (7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18):
        _trip(company, hour, 15, mobility="wheelchair" if hour % 3 == 0 else "walks")
    rosters.shifts_generate(company=company, first=TUESDAY, last=TUESDAY)
    shifts = selectors.shift_drivers(company_id=company.id, day=TUESDAY, tz=company.tz)
    bookings = selectors.day_bookings(company_id=company.id, day=TUESDAY, tz=company.tz)
    day = adapters.day_locations(bookings, shifts, Location(company.lat, company.lon))
    conf = selectors.dispatch_settings_get(company_id=company.id)
    problem = adapters.build_problem(
        day, travel_provider().matrix(day.locations), adapters.DayClock(TUESDAY, company.tz), conf
    )
    assert all(v.shift_break is not None for v in problem.vehicles)
    plan = adapters.solve_day(problem, time_limit_s=5)
    assert check_plan(problem, plan) == []
    assert plan.routes and all(sum(s.kind == "break" for s in r.stops) == 1 for r in plan.routes)


def test_the_checker_refuses_a_route_that_skips_its_break(company, fleet):
    """The gate a run relies on: without the break the same route fails the checker."""
    _trip(company, 9)
    rosters.shifts_generate(company=company, first=TUESDAY, last=TUESDAY)
    shifts = [s for s in selectors.shift_drivers(company_id=company.id, day=TUESDAY, tz=company.tz)]
    bookings = selectors.day_bookings(company_id=company.id, day=TUESDAY, tz=company.tz)
    day = adapters.day_locations(bookings, shifts, Location(company.lat, company.lon))
    conf = selectors.dispatch_settings_get(company_id=company.id)
    clock = adapters.DayClock(TUESDAY, company.tz)
    problem = adapters.build_problem(day, travel_provider().matrix(day.locations), clock, conf)
    plan = adapters.solve_day(problem, time_limit_s=5)
    route = plan.routes[0]
    no_break = type(route)(route.vehicle_id, tuple(s for s in route.stops if s.kind != "break"))
    broken = type(plan)((no_break,), plan.unassigned, plan.drive_seconds, plan.distance_metres)
    assert any(v.kind == "break" for v in check_plan(problem, broken))


def test_unassigned_trips_name_their_true_cause(start, company, fleet, dispatcher_client):
    trips = {
        "no_driver_on_shift": _trip(company, 21),
        "no_vehicle_for_mobility": _trip(company, 10, mobility="stretcher"),
        "no_capacity": _trip(company, 10, 30, passengers=8),
        "ride_time": _trip(
            company, 9, dropoff_lat=GENEVA[0], dropoff_lon=GENEVA[1], appointment_at=at(9, 10)
        ),
        "window_unreachable": _trip(company, 6, 40, pickup_lat=GENEVA[0], pickup_lon=GENEVA[1]),
    }
    run = start(dispatcher_client).json()
    assert run["status"] == "succeeded", run
    got = {u["booking"]: u["reason"] for u in run["unassigned"]}
    assert got == {str(b.id): reason for reason, b in trips.items()}
    words = {u["reason"]: u["detail"] for u in run["unassigned"]}
    assert words["no_driver_on_shift"] == (
        "No driver is on shift for a pick-up between 20:50 and 21:15."
    )
    assert "stretcher" in words["no_vehicle_for_mobility"]
    assert "09:10 appointment" in words["ride_time"]


def test_the_vehicle_of_the_day_decides_what_a_driver_carries(
    start, company, fleet, dispatcher_client
):
    chair = _trip(company, 9, day=1, mobility="wheelchair")  # Wednesday: the early driver's car
    walk = _trip(company, 9, 30, day=1)
    run = start(dispatcher_client, day="2026-12-02").json()
    assert {u["booking"]: u["reason"] for u in run["unassigned"]} == {
        str(chair.id): "no_vehicle_for_mobility"
    }
    walk.refresh_from_db()
    assert (walk.driver_id, walk.vehicle_id) == (fleet.early.id, fleet.car.id)


def test_an_absence_takes_the_driver_out_of_the_run(start, company, fleet, dispatcher_client):
    evening = _trip(company, 18)
    rosters.absence_create(
        company=company,
        driver=fleet.late,
        kind="sickness",
        starts_at=datetime(2026, 12, 1, tzinfo=ZURICH),
        ends_at=datetime(2026, 12, 2, tzinfo=ZURICH),
    )
    run = start(dispatcher_client).json()
    assert {u["booking"]: u["reason"] for u in run["unassigned"]} == {
        str(evening.id): "no_driver_on_shift"
    }


def test_an_office_edit_of_the_days_shift_is_what_the_run_plans(
    start, company, fleet, dispatcher_client
):
    evening = _trip(company, 18)
    rosters.roster_set(driver=fleet.late, entries=[])  # only the early driver is left
    shift = Shift.objects.get(driver=fleet.early, date=TUESDAY)
    rosters.shift_update(shift=shift, changes={"end": time(20, 0), "break_minutes": 0})
    run = start(dispatcher_client).json()
    assert run["unassigned"] == []
    evening.refresh_from_db()
    assert (evening.driver_id, evening.vehicle_id) == (fleet.early.id, fleet.van.id)
    route = run["routes"][0]
    assert not [s for s in route["stops"] if s["kind"] == "break"]


# --- manual assignment checks the shift of that day -------------------------------------------
def _assign(client, booking, driver):
    return client.post(
        f"/api/bookings/{booking.id}/assign", {"driver": str(driver.id)}, format="json"
    )


def test_manual_assignment_takes_the_vehicle_of_the_drivers_shift(
    company, fleet, dispatcher_client
):
    chair = _trip(company, 9, mobility="wheelchair")
    response = _assign(dispatcher_client, chair, fleet.early)
    assert response.status_code == 200, response.json()
    chair.refresh_from_db()
    assert (chair.driver_id, chair.vehicle_id) == (fleet.early.id, fleet.van.id)


def test_manual_assignment_refuses_that_days_unsuitable_vehicle(company, fleet, dispatcher_client):
    chair = _trip(company, 9, day=1, mobility="wheelchair")  # Wednesday: the car
    response = _assign(dispatcher_client, chair, fleet.early)
    assert response.status_code == 400
    assert response.json()["code"] == "vehicle_unsuitable"
    assert "on that day" in response.json()["detail"]
    assert Booking.objects.get(id=chair.id).driver_id is None


def test_manual_assignment_needs_a_shift_covering_the_trip(company, fleet, dispatcher_client):
    evening = _trip(company, 18)
    response = _assign(dispatcher_client, evening, fleet.early)  # early ends at 15:00
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "driver_day_conflict" and body["field"] == "driver"
    assert "no shift between 17:50 and 18:15" in body["detail"]
    assert _assign(dispatcher_client, evening, fleet.late).status_code == 200


def test_manual_assignment_beyond_the_horizon_uses_the_roster(company, fleet, dispatcher_client):
    far = BookingFactory(
        company=company,
        scheduled_at=at(9) + timedelta(days=28),  # a Tuesday four weeks on
        dropoff_lat=NEAR[0],
        dropoff_lon=NEAR[1],
        mobility="wheelchair",
    )
    assert not Shift.objects.filter(date=far.scheduled_at.date()).exists()
    response = _assign(dispatcher_client, far, fleet.early)
    assert response.status_code == 200, response.json()
    far.refresh_from_db()
    assert far.vehicle_id == fleet.van.id


# --- the demo ---------------------------------------------------------------------------------
def test_the_demo_day_plans_rosters_and_names_true_reasons():
    from atmr.demo import seed_demo
    from dispatch import execution, services

    summary = seed_demo(
        password="demo-pass-1", days=1, bookings_per_day=120, start=TUESDAY, progress=list
    )
    company = summary.company
    vans_late = Shift.objects.filter(
        company=company, date=TUESDAY, vehicle__wheelchair_places__gte=1, end__gt=at(18)
    )
    assert vans_late.exists()  # wheelchair vans work late too
    assert Shift.objects.filter(company=company, date=TUESDAY, break_minutes__gt=0).exists()
    run = services.run_start(company=company, service_date=TUESDAY, mode="suggest", enqueue=False)
    run = execution.run_execute(str(run.id))
    run.refresh_from_db()
    assert run.status == "succeeded", run.error  # every plan passed the checker
    shifts = {
        str(s.driver_id): s
        for s in selectors.shift_drivers(company_id=company.id, day=TUESDAY, tz=company.tz)
    }
    for route in run.routes:
        shift = shifts[route["driver"]]
        assert route["vehicle"] == str(shift.vehicle_id)
        assert sum(s["kind"] == "break" for s in route["stops"]) == (
            1 if shift.break_minutes else 0
        )
    late_chairs = Booking.objects.filter(
        company=company, mobility="wheelchair", scheduled_at__gte=at(15), scheduled_at__lt=at(17)
    ).values_list("id", flat=True)
    reasons = {u["booking"]: u["reason"] for u in run.unassigned}
    assert set(reasons.values()) <= {
        "no_driver_on_shift", "no_vehicle_for_mobility", "no_capacity", "window_unreachable",
        "ride_time", "no_room",
    }  # fmt: skip
    assert not [b for b in late_chairs if reasons.get(str(b)) == "window_unreachable"]
