"""Night shifts past midnight: generation across the clock change, the shifts on a day,
and the overlaps refused with the driver's other shifts and absences."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from drivers import rosters
from drivers.models import Shift
from tests.factories import ZURICH, DriverFactory

MONDAY, TUESDAY = date(2026, 11, 30), date(2026, 12, 1)
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=ZURICH)  # the Sunday before
NIGHT = {"start": "22:00", "end": "06:00"}

pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW, tick=True)]


def _utc(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


@pytest.fixture
def bare_driver(company):
    return DriverFactory(company=company, roster=False)


def _night(driver, *weekdays, **extra):
    entries = [{"weekday": d, "start": time(22), "end": time(6), **extra} for d in weekdays]
    return rosters.roster_set(driver=driver, entries=entries)


# --- the clock change -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("night_of", "hours"),
    [(date(2026, 10, 24), 9), (date(2027, 3, 27), 7), (date(2026, 11, 30), 8)],
)
def test_a_night_shift_over_a_clock_change_keeps_its_wall_clock_ends(night_of, hours):
    times = rosters.shift_times(night_of, ZURICH, start=time(22), end=time(6))
    assert times.end - times.start == timedelta(hours=hours)
    assert times.start.astimezone(ZURICH) == datetime.combine(night_of, time(22), ZURICH)
    assert times.end.astimezone(ZURICH) == datetime.combine(
        night_of + timedelta(days=1), time(6), ZURICH
    )


# --- the shifts on a day ----------------------------------------------------------------------
def test_the_shifts_on_a_day_hold_the_night_shift_of_the_evening_before(company, bare_driver):
    _night(bare_driver, 1)  # Monday night into Tuesday
    day = DriverFactory(company=company, roster=False)
    rosters.roster_set(driver=day, entries=[{"weekday": 1, "start": time(14), "end": time(0)}])
    on_tuesday = rosters.shifts_on_day(company_id=company.id, day=TUESDAY, tz=ZURICH)
    # The 14:00-24:00 shift ends at Tuesday's midnight: not on during Tuesday.
    assert [(s.driver_id, s.date) for s in on_tuesday] == [(bare_driver.id, MONDAY)]
    on_monday = rosters.shifts_on_day(company_id=company.id, day=MONDAY, tz=ZURICH)
    assert {s.driver_id for s in on_monday} == {bare_driver.id, day.id}


def test_api_lists_the_shifts_on_a_day_with_their_moments(
    bare_driver, dispatcher_client, django_assert_num_queries
):
    _night(bare_driver, 1)
    dispatcher_client.get("/api/companies/me")  # warm the company cache like a live client
    with django_assert_num_queries(2):  # count, the page joined with drivers and vehicles
        body = dispatcher_client.get("/api/shifts?on=2026-12-01").json()
    assert [(s["date"], s["start"], s["end"]) for s in body["results"]] == [
        ("2026-11-30", "2026-11-30T21:00:00Z", "2026-12-01T05:00:00Z")
    ]
    assert dispatcher_client.get("/api/shifts?date=2026-12-01").json()["count"] == 0
    bad = dispatcher_client.get("/api/shifts?on=tuesday")
    assert bad.status_code == 400 and "on" in bad.json()


# --- overlaps ---------------------------------------------------------------------------------
def test_a_week_whose_night_shift_runs_into_the_next_days_is_refused(
    bare_driver, dispatcher_client
):
    body = {
        "entries": [
            {"weekday": 7, **NIGHT},
            {"weekday": 1, "start": "05:30", "end": "14:00"},  # Sunday's night ends at 06:00
        ]
    }
    url = f"/api/drivers/{bare_driver.id}/roster"
    response = dispatcher_client.put(url, body, format="json")
    assert response.status_code == 400 and response.json()["field"] == "entries"
    assert "Sun" in response.json()["detail"]
    assert not Shift.objects.filter(driver=bare_driver).exists()
    body["entries"][1]["start"] = "06:00"  # back to back is fine
    assert dispatcher_client.put(url, body, format="json").status_code == 200


def test_office_shift_overlapping_a_night_shift_is_a_400_naming_the_field(
    bare_driver, dispatcher_client
):
    _night(bare_driver, 1)
    body = {"driver": str(bare_driver.id), "date": "2026-12-01", "start": "05:00", "end": "13:00"}
    response = dispatcher_client.post("/api/shifts", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == "start"
    # Wednesday's early shift first, then Tuesday night running into it: its end is wrong.
    early = {"driver": str(bare_driver.id), "date": "2026-12-02", "start": "05:00", "end": "13:00"}
    assert dispatcher_client.post("/api/shifts", early, format="json").status_code == 201
    night = {"driver": str(bare_driver.id), "date": "2026-12-01", **NIGHT}
    response = dispatcher_client.post("/api/shifts", night, format="json")
    assert response.status_code == 400 and response.json()["field"] == "end"
    assert "2026-12-02" in response.json()["detail"]
    created = dispatcher_client.post("/api/shifts", {**body, "start": "06:00"}, format="json")
    assert created.status_code == 201, created.json()
    # Moving Tuesday's start into Monday night's is refused the same way.
    moved = dispatcher_client.patch(
        f"/api/shifts/{created.json()['id']}", {"start": "05:59"}, format="json"
    )
    assert moved.status_code == 400 and moved.json()["field"] == "start"
    assert Shift.objects.get(id=created.json()["id"]).start == _utc(2026, 12, 1, 5)


def test_generation_cuts_a_night_shift_where_the_offices_next_shift_begins(bare_driver):
    tuesday = rosters.shift_create(
        company=bare_driver.company,
        data={"driver": bare_driver, "date": TUESDAY, "start": time(4), "end": time(12)},
    )
    _night(bare_driver, 1)
    monday = Shift.objects.get(driver=bare_driver, date=MONDAY)
    assert (monday.start, monday.end) == (_utc(2026, 11, 30, 21), tuesday.start)


def test_an_absence_over_the_evening_leaves_the_hours_after_midnight(bare_driver):
    _night(bare_driver, 1)
    rosters.absence_create(
        company=bare_driver.company,
        driver=bare_driver,
        kind="sickness",
        starts_at=datetime(2026, 11, 30, 0, 0, tzinfo=ZURICH),
        ends_at=datetime(2026, 12, 1, 0, 0, tzinfo=ZURICH),
    )
    shift = Shift.objects.get(driver=bare_driver, date=MONDAY, off=False)
    assert (shift.start, shift.end) == (_utc(2026, 11, 30, 23), _utc(2026, 12, 1, 5))


def test_office_shift_an_absence_covers_whole_is_refused(bare_driver, dispatcher_client):
    rosters.absence_create(
        company=bare_driver.company,
        driver=bare_driver,
        kind="vacation",
        starts_at=datetime(2026, 12, 2, 0, 0, tzinfo=ZURICH),
        ends_at=datetime(2026, 12, 4, 0, 0, tzinfo=ZURICH),
    )
    body = {"driver": str(bare_driver.id), "date": "2026-12-02", **NIGHT}
    response = dispatcher_client.post("/api/shifts", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == "start"
    assert not Shift.objects.filter(driver=bare_driver, off=False).exists()


def test_admin_week_whose_night_runs_into_the_next_day_is_a_form_error(bare_driver, admin_web):
    url = f"/admin/drivers/driver/{bare_driver.id}/change/"
    form = {
        "user": bare_driver.user_id,
        "phone": bare_driver.phone,
        "status": bare_driver.status,
        "default_vehicle": bare_driver.default_vehicle_id,
        "active": "on",
        "home_lat": bare_driver.home_lat,
        "home_lon": bare_driver.home_lon,
        "roster-TOTAL_FORMS": "2",
        "roster-INITIAL_FORMS": "0",
        "roster-MIN_NUM_FORMS": "0",
        "roster-MAX_NUM_FORMS": "7",
        "roster-0-weekday": "1",
        "roster-0-start": "22:00",
        "roster-0-end": "06:00",
        "roster-0-break_minutes": "0",
        "roster-1-weekday": "2",
        "roster-1-start": "05:00",
        "roster-1-end": "12:00",
        "roster-1-break_minutes": "0",
    }
    refused = admin_web.post(url, form)
    assert refused.status_code == 200
    assert "Mon&#x27;s shift runs to 06:00 on Tue" in refused.content.decode()
    assert not Shift.objects.filter(driver=bare_driver).exists()
    form["roster-1-start"] = "06:00"
    assert admin_web.post(url, form).status_code == 302
    assert Shift.objects.get(driver=bare_driver, date=MONDAY).end == _utc(2026, 12, 1, 5)
