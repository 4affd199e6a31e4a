"""The live plan: each driver's stops left today, from the applied run or in time order."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dispatch.live_plan import live_companies, live_plan, live_plans
from dispatch.models import DispatchRun
from tests.factories import GENEVA, LAUSANNE, ZURICH, BookingFactory, DriverFactory, at

pytestmark = [pytest.mark.django_db, pytest.mark.clock(datetime(2026, 12, 1, 8, 0, tzinfo=ZURICH))]


def _trip(company, driver, hour, status="assigned", **kw):
    return BookingFactory(
        company=company, driver=driver, status=status, scheduled_at=at(hour), **kw
    )


def _kinds(plan):
    return [(s.kind, s.booking_id) for s in plan.stops]


def _route_stop(kind, booking, when, where):
    moment = when.isoformat()
    return {
        "kind": kind,
        "booking": str(booking.id) if booking else None,
        "arrival": moment,
        "service_start": moment,
        "departure": (when + timedelta(minutes=2)).isoformat(),
        "seats_load": 0,
        "wheelchair_load": 0,
        "lat": where[0],
        "lon": where[1],
    }


def _applied_run(company, driver, stops):
    route = {"driver": str(driver.id), "driver_name": "", "vehicle": "", "stops": stops}
    return DispatchRun.objects.create(
        company=company,
        service_date=at(8).date(),
        status="succeeded",
        routes=[route],
        applied_at=at(6),
    )


def test_without_a_run_the_trips_in_time_order_on_board_first(company):
    driver = DriverFactory(company=company)
    later = _trip(company, driver, 11)
    first = _trip(company, driver, 9)
    on_board = _trip(company, driver, 10, status="on_board")
    _trip(company, driver, 12, status="completed")
    _trip(company, driver, 13, status="cancelled")
    _trip(company, DriverFactory(company=company), 9)  # another driver's
    plan = live_plan(company_id=company.id, driver_id=driver.id)
    assert plan.source == "assigned"
    assert _kinds(plan) == [
        ("dropoff", str(on_board.id)),
        ("pickup", str(first.id)),
        ("dropoff", str(first.id)),
        ("pickup", str(later.id)),
        ("dropoff", str(later.id)),
    ]


def test_the_applied_run_gives_the_order_and_trips_added_since_fit_in(company):
    driver = DriverFactory(company=company)
    a = _trip(company, driver, 9)
    b = _trip(company, driver, 9)
    done = _trip(company, driver, 8, status="completed")
    start = _route_stop("start", None, at(7), LAUSANNE)
    _applied_run(
        company,
        driver,
        [
            start,
            _route_stop("pickup", done, at(8), LAUSANNE),
            _route_stop("dropoff", done, at(8, 30), GENEVA),
            _route_stop("pickup", b, at(9), LAUSANNE),
            _route_stop("pickup", a, at(9, 5), LAUSANNE),
            _route_stop("dropoff", a, at(10), GENEVA),
            _route_stop("dropoff", b, at(10, 5), GENEVA),
            _route_stop("end", None, at(18), LAUSANNE),
        ],
    )
    added = _trip(company, driver, 11)  # assigned by hand after the run
    plan = live_plan(company_id=company.id, driver_id=driver.id)
    assert plan.source == "plan"
    assert plan.previous is not None and plan.previous["kind"] == "dropoff"
    assert _kinds(plan) == [
        ("pickup", str(b.id)),
        ("pickup", str(a.id)),
        ("dropoff", str(a.id)),
        ("dropoff", str(b.id)),
        ("pickup", str(added.id)),
        ("dropoff", str(added.id)),
    ]
    assert plan.stops[0].planned_arrival == at(9)


def test_an_on_board_trip_keeps_only_its_drop_off_and_a_moved_trip_leaves(company):
    driver, other = DriverFactory(company=company), DriverFactory(company=company)
    a = _trip(company, driver, 9, status="on_board")
    moved = _trip(company, other, 9)  # planned for `driver`, given to `other` since
    _applied_run(
        company,
        driver,
        [
            _route_stop("start", None, at(7), LAUSANNE),
            _route_stop("pickup", a, at(9), LAUSANNE),
            _route_stop("pickup", moved, at(9, 10), LAUSANNE),
            _route_stop("dropoff", a, at(10), GENEVA),
            _route_stop("dropoff", moved, at(10, 5), GENEVA),
        ],
    )
    plans = live_plans(company_id=company.id)
    assert _kinds(plans[str(driver.id)]) == [("dropoff", str(a.id))]
    assert plans[str(driver.id)].previous["kind"] == "pickup"
    assert _kinds(plans[str(other.id)]) == [
        ("pickup", str(moved.id)),
        ("dropoff", str(moved.id)),
    ]


def test_all_drivers_in_a_constant_number_of_queries(company, django_assert_max_num_queries):
    for _ in range(4):
        driver = DriverFactory(company=company)
        _trip(company, driver, 9)
        _trip(company, driver, 10)
    live_plans(company_id=company.id)  # the company is cached from here on
    with django_assert_max_num_queries(2):  # the applied run, the trips
        plans = live_plans(company_id=company.id)
    assert len(plans) == 4 and all(len(p.stops) == 4 for p in plans.values())


def test_scoped_to_the_company(company, other_company):
    theirs = DriverFactory(company=other_company)
    _trip(other_company, theirs, 9)
    assert live_plans(company_id=company.id) == {}
    assert live_plan(company_id=company.id, driver_id=theirs.id).stops == ()
    assert live_companies() == [str(other_company.id)]


def test_the_replan_and_insertion_loader_orders_a_drivers_work_as_the_live_plan(company):
    """dispatch/live.py (re-plan from now, insertions) takes each driver's order from here:
    the applied run's, and a trip assigned since fitted in by its pick-up time."""
    from dispatch import live

    driver = DriverFactory(company=company)
    a, b = _trip(company, driver, 9), _trip(company, driver, 9)
    waiting = _trip(company, driver, 8, status="arrived")
    _applied_run(
        company,
        driver,
        [
            _route_stop("start", None, at(7), LAUSANNE),
            _route_stop("pickup", waiting, at(8), LAUSANNE),
            _route_stop("dropoff", waiting, at(8, 30), GENEVA),
            _route_stop("pickup", b, at(9), LAUSANNE),
            _route_stop("pickup", a, at(9, 5), LAUSANNE),
            _route_stop("dropoff", a, at(10), GENEVA),
            _route_stop("dropoff", b, at(10, 5), GENEVA),
        ],
    )
    added = BookingFactory(
        company=company, driver=driver, status="assigned", scheduled_at=at(9, 30)
    )
    # ^ by hand since the run: fitted in before the 10:00 drop-off
    inp = live.live_load(company=company, now=at(8), lead=timedelta(minutes=5))
    vehicle = live._live_vehicle(str(driver.id), inp.by_driver[driver.id], inp)
    loader = [(str(v.kind), v.request_id) for v in (*vehicle.prefix, *vehicle.planned)]
    assert loader == _kinds(live_plan(company_id=company.id, driver_id=driver.id))
    assert loader[:2] == [("pickup", str(waiting.id)), ("dropoff", str(waiting.id))]
    assert loader[2:5] == [("pickup", str(b.id)), ("pickup", str(a.id)), ("pickup", str(added.id))]
