"""Reason codes: one editable list per company, recorded on cancellations and no-shows, with
the late flag at the company's notice; the API's validation, roles, filters and query counts."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command

from atmr.accounts.models import Company
from atmr.accounts.services import company_create
from bookings import reasons, services
from bookings.models import Booking, ReasonCode
from bookings.reasons import ReasonCodeInvalid
from tests.factories import BookingFactory, CompanyFactory, DriverFactory, UserFactory

STANDARD = {
    "patient_cancelled",
    "facility_cancelled",
    "no_show",
    "patient_hospitalised",
    "weather",
    "vehicle_breakdown",
    "other",
    "series_ended",
}
# The bookings here are at 09:00 (Zurich) on 2026-12-01; the day before is well before it.
THE_DAY_BEFORE = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


pytestmark = [pytest.mark.django_db, pytest.mark.clock(THE_DAY_BEFORE)]


def _code(company, code: str) -> ReasonCode:
    return ReasonCode.objects.get(company=company, code=code)


def _names(answer: dict, field: str) -> bool:
    """A 400 names `field`: a rule's error (`{"code", "detail", "field"}`) or a field error."""
    if "detail" in answer:
        return answer.get("field") == field
    return isinstance(answer.get(field), list)


def _cancel(api, booking, **body):
    return api.post(f"/api/bookings/{booking.id}/cancel", body, format="json")


# --- the list per company -------------------------------------------------------------------
def test_every_company_gets_its_own_standard_codes(company, other_company):
    made = company_create(
        name="Gamma Transports", admin_email="boss@gamma.test", admin_password="x-Tr4nsp0rt-x"
    )
    for each in (company, other_company, made):
        assert set(each.reason_codes.values_list("code", flat=True)) == STANDARD
    assert _code(company, "weather").id != _code(other_company, "weather").id
    system = ReasonCode.objects.filter(company=company, system=True)
    assert list(system.values_list("code", flat=True)) == ["series_ended"]


def test_seeding_again_adds_only_what_is_missing_and_keeps_edits(company):
    reasons.reason_code_update(reason=_code(company, "weather"), changes={"label": "Neige"})
    _code(company, "vehicle_breakdown").delete()
    reasons.reason_codes_seed(company_id=company.id)
    assert company.reason_codes.count() == len(STANDARD)
    assert _code(company, "weather").label == "Neige"


def test_migration_seeds_existing_companies_and_codes_their_ended_trips(company):
    cancelled = BookingFactory(company=company, status="cancelled", cancel_reason="flu")
    missed = BookingFactory(company=company, status="no_show")
    ReasonCode.objects.filter(company=company).delete()  # as before the migration
    migration = importlib.import_module("bookings.migrations.0008_reason_codes")
    migration.seed(apps, None)
    assert set(company.reason_codes.values_list("code", flat=True)) == STANDARD
    cancelled.refresh_from_db(), missed.refresh_from_db()
    assert (cancelled.cancel_code.code, cancelled.cancel_reason) == ("other", "flu")
    assert missed.cancel_code.code == "no_show"


def test_the_demo_company_has_the_standard_codes():
    args = ["--days", "1", "--bookings-per-day", "5"]
    call_command("seed_demo", *args, stdout=StringIO())
    demo = Company.objects.get(name="Demo Transports")
    demo.reason_codes.filter(code="weather").delete()  # e.g. a demo database older than codes
    call_command("seed_demo", *args, stdout=StringIO())
    assert set(demo.reason_codes.values_list("code", flat=True)) == STANDARD


# --- cancelling: the code and the late flag -------------------------------------------------
@pytest.mark.parametrize(
    ("before_pickup", "late"),
    [
        (timedelta(hours=24, seconds=1), False),
        (timedelta(hours=24), False),  # exactly the notice: in time
        (timedelta(hours=24) - timedelta(seconds=1), True),
        (timedelta(minutes=-30), True),  # after the pick-up time
    ],
)
def test_late_flag_at_the_notice_boundary(company, before_pickup, late):
    booking = BookingFactory(company=company)
    moment = booking.scheduled_at - before_pickup
    with time_machine.travel(moment, tick=False):
        services.booking_cancel(booking=booking, code=_code(company, "patient_cancelled"))
    booking.refresh_from_db()
    assert booking.cancelled_late is late
    assert booking.cancelled_at == moment
    assert booking.cancel_code.code == "patient_cancelled"


def test_the_notice_is_the_companys(company):
    company.cancel_notice_hours = 48
    company.save(update_fields=["cancel_notice_hours"])
    booking = BookingFactory(company=company)
    with time_machine.travel(booking.scheduled_at - timedelta(hours=30), tick=False):
        services.booking_cancel(booking=booking, code="weather")
    booking.refresh_from_db()
    assert booking.cancelled_late is True


def test_services_may_record_a_system_code_and_default_to_other(company):
    ended, plain = BookingFactory(company=company), BookingFactory(company=company)
    services.booking_cancel(booking=ended, code=reasons.SERIES_ENDED, reason="order ended")
    services.booking_cancel(booking=plain)
    ended.refresh_from_db(), plain.refresh_from_db()
    assert (ended.cancel_code.code, ended.cancel_reason) == ("series_ended", "order ended")
    assert plain.cancel_code.code == "other"


def test_another_companys_code_is_refused_by_the_service(company, other_company):
    booking = BookingFactory(company=company)
    with pytest.raises(ReasonCodeInvalid) as refused:
        services.booking_cancel(booking=booking, code=_code(other_company, "weather"))
    assert refused.value.field == "code"
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_code) == ("pending", None)


# --- no-shows -------------------------------------------------------------------------------
def _on_the_way(company):
    driver = DriverFactory(company=company)
    return BookingFactory(company=company, driver=driver, status="en_route")


def test_no_show_records_its_code_or_no_show(company):
    coded, plain = _on_the_way(company), _on_the_way(company)
    hospital = _code(company, "patient_hospitalised")
    services.booking_set_status(booking=coded, status="no_show", code=hospital, reason="ward 4")
    services.booking_set_status(booking=plain, status="no_show")
    coded.refresh_from_db(), plain.refresh_from_db()
    assert (coded.cancel_code, coded.cancel_reason) == (hospital, "ward 4")
    assert plain.cancel_code.code == "no_show"
    assert coded.cancelled_at == THE_DAY_BEFORE and coded.cancelled_late is False


def test_a_code_that_does_not_fit_is_refused(company):
    booking = _on_the_way(company)
    with pytest.raises(ReasonCodeInvalid, match="not a reason for a no-show"):
        services.booking_set_status(booking=booking, status="no_show", code="weather")
    with pytest.raises(ReasonCodeInvalid, match="goes with a cancellation or no-show"):
        services.booking_set_status(booking=booking, status="on_board", code="other")
    with pytest.raises(ReasonCodeInvalid) as refused:
        services.booking_set_status(booking=booking, status="on_board", reason="late")
    assert refused.value.field == "reason"
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_code) == ("en_route", None)


# --- the cancel API -------------------------------------------------------------------------
def test_cancel_api_records_code_text_and_late_flag(company, dispatcher_client):
    booking = BookingFactory(company=company, scheduled_at=THE_DAY_BEFORE + timedelta(hours=2))
    weather = _code(company, "weather")
    response = _cancel(dispatcher_client, booking, code="weather", reason="Snow")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["cancel_code"] == {"id": str(weather.id), "code": "weather", "label": "Weather"}
    assert (body["cancel_reason"], body["cancelled_late"]) == ("Snow", True)
    assert body["cancelled_at"] == "2026-11-30T07:00:00Z"


def test_cancel_api_takes_the_codes_id_too(company, dispatcher_client):
    booking = BookingFactory(company=company)
    facility = _code(company, "facility_cancelled")
    response = _cancel(dispatcher_client, booking, code=str(facility.id))
    assert response.status_code == 200
    assert response.json()["cancelled_late"] is False  # a day ahead: in time
    booking.refresh_from_db()
    assert (booking.cancel_code, booking.cancel_reason) == (facility, "")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (None, "required"),
        ("", "may not be blank"),
        ("strike", "Unknown reason code"),
        ("series_ended", "Unknown reason code"),  # a system code is not offered to people
        ("no_show", "not a reason for a cancellation"),
        ("inactive", "not in use"),
        ("foreign", "Unknown reason code"),
        (12, "Unknown reason code"),
        ("x" * 101, "no more than 100"),
    ],
)
def test_cancel_api_refuses_a_bad_code_naming_it(
    company, other_company, dispatcher_client, code, words
):
    booking = BookingFactory(company=company)
    if code == "inactive":
        reasons.reason_code_update(reason=_code(company, "weather"), changes={"active": False})
        code = "weather"
    if code == "foreign":
        code = str(_code(other_company, "weather").id)
    body = {} if code is None else {"code": code}
    response = _cancel(dispatcher_client, booking, **body)
    assert response.status_code == 400
    assert words in str(response.json()["code"])
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_code) == ("pending", None)


def test_another_companys_booking_cannot_be_cancelled(other_company, dispatcher_client):
    foreign = BookingFactory(company=other_company)
    assert _cancel(dispatcher_client, foreign, code="weather").status_code == 404


# --- /api/reason-codes ----------------------------------------------------------------------
def test_list_is_the_companys_in_order_and_everyone_reads_it(
    company, other_company, dispatcher_client, driver_client
):
    reasons.reason_code_create(company_id=other_company.id, code="strike", label="Strike")
    for api in (dispatcher_client, driver_client):
        response = api.get("/api/reason-codes")
        assert response.status_code == 200
        codes = [row["code"] for row in response.json()]
        assert codes[:3] == ["patient_cancelled", "facility_cancelled", "no_show"]
        assert set(codes) == STANDARD
    ended = next(r for r in response.json() if r["code"] == "series_ended")
    assert ended["system"] is True and ended["kind"] == "cancellation"


def test_list_filters_by_kind_and_active(company, dispatcher_client):
    reasons.reason_code_update(reason=_code(company, "other"), changes={"active": False})
    no_show = dispatcher_client.get("/api/reason-codes?kind=no_show&active=true").json()
    assert [r["code"] for r in no_show] == ["no_show", "patient_hospitalised"]
    both = dispatcher_client.get("/api/reason-codes?kind=both").json()
    assert [r["code"] for r in both] == ["patient_hospitalised", "other"]
    assert dispatcher_client.get("/api/reason-codes?kind=sometimes").status_code == 400


def test_admin_adds_and_edits_codes_dispatchers_may_not(
    company, admin_client_api, dispatcher_client
):
    new = {"code": "Strike", "label": "Strike", "kind": "cancellation", "ordering": 55}
    assert dispatcher_client.post("/api/reason-codes", new, format="json").status_code == 403
    created = admin_client_api.post("/api/reason-codes", new, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["code"], body["active"], body["system"]) == ("strike", True, False)
    url = f"/api/reason-codes/{body['id']}"
    assert dispatcher_client.patch(url, {"label": "Grève"}, format="json").status_code == 403
    changed = admin_client_api.patch(url, {"label": "Grève", "active": False}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["label"], changed.json()["active"]) == ("Grève", False)
    assert dispatcher_client.get(url).json()["label"] == "Grève"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "weather", "label": "Again"}, "code"),  # the company has it already
        ({"code": "two words", "label": "Bad"}, "code"),
        ({"code": "ok", "label": ""}, "label"),
        ({"code": "ok", "label": "Ok", "kind": "sometimes"}, "kind"),
        ({"code": "ok", "label": "Ok", "ordering": -1}, "ordering"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(company, admin_client_api, body, field):
    response = admin_client_api.post("/api/reason-codes", body, format="json")
    assert response.status_code == 400
    assert _names(response.json(), field)
    assert company.reason_codes.count() == len(STANDARD)


def test_same_code_in_another_company_is_fine(company, other_company, admin_client_api):
    reasons.reason_code_create(company_id=other_company.id, code="strike", label="Strike")
    body = {"code": "strike", "label": "Grève"}
    assert admin_client_api.post("/api/reason-codes", body, format="json").status_code == 201


@pytest.mark.parametrize(
    ("code", "change", "field"),
    [
        ("weather", {"code": "snow"}, "code"),  # a code's name is fixed
        ("series_ended", {"active": False}, "active"),
        ("series_ended", {"kind": "both"}, "kind"),
        ("weather", {}, "non_field_errors"),
        ("no_show", {"kind": "cancellation"}, "kind"),  # a no-show without a code records it
        ("other", {"kind": "no_show"}, "kind"),  # a cancellation without a code records it
    ],
)
def test_patch_refuses_what_must_not_change(company, admin_client_api, code, change, field):
    reason = _code(company, code)
    response = admin_client_api.patch(f"/api/reason-codes/{reason.id}", change, format="json")
    assert response.status_code == 400
    assert _names(response.json(), field)
    stored = _code(company, code)
    assert (stored.active, stored.kind) == (reason.active, reason.kind)


def test_system_code_may_be_renamed(company, admin_client_api):
    ended = _code(company, "series_ended")
    url = f"/api/reason-codes/{ended.id}"
    response = admin_client_api.patch(url, {"label": "Fin de série"}, format="json")
    assert response.status_code == 200 and response.json()["label"] == "Fin de série"


def test_another_companys_code_is_404(other_company, admin_client_api):
    foreign = _code(other_company, "weather")
    url = f"/api/reason-codes/{foreign.id}"
    assert admin_client_api.get(url).status_code == 404
    assert admin_client_api.patch(url, {"label": "Mine"}, format="json").status_code == 404
    assert _code(other_company, "weather").label == "Weather"


@pytest.mark.parametrize("extra", [0, 192])
def test_code_list_takes_one_query(company, dispatcher_client, extra, django_assert_num_queries):
    ReasonCode.objects.bulk_create(
        ReasonCode(company=company, code=f"c{n}", label=f"Code {n}") for n in range(extra)
    )
    with django_assert_num_queries(1):  # the codes
        response = dispatcher_client.get("/api/reason-codes")
    assert len(response.json()) == len(STANDARD) + extra


# --- the bookings list: output, filters, queries --------------------------------------------
def _ended_trips(company):
    late = BookingFactory(company=company, scheduled_at=THE_DAY_BEFORE + timedelta(hours=3))
    services.booking_cancel(booking=late, code="weather")
    in_time = BookingFactory(company=company)
    services.booking_cancel(booking=in_time, code="weather")
    other = BookingFactory(company=company)
    services.booking_cancel(booking=other, code="patient_cancelled")
    BookingFactory(company=company)  # pending: no code
    return late, in_time, other


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_bookings_filter_by_code_and_late(company, dispatcher_client):
    late, in_time, other = _ended_trips(company)
    weather = _code(company, "weather")
    url = "/api/bookings"
    assert _ids(dispatcher_client.get(f"{url}?cancel_code=weather")) == {
        str(late.id),
        str(in_time.id),
    }
    assert _ids(dispatcher_client.get(f"{url}?cancel_code={weather.id}&cancelled_late=true")) == {
        str(late.id)
    }
    assert _ids(dispatcher_client.get(f"{url}?cancelled_late=false&status=cancelled")) == {
        str(in_time.id),
        str(other.id),
    }
    assert _ids(dispatcher_client.get(f"{url}?cancel_code=strike")) == set()
    assert dispatcher_client.get(f"{url}?cancelled_late=maybe").status_code == 400


def test_bookings_filter_by_another_companys_code_finds_nothing(
    company, other_company, dispatcher_client
):
    _ended_trips(company)
    foreign = _code(other_company, "weather")
    assert _ids(dispatcher_client.get(f"/api/bookings?cancel_code={foreign.id}")) == set()


@pytest.mark.parametrize("rows", [1, 200])
def test_cancelled_day_list_has_a_constant_query_count(
    rows, company, dispatcher_client, django_assert_num_queries
):
    BookingFactory.create_batch(rows, company=company)
    for booking in Booking.objects.filter(company=company):
        services.booking_cancel(booking=booking, code="weather", reason="Snow")
    dispatcher_client.get("/api/companies/me")  # warm the company cache like any live client
    # One query: the page's bookings joined with client, driver, vehicle and reason code.
    with django_assert_num_queries(1):
        response = dispatcher_client.get(
            "/api/bookings?date=2026-12-01&cancel_code=weather&page_size=500"
        )
    results = response.json()["results"]
    assert len(results) == rows
    assert results[0]["cancel_code"]["label"] == "Weather"


def test_renaming_a_code_shows_at_once_in_the_cached_list(company, admin_client_api):
    booking = BookingFactory(company=company)
    services.booking_cancel(booking=booking, code="weather")
    url = "/api/bookings?date=2026-12-01"
    assert admin_client_api.get(url).json()["results"][0]["cancel_code"]["label"] == "Weather"
    weather = _code(company, "weather")
    admin_client_api.patch(f"/api/reason-codes/{weather.id}", {"label": "Neige"}, format="json")
    assert admin_client_api.get(url).json()["results"][0]["cancel_code"]["label"] == "Neige"


def test_company_shows_its_notice(company, dispatcher_client):
    assert dispatcher_client.get("/api/companies/me").json()["cancel_notice_hours"] == 24


def test_a_company_user_never_sees_the_notice_of_another(other_company, dispatcher_client):
    other_company.cancel_notice_hours = 2
    other_company.save(update_fields=["cancel_notice_hours"])
    UserFactory(company=other_company)
    assert dispatcher_client.get("/api/companies/me").json()["cancel_notice_hours"] == 24


def test_reason_code_string_is_its_label(company):
    assert str(_code(company, "patient_hospitalised")) == "Patient hospitalised"
    assert CompanyFactory().reason_codes.filter(active=True).count() == len(STANDARD)
