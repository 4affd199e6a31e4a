"""Fitting a trip for today into the live plan: proposals, inserting one, and the proposals
sent when a trip appears. The clock is pinned at 10:00 in Zurich on the factories' day."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from bookings import services as booking_services
from bookings import will_call
from bookings.models import Booking
from dispatch import insertion, live
from dispatch.engine.checker import check_route
from dispatch.engine.live import insertions
from dispatch.local_osrm.fault_proxy import Fault, Mode
from dispatch.local_osrm.synthetic_map import land_points
from dispatch.models import DispatchSettings
from dispatch.travel import travel_provider
from realtime.groups import group_for_company_dispatch, group_for_driver
from tests.admin_helpers import EventListener
from tests.factories import GENEVA, LAUSANNE, ZURICH, BookingFactory, DriverFactory, at

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZURICH)
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]


@pytest.fixture
def listener():
    events = EventListener()
    yield events
    events.close()


@pytest.fixture
def live_day(company):
    """`busy` has an 11:00 Lausanne -> Geneva trip, `idle` nothing; a new 11:05 trip on the
    same road is pending."""
    busy, idle = DriverFactory(company=company), DriverFactory(company=company)
    BookingFactory(company=company, driver=busy, status="assigned", scheduled_at=at(11))
    new = BookingFactory(company=company, scheduled_at=at(11, 5))
    return busy, idle, new


def url(booking, what="insertions"):
    return f"/api/bookings/{booking.id}/{what}"


# --- proposals --------------------------------------------------------------------------------
def test_proposals_are_best_first_with_positions_costs_and_times(live_day):
    busy, idle, new = live_day
    found = insertion.booking_insertions(booking=new)
    assert [p.driver_id for p in found] == [busy.id, idle.id]
    shared = found[0]
    # Pooled with the 11:00 trip on the same road: both picked up, then both dropped.
    assert shared.position in (0, 1) and shared.dropoff_position == 2
    assert shared.extra_drive_seconds == 0 < found[1].extra_drive_seconds
    assert shared.lateness_caused_seconds == 0
    new.refresh_from_db()
    assert new.pickup_earliest <= shared.pickup_at <= new.pickup_latest
    assert shared.pickup_at >= NOW + timedelta(minutes=5)  # the lead time


def test_every_proposal_passes_the_checker(live_day, company):
    _, _, new = live_day
    conf = DispatchSettings.objects.get_or_create(company=company)[0]
    from dispatch import live

    inp = live.live_load(company=company, now=NOW, lead=timedelta(minutes=5), only=new.id)
    target = next(b for b in inp.bookings if b.id == new.id)
    days = insertion._driver_days([inp.for_driver(s, target) for s in inp.shifts], conf)
    found = insertions(days, str(new.id))
    assert len(found) == 2
    for proposal in found:
        (day,) = [d for d in days if d.problem.vehicles[0].id == proposal.vehicle_id]
        assert check_route(day.problem, day.vehicle(proposal.vehicle_id), proposal.route) == []


def test_a_driver_waiting_at_a_pickup_gets_the_new_trip_after_that_trip(company):
    """An arrived trip (its driver at the pick-up) is a fixed stop: nothing goes before it,
    not even a trip on the same road that could be pooled with it."""
    waiting = DriverFactory(company=company)
    BookingFactory(
        company=company, driver=waiting, status="arrived", arrived_at=NOW, scheduled_at=at(10)
    )
    new = BookingFactory(company=company, scheduled_at=at(13))
    found = {p.driver_id: p for p in insertion.booking_insertions(booking=new)}
    assert found[waiting.id].position == 2 and found[waiting.id].dropoff_position == 3


def test_the_api_lists_proposals_for_the_office(live_day, dispatcher_client):
    busy, _, new = live_day
    response = dispatcher_client.get(url(new))
    assert response.status_code == 200
    first = response.json()[0]
    assert first["driver"] == str(busy.id)
    assert set(first) >= {
        "driver",
        "position",
        "extra_drive_seconds",
        "lateness_caused_seconds",
        "pickup_at",
    }


def test_a_trip_with_a_driver_or_of_another_day_is_409(company, live_day, dispatcher_client):
    busy, _, _ = live_day
    assigned = Booking.objects.get(driver=busy)
    response = dispatcher_client.get(url(assigned))
    assert response.status_code == 409 and response.json()["code"] == "booking_not_insertable"
    tomorrow = BookingFactory(company=company, scheduled_at=at(9, day=1))
    assert dispatcher_client.get(url(tomorrow)).status_code == 409


def test_other_companys_booking_is_404_and_drivers_may_not_ask(
    other_company, dispatcher_client, driver_client, live_day
):
    theirs = BookingFactory(company=other_company, scheduled_at=at(11))
    assert dispatcher_client.get(url(theirs)).status_code == 404
    body = {"driver": str(live_day[0].id)}
    assert dispatcher_client.post(url(theirs, "insert"), body, format="json").status_code == 404
    assert driver_client.get(url(live_day[2])).status_code == 403


def test_proposals_read_the_same_rows_for_two_drivers_or_six(company):
    """The places' extra service time (and the rest) is read once for every candidate driver,
    not once per driver; and it still lengthens the stop at such a place."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from places.tests.factories import PlaceFactory

    hug = PlaceFactory(name="HUG", extra_service_minutes=7)

    def driver_with_a_trip(hour):
        BookingFactory(
            company=company,
            driver=DriverFactory(company=company),
            status="assigned",
            scheduled_at=at(hour),
            dropoff_place=hug,
        )

    def queries(booking):
        with CaptureQueriesContext(connection) as ctx:
            found = insertion.booking_insertions(booking=booking)
        return len(ctx.captured_queries), found

    for hour in (11, 12):
        driver_with_a_trip(hour)
    plain = BookingFactory(company=company, scheduled_at=at(14))
    at_hug = BookingFactory(company=company, scheduled_at=at(14), pickup_place=hug)
    _, found_at_hug = queries(at_hug)  # the first also caches the company, makes settings
    two, found = queries(plain)
    for hour in (11, 12, 13, 13):
        driver_with_a_trip(hour)
    six, _ = queries(plain)
    assert two == six
    # The same driver and position for both: the pick-up at the HUG takes 7 minutes longer.
    plain_at = {(p.driver_id, p.position): p for p in found}
    pairs = [(plain_at[p.driver_id, p.position], p) for p in found_at_hug]
    assert pairs and all(
        longer.dropoff_at - alone.dropoff_at == timedelta(minutes=7) for alone, longer in pairs
    )


# --- over OSRM -------------------------------------------------------------------------------
def osrm_day(company, drivers=6):
    """`drivers` drivers, each with a trip of its own between two points of the map around
    11:00-13:00; and a function making a new pending 12:30 trip between two other points."""
    points = iter(land_points(2 * drivers + 4, seed=12))
    for k in range(drivers):
        a, b = next(points), next(points)
        BookingFactory(
            company=company,
            driver=DriverFactory(company=company),
            status="assigned",
            scheduled_at=at(11 + k % 3),
            pickup_lat=a.lat,
            pickup_lon=a.lon,
            dropoff_lat=b.lat,
            dropoff_lon=b.lon,
        )

    def new_trip():
        a, b = next(points), next(points)
        return BookingFactory(
            company=company,
            scheduled_at=at(12, 30),
            pickup_lat=a.lat,
            pickup_lon=a.lon,
            dropoff_lat=b.lat,
            dropoff_lon=b.lon,
        )

    return new_trip


def driver_by_driver(company, booking):
    """The proposals as the engine gives them from each candidate driver's own matrix."""
    conf = DispatchSettings.objects.get_or_create(company=company)[0]
    lead = timedelta(minutes=conf.replan_lead_minutes)
    inp = live.live_load(company=company, now=NOW, lead=lead, only=booking.id)
    target = next(b for b in inp.bookings if b.id == booking.id)
    parts = [inp.for_driver(shift, target) for shift in inp.shifts]
    days = [live.live_day(p, travel_provider().matrix(p.locations), conf) for p in parts]
    return insertions(days, str(booking.id))


def test_proposals_over_osrm_ask_the_new_trips_cells_once_for_every_driver(
    company, fault_proxy, settings, monkeypatch
):
    """Each candidate driver's small day needs the new trip's cells against its stops. Asked
    together: one travel-time cache read and the same two OSRM tables (the trip's points to
    every driver's stops, and back) for six drivers, where driver by driver it took a read
    and two tables each; and the same proposals as each driver's own matrix gives."""
    settings.OSRM_URL = fault_proxy.url
    new_trip = osrm_day(company)
    insertion.booking_insertions(booking=new_trip())  # the drivers' own cells are cached now
    new = new_trip()
    cells = travel_provider().cache  # type: ignore[attr-defined]  # OSRM's: MatrixProvider has none
    reads = []
    read = cells.get_many
    monkeypatch.setattr(cells, "get_many", lambda *a: reads.append(a) or read(*a))
    fault_proxy.clear_log()
    found = insertion.booking_insertions(booking=new)
    tables = [r for r in fault_proxy.requests if r.service == "table"]
    assert len(reads) == 1
    assert len(tables) == 2
    trip = {(new.pickup_lon, new.pickup_lat), (new.dropoff_lon, new.dropoff_lat)}
    assert all(
        set(t.source_coordinates) == trip or set(t.destination_coordinates) == trip for t in tables
    )
    assert found, "the trip fits some driver's day"
    monkeypatch.undo()
    expected = driver_by_driver(company, new)  # from the cache: the same OSRM cells
    assert [
        (
            str(p.driver_id),
            p.position,
            p.dropoff_position,
            p.extra_drive_seconds,
            p.lateness_caused_seconds,
            p.delay_caused_seconds,
        )
        for p in found
    ] == [
        (
            e.vehicle_id,
            e.pickup_position,
            e.dropoff_position,
            e.extra_drive_seconds,
            e.lateness_caused_seconds,
            e.delay_caused_seconds,
        )
        for e in expected
    ]
    assert [p.extra_drive_seconds for p in found] != [
        p.extra_drive_seconds for p in straight_line_proposals(settings, new)
    ], "these are OSRM's times, not the estimate"


def straight_line_proposals(settings, booking):
    url, settings.OSRM_URL = settings.OSRM_URL, ""
    try:
        return insertion.booking_insertions(booking=booking)
    finally:
        settings.OSRM_URL = url


def test_proposals_with_osrm_down_are_the_straight_lines(company, fault_proxy, settings):
    settings.OSRM_URL, settings.OSRM_TIMEOUT_S = fault_proxy.url, 0.5
    new = osrm_day(company)()
    fault_proxy.set_fault(Fault(Mode.STATUS, status=503))
    found = insertion.booking_insertions(booking=new)
    assert fault_proxy.requests, "OSRM was asked"
    assert found and found == straight_line_proposals(settings, new)


# --- inserting --------------------------------------------------------------------------------
def test_insert_gives_the_trip_to_the_driver_who_hears_of_it(
    live_day, dispatcher_client, listener, django_capture_on_commit_callbacks
):
    busy, _, new = live_day
    listener.subscribe(group_for_driver(busy.id))
    with django_capture_on_commit_callbacks(execute=True):
        response = dispatcher_client.post(
            url(new, "insert"), {"driver": str(busy.id), "position": 1}, format="json"
        )
    assert response.status_code == 200, response.json()
    assert response.json()["insertion"]["position"] == 1
    new.refresh_from_db()
    assert (new.status, new.driver_id) == ("assigned", busy.id)
    (event,) = listener.events(group_for_driver(busy.id), 1)
    assert event["type"] == "assignment" and event["action"] == "assigned"


def test_the_live_plan_keeps_an_inserted_trip_where_it_was_fitted(live_day, company):
    """Pooled with the 11:00 trip (both picked up, then dropped), not after it by time; the
    ETAs and the next proposals read that order."""
    from dispatch.live_plan import live_plan

    busy, _, new = live_day
    _, proposal = insertion.booking_insert(booking=new, driver=busy)
    assert proposal.position in (0, 1) and proposal.dropoff_position == 2
    new.refresh_from_db()
    assert new.insert_before is not None
    stops = [
        (s.kind, s.booking_id) for s in live_plan(company_id=company.id, driver_id=busy.id).stops
    ]
    assert stops.index(("pickup", str(new.id))) == proposal.position
    assert stops.index(("dropoff", str(new.id))) == proposal.dropoff_position
    # A stop it was placed before is gone (the other trip cancelled): by its time again.
    Booking.objects.filter(driver=busy).exclude(id=new.id).update(status="cancelled")
    stops = [
        (s.kind, s.booking_id) for s in live_plan(company_id=company.id, driver_id=busy.id).stops
    ]
    assert stops == [("pickup", str(new.id)), ("dropoff", str(new.id))]


def test_insert_where_it_no_longer_fits_is_409_and_changes_nothing(live_day, dispatcher_client):
    busy, _, new = live_day
    response = dispatcher_client.post(
        url(new, "insert"), {"driver": str(busy.id), "position": 7}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "insertion_stale"
    assert response.json()["field"] == "position"
    new.refresh_from_db()
    assert new.status == "pending"


def test_a_driver_whose_shift_is_over_gets_no_insertion(company, dispatcher_client):
    gone = DriverFactory(company=company, shift_end=time(10, 2))
    new = BookingFactory(company=company, scheduled_at=at(11))
    response = dispatcher_client.post(url(new, "insert"), {"driver": str(gone.id)}, format="json")
    assert response.status_code == 409 and response.json()["field"] == "driver"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "driver"),
        ({"driver": "not-a-uuid"}, "driver"),
        ({"driver": "00000000-0000-0000-0000-000000000000"}, "driver"),
        ({"driver": "DRIVER", "position": -1}, "position"),
        ({"driver": "DRIVER", "position": "first"}, "position"),
        ({"driver": "DRIVER", "position": 10**9}, "position"),
    ],
)
def test_bad_insert_input_is_400_naming_the_field(body, field, live_day, dispatcher_client):
    busy, _, new = live_day
    if body.get("driver") == "DRIVER":
        body = {**body, "driver": str(busy.id)}
    response = dispatcher_client.post(url(new, "insert"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    new.refresh_from_db()
    assert new.status == "pending"


def test_another_companys_driver_is_unknown(live_day, other_company, dispatcher_client):
    theirs = DriverFactory(company=other_company)
    new = live_day[2]
    response = dispatcher_client.post(url(new, "insert"), {"driver": str(theirs.id)}, format="json")
    assert response.status_code == 400 and "driver" in response.json()


# --- proposals when a trip appears ----------------------------------------------------------------
def _created(company, django_capture_on_commit_callbacks, **fields):
    client = BookingFactory(company=company).client
    with django_capture_on_commit_callbacks(execute=True):
        return booking_services.booking_create(
            company=company,
            client=client,
            pickup=booking_services.Place("Rue du Lac 5, Lausanne", *LAUSANNE),
            dropoff=booking_services.Place("HUG, Geneva", *GENEVA),
            scheduled_at=at(11, 5),
            **fields,
        )


def test_a_new_trip_for_today_is_proposed_to_the_office(
    company, live_day, listener, django_capture_on_commit_callbacks
):
    office = group_for_company_dispatch(company.id)
    listener.subscribe(office)
    created = _created(company, django_capture_on_commit_callbacks)
    updated, proposed = listener.events(office, 2)
    assert updated["type"] == "booking_updated"
    assert proposed["type"] == "insertion_proposed" and proposed["applied"] is False
    assert proposed["booking"]["id"] == str(created.id)
    assert [p["driver"] for p in proposed["proposals"]] == [
        str(live_day[0].id),
        str(live_day[1].id),
    ]
    created.refresh_from_db()
    assert created.status == "pending"


@pytest.mark.parametrize(
    ("setting", "urgent", "inserted"),
    [("all", False, True), ("urgent", True, True), ("urgent", False, False), ("off", True, False)],
)
def test_auto_insert_applies_the_best_proposal_when_the_company_says_so(
    setting, urgent, inserted, company, live_day, listener, django_capture_on_commit_callbacks
):
    DispatchSettings.objects.update_or_create(company=company, defaults={"auto_insert": setting})
    busy = live_day[0]
    listener.subscribe(group_for_driver(busy.id))
    created = _created(company, django_capture_on_commit_callbacks, urgent=urgent)
    created.refresh_from_db()
    assert (created.driver_id == busy.id) is inserted
    sent = listener.events(group_for_driver(busy.id), 1 if inserted else 0)
    assert [e["action"] for e in sent] == (["assigned"] if inserted else [])


def test_unassigning_a_trip_of_today_proposes_it_again(
    company, live_day, listener, django_capture_on_commit_callbacks
):
    busy = live_day[0]
    trip = Booking.objects.get(driver=busy)
    office = group_for_company_dispatch(company.id)
    listener.subscribe(office)
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_unassign(booking=trip)
    events = listener.events(office, 2)
    assert [e["type"] for e in events] == ["booking_updated", "insertion_proposed"]


def test_releasing_a_will_call_return_proposes_it(
    company, live_day, listener, django_capture_on_commit_callbacks
):
    back = BookingFactory(
        company=company,
        will_call=True,
        scheduled_at=at(9),
        pickup_earliest=at(9),
        pickup_latest=at(23, 59),
    )
    office = group_for_company_dispatch(company.id)
    listener.subscribe(office)
    with django_capture_on_commit_callbacks(execute=True):
        will_call.booking_release(booking=back, in_minutes=30)
    events = listener.events(office, 3)
    assert [e["type"] for e in events] == ["booking_ready", "booking_updated", "insertion_proposed"]
    assert events[2]["booking"]["id"] == str(back.id)


def test_a_trip_for_another_day_proposes_nothing(
    company, live_day, listener, django_capture_on_commit_callbacks
):
    office = group_for_company_dispatch(company.id)
    listener.subscribe(office)
    client = BookingFactory(company=company).client
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_create(
            company=company,
            client=client,
            pickup=booking_services.Place("Rue du Lac 5, Lausanne", *LAUSANNE),
            dropoff=booking_services.Place("HUG, Geneva", *GENEVA),
            scheduled_at=at(11, day=1),
        )
    assert [e["type"] for e in listener.events(office, 1)] == ["booking_updated"]
