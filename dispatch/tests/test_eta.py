"""ETAs of the live day: from where the driver is, over OSRM or the straight-line fall-back,
with lateness, the ride-time flag and the events the office and the driver get."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from channels.layers import get_channel_layer

from bookings.models import Booking
from dispatch.engine import straight_line
from dispatch.engine.geo import Location
from dispatch.engine.kvstore import InMemoryStore
from dispatch.engine.travel import OsrmMatrixProvider
from dispatch.eta import company_etas_refresh, driver_etas_compute
from dispatch.local_osrm.fault_proxy import Fault, Mode
from dispatch.selectors import dispatch_settings_get
from drivers.models import Shift
from realtime.groups import group_for_company_dispatch, group_for_driver
from realtime.publish import publish
from tests.factories import GENEVA, LAUSANNE, ZURICH, BookingFactory, DriverFactory, at

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZURICH)
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]
SERVICE = timedelta(seconds=120)  # a walking patient's stop, the default settings


def leg(a, b) -> timedelta:
    return timedelta(seconds=straight_line.estimate(Location(*a), Location(*b))[0])


class GroupEvents:
    """A subscriber to one group on the real channel layer."""

    def __init__(self, group: str) -> None:
        self.group, self.layer = group, get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(self.layer.group_add(group, self.channel))

    def until_marker(self) -> list[dict]:
        publish(self.group, {"type": "test_marker"})
        events = []
        while True:
            message = self.loop.run_until_complete(
                asyncio.wait_for(self.layer.receive(self.channel), 30)
            )
            if message["event"]["type"] == "test_marker":
                return events
            events.append(message["event"])

    def close(self) -> None:
        self.loop.run_until_complete(self.layer.group_discard(self.group, self.channel))
        self.loop.close()


@pytest.fixture
def office(company):
    events = GroupEvents(group_for_company_dispatch(company.id))
    yield events
    events.close()


@pytest.fixture
def here_driver(company):
    """A driver whose phone reported from Lausanne a minute ago."""
    return DriverFactory(
        company=company,
        last_lat=LAUSANNE[0],
        last_lon=LAUSANNE[1],
        last_seen_at=NOW - timedelta(minutes=1),
    )


def _trip(company, driver, **kw) -> Booking:
    return BookingFactory(company=company, driver=driver, status="assigned", **kw)


def test_etas_from_a_fresh_position_over_the_fall_back(company, here_driver):
    trip = _trip(company, here_driver, scheduled_at=at(8, 30))  # Lausanne -> Geneva
    result = driver_etas_compute(company_id=company.id, driver_id=here_driver.id)
    trip.refresh_from_db()
    assert result.start == "position" and result.source == "straight_line"
    assert trip.eta_pickup == NOW  # it is there already; the window opens at 08:20
    assert trip.eta_dropoff == at(8, 20) + SERVICE + leg(LAUSANNE, GENEVA)
    assert trip.eta_source == "straight_line" and trip.eta_computed_at == NOW
    assert trip.lateness == "on_time" and not trip.ride_too_long


def test_a_stale_position_starts_at_the_shift_and_never_before_now(company):
    driver = DriverFactory(
        company=company,
        last_lat=GENEVA[0],
        last_lon=GENEVA[1],
        last_seen_at=NOW - timedelta(minutes=4),
    )
    Shift.objects.filter(driver=driver, date=NOW.date()).update(start=at(8, 30))  # rostered
    trip = _trip(company, driver, scheduled_at=at(9), pickup_lat=GENEVA[0], pickup_lon=GENEVA[1])
    result = driver_etas_compute(company_id=company.id, driver_id=driver.id)
    trip.refresh_from_db()
    assert result.start == "shift"  # from home (Lausanne) at 08:30, not from Geneva
    assert trip.eta_pickup == at(8, 30) + leg(LAUSANNE, GENEVA)
    Shift.objects.filter(driver=driver).update(start=at(6))
    driver_etas_compute(company_id=company.id, driver_id=driver.id)
    trip.refresh_from_db()
    assert trip.eta_pickup == NOW + leg(LAUSANNE, GENEVA)  # the shift began earlier: now


def test_lateness_states_and_late_risk_events(
    company, here_driver, office, django_capture_on_commit_callbacks
):
    def refresh():
        with django_capture_on_commit_callbacks(execute=True):
            company_etas_refresh(company_id=company.id)

    drive = at(8, 20) + SERVICE + leg(LAUSANNE, GENEVA)  # drop-off ETA
    late = _trip(
        company, here_driver, scheduled_at=at(8, 30), appointment_at=drive - timedelta(minutes=1)
    )
    with_driver = GroupEvents(group_for_driver(here_driver.id))
    try:
        refresh()
        late.refresh_from_db()
        assert late.lateness == "late"
        events = office.until_marker()
        assert [e["type"] for e in events] == ["eta_updated", "late_risk"]
        updated, risk = events
        assert updated["driver_id"] == str(here_driver.id) and updated["start"] == "position"
        assert [(s["kind"], s["booking_id"], s["lateness"]) for s in updated["stops"]] == [
            ("pickup", str(late.id), "late"),
            ("dropoff", str(late.id), "late"),
        ]
        assert updated["stops"][1]["eta"] == drive.isoformat()
        assert risk["booking"]["id"] == str(late.id)
        assert (risk["lateness"], risk["previous"], risk["reason"]) == ("late", "", "appointment")
        assert risk["slack_seconds"] == -60
        assert [e["type"] for e in with_driver.until_marker()] == ["eta_updated"]
        # 3 minutes of slack: under the 5-minute margin, at risk; the state change is sent.
        Booking.objects.filter(id=late.id).update(appointment_at=drive + timedelta(minutes=3))
        refresh()
        risk = office.until_marker()[1]
        assert (risk["lateness"], risk["previous"], risk["reason"]) == (
            "at_risk",
            "late",
            "appointment",
        )
        # Unchanged state: no late_risk again.
        refresh()
        assert [e["type"] for e in office.until_marker()] == ["eta_updated"]
        company.late_margin_minutes = 2
        company.save()
        refresh()
        assert office.until_marker()[1]["lateness"] == "on_time"
    finally:
        with_driver.close()


def test_a_pick_up_after_the_window_is_late(company, here_driver):
    far = _trip(
        company, here_driver, scheduled_at=at(8, 5), pickup_lat=GENEVA[0], pickup_lon=GENEVA[1]
    )
    company_etas_refresh(company_id=company.id)
    far.refresh_from_db()
    assert far.eta_pickup == NOW + leg(LAUSANNE, GENEVA)
    assert far.eta_pickup > far.pickup_latest and far.lateness == "late"


def test_a_ride_longer_than_the_maximum_is_flagged(company, here_driver):
    conf = dispatch_settings_get(company_id=company.id)
    conf.max_ride_factor, conf.max_ride_extra_minutes = 1.0, 5
    conf.save()
    # Picked up in Lausanne, then a detour to Geneva for another patient before her drop-off
    # next door: the order a run planned (an on-board patient's drop-off comes first otherwise).
    near = (46.53, 6.64)
    a = _trip(
        company, here_driver, scheduled_at=at(8, 10), dropoff_lat=near[0], dropoff_lon=near[1]
    )
    b = _trip(company, here_driver, scheduled_at=at(8, 10))
    from dispatch.models import DispatchRun

    def stop(kind, booking, where):
        t = at(8).isoformat()
        return {
            "kind": kind,
            "booking": str(booking.id),
            "arrival": t,
            "service_start": t,
            "departure": t,
            "seats_load": 0,
            "wheelchair_load": 0,
            "lat": where[0],
            "lon": where[1],
        }

    DispatchRun.objects.create(
        company=company,
        service_date=NOW.date(),
        status="succeeded",
        applied_at=at(6),
        routes=[
            {
                "driver": str(here_driver.id),
                "driver_name": "",
                "vehicle": "",
                "stops": [
                    stop("pickup", a, LAUSANNE),
                    stop("pickup", b, LAUSANNE),
                    stop("dropoff", b, GENEVA),
                    stop("dropoff", a, near),
                ],
            }
        ],
    )
    company_etas_refresh(company_id=company.id)
    a.refresh_from_db(), b.refresh_from_db()
    assert a.ride_too_long and not b.ride_too_long


def test_done_and_other_companies_trips_are_not_touched(company, other_company, here_driver):
    done = _trip(company, here_driver, scheduled_at=at(8, 30))
    Booking.objects.filter(id=done.id).update(status="completed")
    theirs = BookingFactory(
        company=other_company,
        driver=DriverFactory(company=other_company),
        status="assigned",
        scheduled_at=at(8, 30),
    )
    company_etas_refresh(company_id=company.id)
    # Another company's driver named explicitly: nothing of it is read or written.
    company_etas_refresh(company_id=company.id, driver_ids=[theirs.driver_id])
    done.refresh_from_db(), theirs.refresh_from_db()
    assert done.eta_computed_at is None and theirs.eta_computed_at is None


def test_the_refresh_costs_a_constant_number_of_queries(company, django_assert_max_num_queries):
    for _ in range(5):
        driver = DriverFactory(
            company=company, last_lat=LAUSANNE[0], last_lon=LAUSANNE[1], last_seen_at=NOW
        )
        _trip(company, driver, scheduled_at=at(8, 30))
        _trip(company, driver, scheduled_at=at(11))
    company_etas_refresh(company_id=company.id)
    # savepoint, run, trips, settings, drivers, shifts, update, release (the company is cached,
    # no trip names a place); the same for 5 drivers as for 1
    with django_assert_max_num_queries(8):
        results = company_etas_refresh(company_id=company.id)
    assert len(results) == 5
    assert Booking.objects.filter(company=company, eta_computed_at=NOW).count() == 10


@pytest.mark.django_db(transaction=True)
def test_etas_over_the_real_osrm(company, here_driver, osrm_server, settings):
    settings.OSRM_URL = osrm_server
    trip = _trip(company, here_driver, scheduled_at=at(8, 30))
    result = driver_etas_compute(company_id=company.id, driver_id=here_driver.id)
    trip.refresh_from_db()
    road = OsrmMatrixProvider(osrm_server, store=InMemoryStore()).pairs(
        [Location(*LAUSANNE), Location(*GENEVA)], [(0, 1)]
    )
    assert not road.fallback and result.source == "osrm" and trip.eta_source == "osrm"
    assert trip.eta_dropoff == at(8, 20) + SERVICE + timedelta(seconds=road.seconds[0, 1])
    assert road.seconds[0, 1] != leg(LAUSANNE, GENEVA).total_seconds()


@pytest.mark.django_db(transaction=True)
def test_osrm_down_falls_back_to_straight_lines_and_says_so(
    company, here_driver, fault_proxy, settings
):
    settings.OSRM_URL, settings.OSRM_TIMEOUT_S = fault_proxy.url, 0.5
    fault_proxy.set_fault(Fault(Mode.STATUS, status=503))
    trip = _trip(company, here_driver, scheduled_at=at(8, 30))
    driver_etas_compute(company_id=company.id, driver_id=here_driver.id)
    trip.refresh_from_db()
    assert trip.eta_source == "straight_line"
    assert trip.eta_dropoff == at(8, 20) + SERVICE + leg(LAUSANNE, GENEVA)


def test_the_list_filters_late_trips_and_shows_their_etas(
    company, other_company, here_driver, dispatcher_client
):
    drive = at(8, 20) + SERVICE + leg(LAUSANNE, GENEVA)
    late = _trip(
        company, here_driver, scheduled_at=at(8, 30), appointment_at=drive - timedelta(minutes=1)
    )
    second = DriverFactory(
        company=company, last_lat=LAUSANNE[0], last_lon=LAUSANNE[1], last_seen_at=NOW
    )
    risky = _trip(
        company, second, scheduled_at=at(8, 30), appointment_at=drive + timedelta(minutes=3)
    )
    fine = _trip(company, DriverFactory(company=company), scheduled_at=at(14))
    theirs = BookingFactory(
        company=other_company,
        status="assigned",
        driver=DriverFactory(company=other_company),
        lateness="late",
    )
    company_etas_refresh(company_id=company.id)
    body = dispatcher_client.get("/api/bookings?date=2026-12-01&late=true").json()
    listed = {row["id"]: row for row in body["results"]}
    assert set(listed) == {str(late.id), str(risky.id)}  # not `theirs`
    assert listed[str(risky.id)]["lateness"] == "at_risk"
    row = listed[str(late.id)]
    assert (row["lateness"], row["eta_source"]) == ("late", "straight_line")
    assert row["eta_dropoff"] == drive.astimezone(UTC).isoformat().replace("+00:00", "Z")
    others = dispatcher_client.get("/api/bookings?date=2026-12-01&late=false").json()["results"]
    assert {r["id"] for r in others} == {str(fine.id)}
    assert str(theirs.id) not in others
    bad = dispatcher_client.get("/api/bookings?date=2026-12-01&late=maybe")
    assert bad.status_code == 400 and "late" in bad.json()


def test_the_minutes_beat_refreshes_every_company_with_trips_under_way(
    company, other_company, here_driver
):
    from dispatch.tasks import refresh_etas

    mine = _trip(company, here_driver, scheduled_at=at(8, 30))
    theirs = BookingFactory(
        company=other_company,
        status="en_route",
        driver=DriverFactory(company=other_company),
        scheduled_at=at(9),
    )
    pending = BookingFactory(company=company, scheduled_at=at(10))
    assert refresh_etas() == 2
    mine.refresh_from_db(), theirs.refresh_from_db(), pending.refresh_from_db()
    assert mine.eta_computed_at == NOW and theirs.eta_computed_at == NOW
    assert pending.eta_computed_at is None


def test_a_patient_not_ready_moves_the_pick_up_and_every_later_stop_with_the_clock(
    company, here_driver, office, django_capture_on_commit_callbacks
):
    """The driver `arrived` at 08:00 and the patient is not on board: the pick-up happens no
    earlier than now, so its ETA, its drop-off and the driver's next trip (a return without an
    appointment) follow the clock, and the office hears each change of state."""
    from bookings.services import booking_set_status
    from dispatch.tasks import refresh_etas

    waiting = _trip(company, here_driver, scheduled_at=at(8))  # window 07:50-08:15
    Booking.objects.filter(id=waiting.id).update(status="en_route")
    waiting.refresh_from_db()
    # 08:00 + loading + the drive to Geneva + unloading, with the window ending 10 min later.
    reaches = NOW + 2 * SERVICE + leg(LAUSANNE, GENEVA)
    back = _trip(
        company,
        here_driver,
        scheduled_at=reaches - timedelta(minutes=5),
        pickup_latest=reaches + timedelta(minutes=10),
        pickup_lat=GENEVA[0],
        pickup_lon=GENEVA[1],
        dropoff_lat=LAUSANNE[0],
        dropoff_lon=LAUSANNE[1],
    )

    def stored():
        waiting.refresh_from_db(), back.refresh_from_db()
        return waiting, back

    with django_capture_on_commit_callbacks(execute=True):
        booking_set_status(booking=waiting, status="arrived", driver=here_driver)
    a, b = stored()
    assert (a.status, a.arrived_at, a.eta_pickup, a.lateness) == ("arrived", NOW, NOW, "on_time")
    first_dropoff, first_back = a.eta_dropoff, b.eta_pickup
    assert first_dropoff == NOW + SERVICE + leg(LAUSANNE, GENEVA)
    assert b.lateness == "on_time"
    assert [e["type"] for e in office.until_marker()] == ["booking_updated", "eta_updated"]

    def minute(at_: datetime) -> list[dict]:
        with time_machine.travel(at_, tick=False), django_capture_on_commit_callbacks(execute=True):
            refresh_etas()  # the minute's beat
        return office.until_marker()

    # 08:12, still waiting: 3 minutes left of the window (under the 5-minute margin); the
    # return's window ends exactly when the driver would now reach it.
    events = minute(at(8, 12))
    a, b = stored()
    assert a.arrived_at == NOW and a.eta_pickup == at(8, 12)
    assert a.eta_dropoff == first_dropoff + timedelta(minutes=10)  # departs at 08:12, not 08:02
    assert b.eta_pickup == first_back + timedelta(minutes=10)
    assert (a.lateness, b.lateness) == ("at_risk", "at_risk")
    risks = [
        (e["booking"]["id"], e["lateness"], e["previous"], e["reason"], e["slack_seconds"])
        for e in events
        if e["type"] == "late_risk"
    ]
    assert risks == [
        (str(a.id), "at_risk", "on_time", "pickup_window", 180),
        (str(b.id), "at_risk", "on_time", "pickup_window", 0),
    ]
    updated = next(e for e in events if e["type"] == "eta_updated")
    assert updated["stops"][0]["eta"] == at(8, 12).isoformat()

    # 08:16: past the window's end and still waiting: late, and so is the return.
    events = minute(at(8, 16))
    a, b = stored()
    assert a.eta_pickup == at(8, 16) and a.eta_pickup > a.pickup_latest
    assert b.eta_pickup == first_back + timedelta(minutes=14)
    assert (a.lateness, b.lateness) == ("late", "late")
    risks = [
        (e["booking"]["id"], e["lateness"], e["previous"], e["slack_seconds"])
        for e in events
        if e["type"] == "late_risk"
    ]
    assert risks == [(str(a.id), "late", "at_risk", -60), (str(b.id), "late", "at_risk", -240)]

    # On board at 08:17: the pick-up is done; the drop-off leaves from now.
    moment = time_machine.travel(at(8, 17), tick=False)
    with moment, django_capture_on_commit_callbacks(execute=True):
        booking_set_status(booking=a, status="on_board", driver=here_driver)
    a, b = stored()
    assert a.arrived_at == NOW and a.eta_dropoff == at(8, 17) + leg(LAUSANNE, GENEVA)
