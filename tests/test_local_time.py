"""Local time everywhere: the admin shows and reads the company's zone; the API reads
offset-less times in that zone and writes UTC; people read local times in messages."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client as WebClient
from django.utils import timezone

from atmr.accounts.tokens import refresh_token_for
from atmr.chat.models import ChatMessage
from atmr.exceptions import DomainError
from atmr.localtime import format_local
from bookings.models import Booking
from bookings.services import Place, booking_create
from tests.factories import (
    GENEVA,
    LAUSANNE,
    BookingFactory,
    ClientFactory,
    CompanyFactory,
    DriverFactory,
    UserFactory,
    at,
    driver_day_clash,
)

pytestmark = pytest.mark.django_db

# 06:00 UTC on a winter day is 07:00 in Lausanne (CET, UTC+1).
WINTER_SIX_UTC = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


class _FormReader(HTMLParser):
    """What a browser would post back from the page's main form, unchanged."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside or (not a.get("name") and tag != "option"):
            return
        if tag == "input" and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.data[a["name"]] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "select":
            self._select = a["name"]
            self.data.setdefault(a["name"], "")
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.data[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data


def form_data(page, form_id: str = "booking_form") -> dict[str, str]:
    reader = _FormReader(form_id)
    reader.feed(page.content.decode())
    assert reader.data, f"no form {form_id!r} on the page"
    return reader.data


# --- the admin ------------------------------------------------------------------------------
def test_admin_change_form_shows_and_reads_the_company_zone(company, staff_web):
    booking = BookingFactory(company=company, scheduled_at=WINTER_SIX_UTC)
    url = f"/admin/bookings/booking/{booking.id}/change/"
    page = staff_web.get(url)
    assert page.status_code == 200
    data = form_data(page)
    assert (data["scheduled_at_0"], data["scheduled_at_1"]) == ("2026-12-01", "07:00:00")
    assert b"Europe/Zurich" in page.content  # the header says which zone
    assert f"{booking.client} 2026-12-01 07:00" in page.content.decode()  # the title too
    assert timezone.get_current_timezone_name() == "UTC"  # only for the request's length

    data.update(scheduled_at_1="07:30", pickup_earliest_1="07:20", pickup_latest_1="07:45")
    response = staff_web.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    booking.refresh_from_db()
    assert booking.scheduled_at == datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    assert booking.pickup_earliest == datetime(2026, 12, 1, 6, 20, tzinfo=UTC)


@pytest.mark.parametrize(("day", "clock"), [("9999-12-31", "23:55"), ("0001-01-01", "00:05")])
def test_admin_refuses_a_time_out_of_range_with_a_form_error(company, staff_web, day, clock):
    data = form_data(staff_web.get("/admin/bookings/booking/add/"))
    data.update(
        client=str(ClientFactory(company=company).id),
        pickup_address="A",
        pickup_lat="46.5",
        pickup_lon="6.6",
        dropoff_address="B",
        dropoff_lat="46.2",
        dropoff_lon="6.1",
        passengers="1",
    )
    for field in ("scheduled_at", "pickup_earliest", "pickup_latest"):
        data.update({f"{field}_0": day, f"{field}_1": clock})
    response = staff_web.post("/admin/bookings/booking/add/", data)
    assert response.status_code == 200  # the form again, with the error
    assert "Must be between" in str(response.context["adminform"].form.errors["scheduled_at"])
    assert not Booking.objects.exists()


def test_admin_changelist_shows_local_times(company, staff_web):
    BookingFactory(company=company, scheduled_at=WINTER_SIX_UTC)
    page = staff_web.get("/admin/bookings/booking/")
    assert page.status_code == 200
    assert b"7 a.m." in page.content and b"6 a.m." not in page.content


def test_admin_uses_each_staff_members_company_zone(staff_web):
    tokyo = CompanyFactory(name="Tokyo Care", timezone="Asia/Tokyo")
    web = WebClient()
    web.force_login(UserFactory(company=tokyo, role="admin", is_staff=True))
    booking = BookingFactory(company=tokyo, scheduled_at=WINTER_SIX_UTC)
    data = form_data(web.get(f"/admin/bookings/booking/{booking.id}/change/"))
    assert data["scheduled_at_1"] == "15:00:00"


def test_superuser_sees_an_objects_company_zone_until_choosing_one(superuser_web):
    tokyo = CompanyFactory(name="Tokyo Care", timezone="Asia/Tokyo")
    booking = BookingFactory(company=tokyo, scheduled_at=WINTER_SIX_UTC)
    url = f"/admin/bookings/booking/{booking.id}/change/"
    assert form_data(superuser_web.get(url))["scheduled_at_1"] == "15:00:00"  # automatic

    chooser = superuser_web.get("/admin/timezone/", {"next": url})
    assert chooser.status_code == 200 and b"America/New_York" in chooser.content
    response = superuser_web.post("/admin/timezone/", {"timezone": "America/New_York", "next": url})
    assert response.status_code == 302 and response["Location"] == url
    page = superuser_web.get(url)
    assert form_data(page)["scheduled_at_1"] == "01:00:00"
    assert b"America/New_York" in page.content

    superuser_web.post("/admin/timezone/", {"timezone": ""})  # back to automatic
    assert form_data(superuser_web.get(url))["scheduled_at_1"] == "15:00:00"


def test_zone_chooser_refuses_unknown_zones_and_foreign_redirects(superuser_web):
    bad = superuser_web.post("/admin/timezone/", {"timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and b"not a known time zone" in bad.content
    away = superuser_web.post(
        "/admin/timezone/", {"timezone": "UTC", "next": "https://evil.example/"}
    )
    assert away["Location"] == "/admin/"


def test_company_staff_cannot_choose_another_zone(staff_web):
    assert staff_web.post("/admin/timezone/", {"timezone": "UTC"}).status_code == 403


def test_api_output_stays_utc_beside_an_admin_session(company, superuser_web):
    """A browser logged into the admin (zone active there) and calling the API gets UTC."""
    booking = BookingFactory(company=company, scheduled_at=WINTER_SIX_UTC)
    superuser_web.post("/admin/timezone/", {"timezone": "Europe/Zurich"})
    dispatcher = UserFactory(company=company, role="dispatcher", is_staff=True)
    superuser_web.force_login(dispatcher)
    token = str(refresh_token_for(dispatcher).access_token)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    listed = superuser_web.get("/api/bookings?date=2026-12-01", **auth).json()["results"][0]
    single = superuser_web.get(f"/api/bookings/{booking.id}", **auth).json()
    drivers = superuser_web.get("/api/drivers", **auth)
    for body in (listed, single):
        assert body["scheduled_at"] == "2026-12-01T06:00:00Z"
        assert body["created_at"].endswith("Z")
    assert drivers.status_code == 200 and b"+01:00" not in drivers.content


# --- the API: offset-less input is local ----------------------------------------------------
def _payload(patient, **overrides):
    body = {
        "client": str(patient.id),
        "pickup": {"address": "Rue du Lac 5, Lausanne", "lat": LAUSANNE[0], "lon": LAUSANNE[1]},
        "dropoff": {"address": "HUG, Genève", "lat": GENEVA[0], "lon": GENEVA[1]},
        "scheduled_at": "2026-12-02T07:30:00",
    }
    return {**body, **overrides}


@pytest.fixture
def today():
    """Pin the clock to 2026-11-30 noon (the bookings above are in the future)."""
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def patient(company):
    return ClientFactory(company=company)


def test_offsetless_time_is_the_company_zone_and_output_is_utc(today, patient, dispatcher_client):
    response = dispatcher_client.post(
        "/api/bookings",
        _payload(
            patient,
            appointment_at="2026-12-02T08:30:00",
            return_trip={"scheduled_at": "2026-12-02T11:00:00"},
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["scheduled_at"] == "2026-12-02T06:30:00Z"
    assert body["appointment_at"] == "2026-12-02T07:30:00Z"
    back = Booking.objects.get(return_of_id=body["id"])
    assert back.scheduled_at == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_an_explicit_offset_wins_over_the_company_zone(today, patient, dispatcher_client):
    response = dispatcher_client.post(
        "/api/bookings", _payload(patient, scheduled_at="2026-12-02T07:30:00Z"), format="json"
    )
    assert response.json()["scheduled_at"] == "2026-12-02T07:30:00Z"


def test_offsetless_time_follows_the_callers_company(today, client_for):
    tokyo = CompanyFactory(name="Tokyo Care", timezone="Asia/Tokyo")
    api = client_for(UserFactory(company=tokyo, role="dispatcher"))
    body = _payload(ClientFactory(company=tokyo))
    response = api.post("/api/bookings", body, format="json")
    assert response.json()["scheduled_at"] == "2026-12-01T22:30:00Z"


def test_patch_reads_offsetless_times_in_the_company_zone(today, company, dispatcher_client):
    booking = BookingFactory(company=company, scheduled_at=at(9))
    response = dispatcher_client.patch(
        f"/api/bookings/{booking.id}",
        {"pickup_earliest": "2026-12-01T08:40:00", "scheduled_at": "2026-12-01T08:45:00"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["scheduled_at"] == "2026-12-01T07:45:00Z"


@pytest.mark.parametrize(
    "local", ["2027-03-28T02:30:00", "2027-10-31T02:30:00"], ids=["skipped", "repeated"]
)
def test_a_local_time_the_clock_change_skips_or_repeats_needs_an_offset(
    today, patient, dispatcher_client, local
):
    response = dispatcher_client.post(
        "/api/bookings", _payload(patient, scheduled_at=local), format="json"
    )
    assert response.status_code == 400
    assert "offset" in response.json()["scheduled_at"][0]


def test_chat_history_cursor_without_offset_is_local(company, dispatcher_client):
    sent = ChatMessage.objects.create(company=company, text="hello")
    ChatMessage.objects.filter(pk=sent.pk).update(created_at=WINTER_SIX_UTC)
    # 06:30 local is 05:30 UTC: before the message.
    early = dispatcher_client.get("/api/chat/messages?before=2026-12-01T06:30:00").json()
    late = dispatcher_client.get("/api/chat/messages?before=2026-12-01T07:30:00").json()
    assert early["results"] == [] and len(late["results"]) == 1


# --- dates outside the accepted range never crash -------------------------------------------
EXTREMES = [
    "9999-12-31T23:55:00Z",
    "0001-01-01T00:05:00Z",
    "0001-01-01T00:05:00+01:00",
    "9999-12-31T23:55:00-01:00",
    "9999-12-31T23:55:00",
    "0001-01-01T00:05:00",
]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1900-01-01"])
def test_list_of_a_day_out_of_range_is_a_400_naming_date(dispatcher_client, day):
    response = dispatcher_client.get(f"/api/bookings?date={day}")
    assert response.status_code == 400
    assert "Must be between" in response.json()["date"][0]


@pytest.mark.parametrize("moment", EXTREMES)
def test_create_with_a_time_out_of_range_is_a_400_naming_it(
    today, patient, dispatcher_client, moment
):
    response = dispatcher_client.post(
        "/api/bookings", _payload(patient, scheduled_at=moment), format="json"
    )
    assert response.status_code == 400
    assert "scheduled_at" in response.json()
    assert not Booking.objects.exists()


@pytest.mark.parametrize("moment", EXTREMES[:2])
def test_return_trip_out_of_range_is_a_400_naming_it(today, patient, dispatcher_client, moment):
    response = dispatcher_client.post(
        "/api/bookings",
        _payload(patient, return_trip={"scheduled_at": moment}),
        format="json",
    )
    assert response.status_code == 400
    assert "scheduled_at" in response.json()["return_trip"]
    assert not Booking.objects.exists()


@pytest.mark.parametrize("moment", EXTREMES)
def test_patch_with_a_time_out_of_range_is_a_400_naming_it(
    today, company, dispatcher_client, moment
):
    booking = BookingFactory(company=company)
    for field in ("scheduled_at", "pickup_earliest", "appointment_at"):
        response = dispatcher_client.patch(
            f"/api/bookings/{booking.id}", {field: moment}, format="json"
        )
        assert response.status_code == 400
        assert field in response.json()
    booking.refresh_from_db()
    assert booking.scheduled_at == at(9)


@pytest.mark.parametrize(
    "stored",
    [datetime(9999, 12, 31, 23, 0, tzinfo=UTC), datetime(1, 1, 1, 0, 5, tzinfo=UTC)],
    ids=["9999", "0001"],
)
def test_assigning_a_stored_booking_out_of_range_is_a_400(company, dispatcher_client, stored):
    driver = DriverFactory(company=company)
    booking = BookingFactory(
        company=company, scheduled_at=stored, pickup_earliest=stored, pickup_latest=stored
    )
    response = dispatcher_client.post(
        f"/api/bookings/{booking.id}/assign", {"driver": str(driver.id)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "scheduled_at"
    booking.refresh_from_db()
    assert booking.driver_id is None


def test_the_service_refuses_times_out_of_range_whoever_calls_it(company, patient):
    """The admin creates bookings through the same service: no API field in front of it."""
    place = Place("A", *LAUSANNE)
    with pytest.raises(DomainError) as caught:
        booking_create(
            company=company,
            client=patient,
            pickup=place,
            dropoff=place,
            scheduled_at=datetime(9999, 12, 31, 23, 55, tzinfo=UTC),
        )
    assert caught.value.field == "scheduled_at" and caught.value.http_status == 400


# --- bookings in the past -------------------------------------------------------------------
def test_a_pickup_more_than_a_day_ago_is_refused_unless_recorded_as_past(
    today, patient, dispatcher_client
):
    past = _payload(patient, scheduled_at="2026-11-28T09:00:00")
    refused = dispatcher_client.post("/api/bookings", past, format="json")
    assert refused.status_code == 400
    assert refused.json()["field"] == "scheduled_at"
    assert refused.json()["code"] == "booking_in_past"
    assert "2026-11-28 09:00" in refused.json()["detail"]  # local time, as typed
    assert not Booking.objects.exists()

    recorded = dispatcher_client.post("/api/bookings", {**past, "record_past": True}, format="json")
    assert recorded.status_code == 201
    assert recorded.json()["scheduled_at"] == "2026-11-28T08:00:00Z"


def test_a_pickup_within_the_last_day_needs_no_flag(today, patient, dispatcher_client):
    recent = _payload(patient, scheduled_at="2026-11-29T14:00:00Z")  # 22 h ago
    assert dispatcher_client.post("/api/bookings", recent, format="json").status_code == 201


def test_a_driver_cannot_record_past_bookings(today, patient, driver_client):
    past = _payload(patient, scheduled_at="2026-11-28T09:00:00", record_past=True)
    assert driver_client.post("/api/bookings", past, format="json").status_code == 403
    assert not Booking.objects.exists()


def test_record_past_must_be_a_boolean(today, patient, dispatcher_client):
    body = _payload(patient, record_past="maybe")
    response = dispatcher_client.post("/api/bookings", body, format="json")
    assert response.status_code == 400 and "record_past" in response.json()


# --- messages people read -------------------------------------------------------------------
def test_manual_assign_conflict_names_the_local_time(company, dispatcher_client):
    driver = DriverFactory(company=company)
    _, clash = driver_day_clash(company, driver)
    response = dispatcher_client.post(
        f"/api/bookings/{clash.id}/assign", {"driver": str(driver.id)}, format="json"
    )
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert " at 09:00:" in detail and "UTC" not in detail


def test_format_local_writes_company_time_and_survives_the_ends_of_time():
    zurich, tokyo = ZoneInfo("Europe/Zurich"), ZoneInfo("Asia/Tokyo")
    assert format_local(WINTER_SIX_UTC, zurich) == "07:00"
    assert format_local(WINTER_SIX_UTC, tokyo, with_date=True) == "2026-12-01 15:00"
    end = datetime(9999, 12, 31, 23, 55, tzinfo=UTC)
    assert format_local(end, zurich, with_date=True) == "9999-12-31 23:55"
