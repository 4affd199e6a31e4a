"""Rosters: weekly templates, the shifts they make, office edits and absences, API and admin."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.apps import apps

from drivers import rosters
from drivers.models import Absence, RosterEntry, Shift
from drivers.tasks import generate_shifts
from tests.factories import ZURICH, DriverFactory, VehicleFactory

MONDAY = date(2026, 11, 30)  # winter time in Zurich: UTC+1
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=ZURICH)  # the Sunday before


pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW, tick=True)]


def _utc(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def _week(**entry):
    base = {"weekday": 1, "start": "07:00", "end": "16:00"}
    return {"entries": [{**base, **entry}]}


@pytest.fixture
def bare_driver(company):
    return DriverFactory(company=company, roster=False)


# --- the rule ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("times", "field"),
    [
        ({"start": time(7), "end": time(7)}, "end"),
        ({"break_minutes": 30}, "break_earliest"),
        ({"break_earliest": time(12), "break_latest": time(13)}, "break_minutes"),
        (
            {"break_earliest": time(6), "break_latest": time(7, 30), "break_minutes": 30},
            "break_earliest",
        ),
        (
            {"break_earliest": time(15), "break_latest": time(17), "break_minutes": 30},
            "break_latest",
        ),
        (
            {"break_earliest": time(12), "break_latest": time(12, 20), "break_minutes": 30},
            "break_latest",
        ),
    ],
)
def test_shift_times_rule_names_the_field(times, field):
    args = {"start": time(7), "end": time(16), **times}
    assert rosters.shift_times_error(**args)[0] == field


def test_night_shift_with_its_break_after_midnight_is_valid():
    args = dict(start=time(22), end=time(6), break_earliest=time(1), break_latest=time(3))
    assert rosters.shift_times_error(**args, break_minutes=30) is None
    times = rosters.shift_times(MONDAY, ZURICH, **args, break_minutes=30)
    assert times.start == _utc(2026, 11, 30, 21) and times.end == _utc(2026, 12, 1, 5)
    assert times.break_earliest == _utc(2026, 12, 1, 0)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 3), (date(2026, 10, 25), 5), (date(2026, 6, 1), 4)],
)
def test_a_shift_keeps_its_wall_clock_times_over_a_clock_change(day, hours):
    times = rosters.shift_times(day, ZURICH, start=time(1), end=time(5))
    assert times.end - times.start == timedelta(hours=hours)
    assert times.start.astimezone(ZURICH).time() == time(1)
    assert times.end.astimezone(ZURICH).time() == time(5)


# --- generation -------------------------------------------------------------------------------
def test_put_roster_generates_the_horizon_and_generation_is_idempotent(
    bare_driver, dispatcher_client
):
    van = VehicleFactory(company=bare_driver.company, wheelchair_places=2)
    body = {
        "entries": [
            {
                "weekday": 1,
                "start": "07:00",
                "end": "16:00",
                "vehicle": str(van.id),
                "break_earliest": "11:00",
                "break_latest": "13:30",
                "break_minutes": 30,
            },
            {"weekday": 2, "start": "22:00", "end": "06:00"},
        ]
    }
    response = dispatcher_client.put(f"/api/drivers/{bare_driver.id}/roster", body, format="json")
    assert response.status_code == 200, response.json()
    assert [e["weekday"] for e in response.json()["entries"]] == [1, 2]
    assert response.json()["entries"][0]["vehicle"]["id"] == str(van.id)
    shifts = Shift.objects.filter(driver=bare_driver).order_by("date")
    # Sunday 29 Nov + 14 days: Mondays 30 Nov, 7 Dec; Tuesdays 1 Dec, 8 Dec.
    assert [s.date for s in shifts] == [
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 7),
        date(2026, 12, 8),
    ]
    monday = shifts[0]
    assert (monday.start, monday.end) == (_utc(2026, 11, 30, 6), _utc(2026, 11, 30, 15))
    assert monday.vehicle == van and monday.break_minutes == 30
    assert monday.break_earliest == _utc(2026, 11, 30, 10)
    tuesday = shifts[1]
    assert tuesday.vehicle == bare_driver.default_vehicle  # no vehicle: the default one
    assert tuesday.end == _utc(2026, 12, 2, 5)  # the next morning
    before = list(shifts.values_list("id", "start", "end", "vehicle_id"))
    assert rosters.shifts_generate_horizon(company=bare_driver.company) == 0
    assert generate_shifts() == 0  # the nightly task
    assert list(shifts.values_list("id", "start", "end", "vehicle_id")) == before


def test_roster_change_updates_generated_shifts_but_not_edited_or_removed_ones(
    bare_driver, dispatcher_client
):
    url = f"/api/drivers/{bare_driver.id}/roster"
    dispatcher_client.put(
        url,
        {
            "entries": [
                {"weekday": 1, "start": "07:00", "end": "16:00"},
                {"weekday": 2, "start": "07:00", "end": "16:00"},
                {"weekday": 3, "start": "07:00", "end": "16:00"},
            ]
        },
        format="json",
    )
    shifts = {s.date: s for s in Shift.objects.filter(driver=bare_driver)}
    edited = dispatcher_client.patch(
        f"/api/shifts/{shifts[date(2026, 12, 1)].id}", {"end": "12:00"}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["edited"] is True
    assert edited.json()["end"] == "2026-12-01T11:00:00Z"
    removed = dispatcher_client.delete(f"/api/shifts/{shifts[date(2026, 12, 2)].id}")
    assert removed.status_code == 204
    dispatcher_client.put(
        url,
        {"entries": [{"weekday": d, "start": "08:00", "end": "17:00"} for d in (1, 2, 3)]},
        format="json",
    )
    after = {s.date: s for s in Shift.objects.filter(driver=bare_driver, off=False)}
    assert after[date(2026, 11, 30)].start == _utc(2026, 11, 30, 7)  # regenerated
    assert after[date(2026, 12, 1)].end == _utc(2026, 12, 1, 11)  # the office's edit stays
    assert date(2026, 12, 2) not in after  # the office's removal stays
    listed = dispatcher_client.get("/api/shifts?date=2026-12-02").json()
    assert listed["count"] == 0


def test_legacy_shift_is_migrated_into_every_weekday(company):
    driver = DriverFactory(company=company, roster=False, shift_start=time(6, 30))
    no_shift = DriverFactory(company=company, roster=False, shift_start=None, shift_end=None)
    from importlib import import_module

    migration = import_module("drivers.migrations.0004_rosters")
    migration.driver_shifts_to_roster(apps, None)
    week = RosterEntry.objects.filter(driver=driver).order_by("weekday")
    assert [(e.weekday, e.start, e.end) for e in week] == [
        (d, time(6, 30), time(18, 0)) for d in range(1, 8)
    ]
    assert week[0].vehicle == driver.default_vehicle
    assert not RosterEntry.objects.filter(driver=no_shift).exists()


def test_a_driver_created_with_a_shift_gets_that_week(company, dispatcher_client):
    response = dispatcher_client.post(
        "/api/drivers",
        {
            "email": "new@example.test",
            "first_name": "N",
            "last_name": "D",
            "shift_start": "07:00",
            "shift_end": "15:00",
        },
        format="json",
    )
    assert response.status_code == 201
    roster = dispatcher_client.get(f"/api/drivers/{response.json()['id']}/roster").json()
    assert len(roster["entries"]) == 7 and roster["entries"][0]["start"] == "07:00:00"


# --- absences ---------------------------------------------------------------------------------
def test_whole_day_absence_removes_shifts_and_part_day_cuts_them(bare_driver, dispatcher_client):
    rosters.roster_set(
        driver=bare_driver,
        entries=[
            {
                "weekday": d,
                "start": time(7),
                "end": time(16),
                "break_earliest": time(11),
                "break_latest": time(14),
                "break_minutes": 30,
            }
            for d in (1, 2, 3)
        ],
    )
    vacation = dispatcher_client.post(
        "/api/absences",
        {
            "driver": str(bare_driver.id),
            "kind": "vacation",
            "start_date": "2026-11-30",
            "end_date": "2026-12-01",
        },
        format="json",
    )
    assert vacation.status_code == 201, vacation.json()
    assert vacation.json()["ends_at"] == "2026-12-01T23:00:00Z"
    training = dispatcher_client.post(
        "/api/absences",
        {
            "driver": str(bare_driver.id),
            "kind": "training",
            "start_date": "2026-12-02",
            "end_date": "2026-12-02",
            "start_time": "06:00",
            "end_time": "12:30",
        },
        format="json",
    )
    assert training.status_code == 201, training.json()
    days = {s.date: s for s in Shift.objects.filter(driver=bare_driver, off=False)}
    assert date(2026, 11, 30) not in days and date(2026, 12, 1) not in days
    wednesday = days[date(2026, 12, 2)]
    assert (wednesday.start, wednesday.end) == (_utc(2026, 12, 2, 11, 30), _utc(2026, 12, 2, 15))
    assert wednesday.break_earliest == _utc(2026, 12, 2, 11, 30)  # the break moved with it
    # Regeneration keeps the absences out.
    rosters.shifts_generate_horizon(company=bare_driver.company)
    assert not Shift.objects.filter(driver=bare_driver, date=date(2026, 11, 30)).exists()
    assert Shift.objects.get(driver=bare_driver, date=date(2026, 12, 2)).start == wednesday.start
    listed = dispatcher_client.get("/api/absences").json()
    assert [a["kind"] for a in listed["results"]] == ["training", "vacation"]


def test_an_absence_cuts_an_office_shift_and_deleting_it_gives_the_day_back(bare_driver):
    rosters.roster_set(
        driver=bare_driver, entries=[{"weekday": 2, "start": time(7), "end": time(16)}]
    )
    shift = Shift.objects.get(driver=bare_driver, date=date(2026, 12, 1))
    rosters.shift_update(shift=shift, changes={"end": time(18)})
    absence = rosters.absence_create(
        company=bare_driver.company,
        driver=bare_driver,
        kind="sickness",
        starts_at=_utc(2026, 12, 1, 0),
        ends_at=_utc(2026, 12, 1, 10),
    )
    shift.refresh_from_db()
    assert (shift.start, shift.end, shift.edited) == (
        _utc(2026, 12, 1, 10),
        _utc(2026, 12, 1, 17),
        True,
    )
    rosters.absence_delete(absence=absence)
    assert not Absence.objects.exists()


# --- API contract: validation, tenancy, queries -----------------------------------------------
@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"end": "07:00"}, "end"),
        (
            {"break_earliest": "17:00", "break_latest": "18:00", "break_minutes": 30},
            "break_earliest",
        ),
        ({"weekday": 8}, "weekday"),
        ({"start": "7am"}, "start"),
    ],
)
def test_bad_roster_is_a_400_naming_the_field(bare_driver, dispatcher_client, entry, field):
    response = dispatcher_client.put(
        f"/api/drivers/{bare_driver.id}/roster", _week(**entry), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["entries"][0]
    assert not RosterEntry.objects.filter(driver=bare_driver).exists()


def test_repeated_weekday_is_a_400(bare_driver, dispatcher_client):
    body = {"entries": _week()["entries"] * 2}
    response = dispatcher_client.put(f"/api/drivers/{bare_driver.id}/roster", body, format="json")
    assert response.status_code == 400 and "entries" in response.json()


def test_other_companies_rosters_shifts_and_vehicles_are_unknown(
    bare_driver, other_company, dispatcher_client, other_dispatcher_client
):
    rosters.roster_set(
        driver=bare_driver, entries=[{"weekday": 1, "start": time(7), "end": time(16)}]
    )
    shift = Shift.objects.get(driver=bare_driver, date=MONDAY)
    url = f"/api/drivers/{bare_driver.id}/roster"
    assert other_dispatcher_client.get(url).status_code == 404
    assert other_dispatcher_client.put(url, _week(), format="json").status_code == 404
    assert other_dispatcher_client.get(f"/api/shifts/{shift.id}").status_code == 404
    assert (
        other_dispatcher_client.patch(
            f"/api/shifts/{shift.id}", {"end": "12:00"}, format="json"
        ).status_code
        == 404
    )
    assert other_dispatcher_client.delete(f"/api/shifts/{shift.id}").status_code == 404
    assert other_dispatcher_client.get("/api/shifts?date=2026-11-30").json()["count"] == 0
    foreign_van = VehicleFactory(company=other_company)
    response = dispatcher_client.put(url, _week(vehicle=str(foreign_van.id)), format="json")
    assert response.status_code == 400 and "vehicle" in response.json()["entries"][0]
    response = other_dispatcher_client.post(
        "/api/absences",
        {
            "driver": str(bare_driver.id),
            "kind": "vacation",
            "start_date": "2026-12-01",
            "end_date": "2026-12-01",
        },
        format="json",
    )
    assert response.status_code == 400 and "driver" in response.json()
    response = other_dispatcher_client.post(
        "/api/shifts",
        {
            "driver": str(bare_driver.id),
            "date": "2026-12-01",
            "start": "07:00",
            "end": "09:00",
        },
        format="json",
    )
    assert response.status_code == 400 and "driver" in response.json()
    assert Shift.objects.get(driver=bare_driver, date=MONDAY) == shift


def test_post_shift_validates_and_refuses_a_second_shift_that_day(bare_driver, dispatcher_client):
    body = {
        "driver": str(bare_driver.id),
        "date": "2026-12-03",
        "start": "07:00",
        "end": "15:00",
        "break_earliest": "16:00",
        "break_latest": "17:00",
        "break_minutes": 20,
    }
    response = dispatcher_client.post("/api/shifts", body, format="json")
    assert response.status_code == 400 and "break_earliest" in response.json()
    body |= {"break_earliest": "11:00", "break_latest": "12:00"}
    created = dispatcher_client.post("/api/shifts", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["start"] == "2026-12-03T06:00:00Z" and created.json()["edited"]
    again = dispatcher_client.post("/api/shifts", body, format="json")
    assert again.status_code == 409 and again.json()["field"] == "date"
    bad = dispatcher_client.patch(
        f"/api/shifts/{created.json()['id']}", {"end": "10:00"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["field"] == "break_earliest"
    day = dispatcher_client.get("/api/shifts?date=2026-12-03").json()
    assert [s["id"] for s in day["results"]] == [created.json()["id"]]
    assert dispatcher_client.get("/api/shifts?date=someday").status_code == 400


def test_drivers_may_not_edit_rosters(bare_driver, client_for):
    own = client_for(bare_driver.user)
    response = own.put(f"/api/drivers/{bare_driver.id}/roster", _week(), format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("rows", [1, 200])
def test_shift_and_absence_lists_keep_their_queries(
    company, dispatcher_client, django_assert_num_queries, rows
):
    for _ in range(rows):
        driver = DriverFactory(company=company, roster=False)
        Shift.objects.create(
            company=company,
            driver=driver,
            date=MONDAY,
            vehicle=driver.default_vehicle,
            start=_utc(2026, 11, 30, 6),
            end=_utc(2026, 11, 30, 15),
        )
        Absence.objects.create(
            company=company,
            driver=driver,
            kind="vacation",
            starts_at=_utc(2026, 12, 5, 0),
            ends_at=_utc(2026, 12, 6, 0),
        )
    with django_assert_num_queries(2):  # count, the page joined with drivers and vehicles
        body = dispatcher_client.get("/api/shifts?date=2026-11-30&page_size=500").json()
    assert body["count"] == rows
    with django_assert_num_queries(2):  # count, the page joined with drivers
        assert dispatcher_client.get("/api/absences?page_size=500").json()["count"] == rows


# --- admin ------------------------------------------------------------------------------------
def test_admin_driver_page_edits_the_week_through_the_roster_service(bare_driver, admin_web):
    url = f"/admin/drivers/driver/{bare_driver.id}/change/"
    page = admin_web.get(url)
    assert page.status_code == 200 and "roster-TOTAL_FORMS" in page.content.decode()
    form = {
        "user": bare_driver.user_id,
        "phone": bare_driver.phone,
        "status": bare_driver.status,
        "default_vehicle": bare_driver.default_vehicle_id,
        "active": "on",
        "shift_start": "07:00",
        "shift_end": "18:00",
        "home_lat": bare_driver.home_lat,
        "home_lon": bare_driver.home_lon,
        "roster-TOTAL_FORMS": "1",
        "roster-INITIAL_FORMS": "0",
        "roster-MIN_NUM_FORMS": "0",
        "roster-MAX_NUM_FORMS": "7",
        "roster-0-weekday": "1",
        "roster-0-start": "07:00",
        "roster-0-end": "07:00",
        "roster-0-break_minutes": "0",
    }
    refused = admin_web.post(url, form)
    assert refused.status_code == 200 and "must not end when it starts" in refused.content.decode()
    form["roster-0-end"] = "15:00"
    saved = admin_web.post(url, form)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert Shift.objects.get(driver=bare_driver, date=MONDAY).end == _utc(2026, 11, 30, 14)


def test_admin_shift_and_absence_pages(bare_driver, admin_web):
    rosters.roster_set(
        driver=bare_driver, entries=[{"weekday": 1, "start": time(7), "end": time(16)}]
    )
    shift = Shift.objects.get(driver=bare_driver, date=MONDAY)
    listing = admin_web.get("/admin/drivers/shift/?date=2026-11-30")
    assert listing.status_code == 200 and str(shift.id) in listing.content.decode()
    changed = admin_web.post(
        f"/admin/drivers/shift/{shift.id}/change/",
        {
            "start_time": "06:00",
            "end_time": "12:00",
            "vehicle": shift.vehicle_id,
            "break_minutes": "0",
        },
    )
    assert changed.status_code == 302, changed.content.decode()[:3000]
    shift.refresh_from_db()
    assert shift.edited and shift.start == _utc(2026, 11, 30, 5)
    added = admin_web.post(
        "/admin/drivers/absence/add/",
        {
            "driver": bare_driver.id,
            "kind": "sickness",
            "starts_at_0": "2026-11-30",
            "starts_at_1": "00:00",
            "ends_at_0": "2026-12-01",
            "ends_at_1": "00:00",
            "note": "",
        },
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    shift.refresh_from_db()
    assert shift.off  # the office's shift yields to the sickness


def test_options_on_a_roster_tells_another_company_nothing_more_than_a_missing_id(
    bare_driver, dispatcher_client, other_dispatcher_client
):
    url = f"/api/drivers/{bare_driver.id}/roster"
    own = dispatcher_client.options(url)
    assert own.status_code == 200 and "PUT" in own.json()["actions"]
    foreign = other_dispatcher_client.options(url)
    missing = other_dispatcher_client.options(
        "/api/drivers/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12 + "/roster"
    )
    assert foreign.status_code == 200 and foreign.json() == missing.json()
    assert "actions" not in foreign.json()


def test_admin_adds_a_shift_through_the_service_and_refuses_a_second(bare_driver, admin_web):
    form = {
        "driver": bare_driver.id, "date": "2026-12-03", "start_time": "22:00",
        "end_time": "06:00", "vehicle": bare_driver.default_vehicle_id, "break_minutes": "0",
    }  # fmt: skip
    added = admin_web.post("/admin/drivers/shift/add/", form)
    assert added.status_code == 302, added.content.decode()[:3000]
    shift = Shift.objects.get(driver=bare_driver, date=date(2026, 12, 3))
    assert shift.edited and shift.end == _utc(2026, 12, 4, 5)  # the next morning
    again = admin_web.post("/admin/drivers/shift/add/", form)
    assert again.status_code == 200 and "already has a shift" in again.content.decode()


def test_absences_list_by_driver(company, other_company, dispatcher_client):
    one, two = DriverFactory(company=company), DriverFactory(company=company)
    foreign = DriverFactory(company=other_company)
    for driver in (one, two, foreign):
        rosters.absence_create(
            company=driver.company,
            driver=driver,
            kind=Absence.Kind.SICKNESS,
            starts_at=_utc(2026, 12, 2, 6),
            ends_at=_utc(2026, 12, 2, 18),
        )
    assert dispatcher_client.get("/api/absences").json()["count"] == 2
    mine = dispatcher_client.get(f"/api/absences?driver={one.id}").json()
    assert [a["driver"] for a in mine["results"]] == [str(one.id)]
    # Another company's driver reads like one without absences; a bad id names the field.
    assert dispatcher_client.get(f"/api/absences?driver={foreign.id}").json()["count"] == 0
    bad = dispatcher_client.get("/api/absences?driver=not-an-id")
    assert bad.status_code == 400 and "driver" in bad.json()
