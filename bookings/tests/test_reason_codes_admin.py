"""The back-office asks for a reason code on cancel and no-show, filters by code and late, and
lets company admins edit their codes under the API's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bookings.models import Booking, ReasonCode
from tests.admin_helpers import booking_change_data, cancel_action
from tests.factories import BookingFactory, DriverFactory

THE_DAY_BEFORE = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("admin_zone"),
    pytest.mark.clock(THE_DAY_BEFORE),
]


def _code(company, code: str) -> ReasonCode:
    return ReasonCode.objects.get(company=company, code=code)


def _change(web, booking, **overrides):
    return web.post(
        f"/admin/bookings/booking/{booking.id}/change/", booking_change_data(booking, **overrides)
    )


def _errors(response) -> str:
    assert response.status_code == 200, "the form was expected back with errors"
    return str(response.context["adminform"].form.errors)


# --- the booking's change form --------------------------------------------------------------
def test_change_form_cancels_with_a_code_and_flags_late(company, staff_web):
    booking = BookingFactory(company=company, scheduled_at=THE_DAY_BEFORE + timedelta(hours=5))
    breakdown = _code(company, "vehicle_breakdown")
    response = _change(staff_web, booking, status="cancelled", cancel_code=breakdown.id)
    assert response.status_code == 302, _errors(response)
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_code, booking.cancel_reason) == (
        "cancelled",
        breakdown,
        "",
    )
    assert booking.cancelled_late is True and booking.cancelled_at == THE_DAY_BEFORE


@pytest.mark.parametrize("code", ["series_ended", "no_show", "inactive", "foreign"])
def test_change_form_refuses_a_code_a_person_may_not_choose(
    company, other_company, staff_web, code
):
    booking = BookingFactory(company=company)
    if code == "inactive":
        ReasonCode.objects.filter(company=company, code="weather").update(active=False)
        chosen = _code(company, "weather")
    elif code == "foreign":
        chosen = _code(other_company, "weather")
    else:
        chosen = _code(company, code)
    errors = _errors(_change(staff_web, booking, status="cancelled", cancel_code=chosen.id))
    assert "cancel_code" in errors
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_code) == ("pending", None)


def test_change_form_reports_a_no_show_with_or_without_a_code(company, staff_web):
    driver = DriverFactory(company=company)
    coded = BookingFactory(company=company, driver=driver, status="en_route")
    plain = BookingFactory(company=company, driver=driver, status="en_route")
    hospital = _code(company, "patient_hospitalised")
    response = _change(
        staff_web, coded, status="no_show", cancel_code=hospital.id, cancel_reason="Ward 4"
    )
    assert response.status_code == 302, _errors(response)
    assert _change(staff_web, plain, status="no_show").status_code == 302
    coded.refresh_from_db(), plain.refresh_from_db()
    assert (coded.status, coded.cancel_code, coded.cancel_reason) == ("no_show", hospital, "Ward 4")
    assert plain.cancel_code.code == "no_show"


def test_a_code_without_cancelling_is_refused(company, staff_web):
    booking = BookingFactory(company=company)
    errors = _errors(_change(staff_web, booking, cancel_code=_code(company, "weather").id))
    assert "goes with cancelling" in errors
    booking.refresh_from_db()
    assert booking.cancel_code is None


# --- the cancel action ----------------------------------------------------------------------
def test_cancel_action_offers_what_people_may_choose(company, staff_web):
    booking = BookingFactory(company=company)
    page = cancel_action(staff_web, booking)
    offered = [value for value, _ in page.context["form"].fields["code"].choices if value]
    assert offered == [
        "patient_cancelled",
        "facility_cancelled",
        "patient_hospitalised",
        "weather",
        "vehicle_breakdown",
        "other",
    ]


def test_cancel_action_records_code_text_and_late_flag(company, staff_web):
    soon = BookingFactory(company=company, scheduled_at=THE_DAY_BEFORE + timedelta(hours=2))
    later = BookingFactory(company=company)  # tomorrow 09:00: more than 24 h ahead
    response = cancel_action(
        staff_web,
        soon,
        later,
        confirm="yes",
        code="facility_cancelled",
        reason="Clinic closed",
        follow=True,
    )
    assert any("2 booking(s) updated" in str(m) for m in response.context["messages"])
    soon.refresh_from_db(), later.refresh_from_db()
    for booking in (soon, later):
        assert booking.cancel_code == _code(company, "facility_cancelled")
        assert booking.cancel_reason == "Clinic closed"
    assert (soon.cancelled_late, later.cancelled_late) == (True, False)


def test_cancel_action_refuses_a_code_not_offered(company, staff_web):
    booking = BookingFactory(company=company)
    page = cancel_action(staff_web, booking, confirm="yes", code="series_ended")
    assert page.status_code == 200 and "code" in page.context["form"].errors
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING


def test_changelist_filters_by_code_and_late(company, staff_web):
    late = BookingFactory(company=company, scheduled_at=THE_DAY_BEFORE + timedelta(hours=2))
    in_time = BookingFactory(company=company)
    for booking in (late, in_time):
        cancel_action(staff_web, booking, confirm="yes", code="weather")
    weather = _code(company, "weather")
    page = staff_web.get(f"/admin/bookings/booking/?cancel_code__id__exact={weather.id}")
    assert page.context["cl"].result_count == 2
    page = staff_web.get("/admin/bookings/booking/?cancelled_late__exact=1")
    assert [b.id for b in page.context["cl"].result_list] == [late.id]


# --- the reason codes' own admin ------------------------------------------------------------
def test_company_admin_adds_a_code(company, admin_web):
    response = admin_web.post(
        "/admin/bookings/reasoncode/add/",
        {
            "code": "Strike",
            "label": "Strike",
            "kind": "cancellation",
            "active": "on",
            "ordering": 55,
        },
    )
    assert response.status_code == 302
    added = _code(company, "strike")  # stored lower-case
    assert (added.label, added.kind, added.active, added.system) == (
        "Strike",
        "cancellation",
        True,
        False,
    )


def test_duplicate_code_is_a_form_error(company, admin_web):
    response = admin_web.post(
        "/admin/bookings/reasoncode/add/",
        {"code": "weather", "label": "Again", "kind": "both", "active": "on", "ordering": 5},
    )
    assert response.status_code == 200
    assert "code" in response.context["adminform"].form.errors
    assert company.reason_codes.filter(code="weather").count() == 1


def test_system_code_keeps_its_kind_and_stays_in_use(company, admin_web):
    ended = _code(company, "series_ended")
    url = f"/admin/bookings/reasoncode/{ended.id}/change/"
    form = admin_web.get(url).context["adminform"].form
    assert {"code", "kind", "active"}.isdisjoint(form.fields)
    response = admin_web.post(url, {"label": "Fin de série", "ordering": 100, "kind": "both"})
    assert response.status_code == 302
    ended.refresh_from_db()
    assert (ended.label, ended.kind, ended.active) == ("Fin de série", "cancellation", True)


def test_the_no_show_fallback_stays_a_no_show_reason(company, admin_web):
    no_show = _code(company, "no_show")
    url = f"/admin/bookings/reasoncode/{no_show.id}/change/"
    response = admin_web.post(
        url, {"label": "No-show", "kind": "cancellation", "active": "on", "ordering": 30}
    )
    assert response.status_code == 200
    assert "kind" in response.context["adminform"].form.errors
    no_show.refresh_from_db()
    assert no_show.kind == "no_show"


def test_dispatchers_read_codes_but_may_not_edit_or_delete(company, other_company, staff_web):
    weather = _code(company, "weather")
    listed = staff_web.get("/admin/bookings/reasoncode/")
    assert listed.status_code == 200
    assert {code.company_id for code in listed.context["cl"].result_list} == {company.id}
    url = f"/admin/bookings/reasoncode/{weather.id}/change/"
    assert staff_web.post(url, {"label": "Mine", "ordering": 1}).status_code == 403
    assert staff_web.get("/admin/bookings/reasoncode/add/").status_code == 403
    assert staff_web.post(f"/admin/bookings/reasoncode/{weather.id}/delete/").status_code == 403
    foreign = _code(other_company, "weather")
    assert staff_web.get(f"/admin/bookings/reasoncode/{foreign.id}/change/").status_code == 302
    weather.refresh_from_db()
    assert weather.label == "Weather"


def test_superuser_adds_a_code_for_the_company_chosen(company, other_company, superuser_web):
    response = superuser_web.post(
        "/admin/bookings/reasoncode/add/",
        {
            "company": other_company.id,
            "code": "strike",
            "label": "Grève",
            "kind": "both",
            "active": "on",
            "ordering": 5,
        },
    )
    assert response.status_code == 302
    assert _code(other_company, "strike").label == "Grève"
    assert not company.reason_codes.filter(code="strike").exists()
