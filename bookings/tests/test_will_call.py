"""Will-call returns: created without a time, released by the office (API) or by the clinic's
signed link (no log-in), listed apart, printed as a QR code."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

import pytest
import segno
import time_machine
from channels.layers import get_channel_layer
from django.core import signing
from django.test import Client as WebClient
from rest_framework.renderers import JSONRenderer

from bookings import will_call
from bookings.models import Booking
from bookings.serializers import BookingOutputSerializer
from realtime.groups import group_for_company_dispatch
from realtime.publish import publish
from tests.factories import GENEVA, LAUSANNE, ZURICH, BookingFactory, ClientFactory, at

DAY = "2026-12-01"
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=ZURICH)
HOME = "Chemin des Roses 7, Pully"
CLINIC = "CHUV, Rue du Bugnon 46, Lausanne"
WINDOW_KEYS = ("released_at", "pickup_earliest", "pickup_latest")


# Noon on DAY in Zurich: the outbound trip (08:30) is done, the patient is at the clinic.
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOON)]


@pytest.fixture
def patient(company):
    return ClientFactory(
        company=company, first_name="Mathilde", last_name="Perrenoud", phone="+41 21 555 4321"
    )


def create_with_will_call(api, patient, **overrides):
    body = {
        "client": str(patient.id),
        "pickup": {"address": HOME, "lat": LAUSANNE[0], "lon": LAUSANNE[1]},
        "dropoff": {"address": CLINIC, "lat": GENEVA[0], "lon": GENEVA[1]},
        "scheduled_at": "2026-12-01T08:30",
        "return_trip": {"will_call": True},
    }
    body.update(overrides)
    return api.post("/api/bookings", body, format="json")


@pytest.fixture
def waiting_return(dispatcher_client, patient) -> Booking:
    response = create_with_will_call(dispatcher_client, patient)
    assert response.status_code == 201, response.json()
    return Booking.objects.get(return_of_id=response.json()["id"])


def link_of(api, booking) -> str:
    return api.get(f"/api/bookings/{booking.id}").json()["ready_link"]


def path_of(link: str) -> str:
    return link.removeprefix("http://testserver")


class OfficeEvents:
    """A subscriber to the company's dispatch group on the real channel layer."""

    def __init__(self, company_id) -> None:
        self.group = group_for_company_dispatch(company_id)
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.channel = self.loop.run_until_complete(self._subscribe())

    async def _subscribe(self) -> str:
        channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, channel)
        return channel

    def next(self) -> dict:
        receive = asyncio.wait_for(self.layer.receive(self.channel), 30)
        return self.loop.run_until_complete(receive)["event"]

    def until_marker(self) -> list[dict]:
        """Every event sent before now: publishes a marker and reads up to it."""
        publish(self.group, {"type": "test_marker"})
        events = []
        while (event := self.next())["type"] != "test_marker":
            events.append(event)
        return events

    def close(self) -> None:
        self.loop.run_until_complete(self.layer.group_discard(self.group, self.channel))
        self.loop.close()


@pytest.fixture
def office_events(company):
    events = OfficeEvents(company.id)
    yield events
    events.close()


# --- creating ---------------------------------------------------------------------------------
def test_create_with_a_will_call_return_makes_a_pending_return_without_a_time(
    company, dispatcher_client, patient
):
    response = create_with_will_call(dispatcher_client, patient, appointment_at="2026-12-01T09:00")
    assert response.status_code == 201, response.json()
    outbound = Booking.objects.get(id=response.json()["id"])
    back = outbound.return_trip
    assert back.will_call and back.released_at is None and back.status == "pending"
    assert (back.pickup_address, back.dropoff_address) == (CLINIC, HOME)
    # The placeholder: from the appointment to the end of the day.
    assert back.scheduled_at == back.pickup_earliest == at(9)
    assert back.pickup_latest == at(23, 59)
    assert response.json()["will_call"] is False and response.json()["ready_link"] is None
    shown = dispatcher_client.get(f"/api/bookings/{back.id}").json()
    assert shown["will_call"] is True and shown["released_at"] is None
    assert re.fullmatch(r"http://testserver/r/[0-9a-f]{32}\.1:[\w-]{43}", shown["ready_link"])


@pytest.mark.parametrize(
    ("return_trip", "field"),
    [
        ({"will_call": True, "scheduled_at": "2026-12-01T16:00"}, "scheduled_at"),
        ({"will_call": True, "pickup_latest": "2026-12-01T16:00"}, "pickup_latest"),
        ({}, "scheduled_at"),
        ({"will_call": False}, "scheduled_at"),
        ({"will_call": "maybe"}, "will_call"),
    ],
)
def test_a_return_is_either_timed_or_will_call(dispatcher_client, patient, return_trip, field):
    response = create_with_will_call(dispatcher_client, patient, return_trip=return_trip)
    assert response.status_code == 400
    assert field in response.json()["return_trip"]
    assert not Booking.objects.exists()


def test_a_timed_return_is_still_a_timed_return(dispatcher_client, patient):
    trip = {"scheduled_at": "2026-12-01T16:00", "will_call": False}
    response = create_with_will_call(dispatcher_client, patient, return_trip=trip)
    assert response.status_code == 201, response.json()
    back = Booking.objects.get(return_of_id=response.json()["id"])
    assert not back.will_call and back.scheduled_at == at(16)


# --- releasing through the API ----------------------------------------------------------------
def test_release_sets_the_window_and_tells_the_office(
    company, dispatcher_client, waiting_return, office_events, django_capture_on_commit_callbacks
):
    company.will_call_window_minutes = 45
    company.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = dispatcher_client.post(
            f"/api/bookings/{waiting_return.id}/ready", {"in_minutes": 20}, format="json"
        )
    assert response.status_code == 200, response.json()
    waiting_return.refresh_from_db()
    assert waiting_return.released_at == NOON
    assert waiting_return.pickup_earliest == waiting_return.scheduled_at == at(12, 20)
    assert waiting_return.pickup_latest == at(13, 5)
    assert response.json()["released_at"] == "2026-12-01T11:00:00Z"
    events = office_events.until_marker()
    ready = [e for e in events if e["type"] == "booking_ready"]
    assert len(ready) == 1 and ready[0]["via"] == "office"
    moments = {name: datetime.fromisoformat(ready[0][name]) for name in WINDOW_KEYS}
    assert moments == {
        "released_at": NOON,
        "pickup_earliest": at(12, 20),
        "pickup_latest": at(13, 5),
    }
    assert ready[0]["booking"]["id"] == str(waiting_return.id)
    assert "booking_updated" in [e["type"] for e in events]


def test_release_defaults_to_15_minutes(dispatcher_client, waiting_return):
    response = dispatcher_client.post(f"/api/bookings/{waiting_return.id}/ready")
    assert response.status_code == 200, response.json()
    waiting_return.refresh_from_db()
    assert waiting_return.pickup_earliest == at(12, 15)
    assert waiting_return.pickup_latest == at(12, 45)


def test_releasing_twice_changes_nothing_the_second_time(
    dispatcher_client, waiting_return, office_events, django_capture_on_commit_callbacks
):
    url = f"/api/bookings/{waiting_return.id}/ready"
    with django_capture_on_commit_callbacks(execute=True):
        first = dispatcher_client.post(url, {"in_minutes": 0}, format="json")
    office_events.until_marker()
    stored = Booking.objects.get(id=waiting_return.id)
    with (
        time_machine.travel(NOON + timedelta(minutes=7), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        second = dispatcher_client.post(url, {"in_minutes": 90}, format="json")
    assert first.status_code == second.status_code == 200
    again = Booking.objects.get(id=waiting_return.id)
    for name in ("scheduled_at", "pickup_earliest", "pickup_latest", "released_at", "updated_at"):
        assert getattr(again, name) == getattr(stored, name)
    assert office_events.until_marker() == []
    assert second.json() == first.json()


def test_release_refuses_a_booking_that_is_not_a_will_call_return(company, dispatcher_client):
    booking = BookingFactory(company=company)
    response = dispatcher_client.post(f"/api/bookings/{booking.id}/ready")
    assert response.status_code == 409
    assert response.json()["code"] == "not_will_call"
    assert "not a will-call return" in response.json()["detail"]
    booking.refresh_from_db()
    assert booking.released_at is None


def test_release_refuses_a_return_of_a_later_day(company, dispatcher_client, patient):
    response = create_with_will_call(dispatcher_client, patient, scheduled_at="2026-12-03T08:30")
    back = Booking.objects.get(return_of_id=response.json()["id"])
    response = dispatcher_client.post(f"/api/bookings/{back.id}/ready")
    assert response.status_code == 409
    assert response.json()["code"] == "will_call_not_yet"
    assert "2026-12-03" in response.json()["detail"]


def test_release_refuses_a_cancelled_return(dispatcher_client, waiting_return):
    cancel = f"/api/bookings/{waiting_return.id}/cancel"
    assert (
        dispatcher_client.post(
            cancel, {"code": "patient_hospitalised", "reason": "stays"}, format="json"
        ).status_code
        == 200
    )
    response = dispatcher_client.post(f"/api/bookings/{waiting_return.id}/ready")
    assert response.status_code == 409
    assert response.json()["code"] == "booking_not_editable"


@pytest.mark.parametrize("value", [-1, 241, "soon", 1.5, None])
def test_in_minutes_out_of_range_is_a_400_naming_the_field(
    dispatcher_client, waiting_return, value
):
    url = f"/api/bookings/{waiting_return.id}/ready"
    response = dispatcher_client.post(url, {"in_minutes": value}, format="json")
    assert response.status_code == 400
    assert "in_minutes" in response.json()
    waiting_return.refresh_from_db()
    assert waiting_return.released_at is None


def test_another_companys_return_is_a_404(other_dispatcher_client, waiting_return):
    base = f"/api/bookings/{waiting_return.id}"
    assert other_dispatcher_client.post(f"{base}/ready").status_code == 404
    assert other_dispatcher_client.post(f"{base}/ready-link/revoke").status_code == 404
    assert other_dispatcher_client.get(f"{base}/ready-link/qr").status_code == 404
    waiting_return.refresh_from_db()
    assert waiting_return.released_at is None and waiting_return.ready_link_version == 1


def test_drivers_neither_release_nor_see_the_link(company, driver, driver_client, waiting_return):
    Booking.objects.filter(id=waiting_return.id).update(driver=driver, status="assigned")
    assert driver_client.get(f"/api/bookings/{waiting_return.id}").json()["ready_link"] is None
    listed = driver_client.get("/api/bookings").json()["results"]
    assert [row["ready_link"] for row in listed] == [None]
    assert driver_client.post(f"/api/bookings/{waiting_return.id}/ready").status_code == 403
    response = driver_client.get(f"/api/bookings/{waiting_return.id}/ready-link/qr")
    assert response.status_code == 403


# --- the will-call list -----------------------------------------------------------------------
def test_will_call_list_waiting_and_released(company, dispatcher_client, patient):
    first = create_with_will_call(dispatcher_client, patient).json()["id"]
    second = create_with_will_call(dispatcher_client, patient, scheduled_at="2026-12-01T09:30")
    BookingFactory(company=company)
    returns = Booking.objects.filter(will_call=True).order_by("scheduled_at")
    released, waiting = (
        returns.get(return_of_id=first),
        returns.get(return_of_id=second.json()["id"]),
    )
    dispatcher_client.post(f"/api/bookings/{released.id}/ready")

    def ids(state):
        response = dispatcher_client.get(f"/api/bookings?date={DAY}&will_call={state}")
        return [row["id"] for row in response.json()["results"]]

    assert ids("waiting") == [str(waiting.id)]
    assert ids("released") == [str(released.id)]
    assert sorted(ids("all")) == sorted([str(waiting.id), str(released.id)])
    assert "will_call" in dispatcher_client.get("/api/bookings?will_call=soon").json()


@pytest.mark.parametrize("rows", [1, 200])
def test_will_call_list_has_a_constant_query_count(
    rows, company, dispatcher_client, django_assert_num_queries
):
    outbound = BookingFactory.create_batch(rows, company=company, scheduled_at=at(8))
    Booking.objects.bulk_create(
        BookingFactory.build(
            company=company,
            client=trip.client,
            return_of=trip,
            will_call=True,
            scheduled_at=at(8),
            pickup_earliest=at(8),
            pickup_latest=at(23, 59),
        )
        for trip in outbound
    )
    dispatcher_client.get("/api/companies/me")  # warm the company cache like any live client
    with django_assert_num_queries(1):  # the page's bookings with everything joined
        response = dispatcher_client.get(
            f"/api/bookings?date={DAY}&will_call=waiting&page_size=500"
        )
    body = response.json()
    assert body["count"] == rows
    assert all(row["ready_link"].startswith("http://testserver/r/") for row in body["results"])


def test_the_fast_list_writes_will_call_rows_as_the_serializer_does(
    dispatcher_client, waiting_return
):
    dispatcher_client.post(f"/api/bookings/{waiting_return.id}/ready")
    response = dispatcher_client.get(f"/api/bookings?date={DAY}&will_call=all")
    queryset = Booking.objects.filter(id=waiting_return.id).select_related(
        "client", "driver__user", "vehicle", "return_trip"
    )
    request = response.wsgi_request
    request.user = dispatcher_client.user
    results = BookingOutputSerializer(queryset, many=True, context={"request": request}).data
    expected = {"count": 1, "next": None, "previous": None, "results": results}
    assert response.content == JSONRenderer().render(expected)


# --- the clinic's link ------------------------------------------------------------------------
def test_the_page_shows_initials_destination_and_time_and_nothing_personal(
    dispatcher_client, waiting_return, patient
):
    response = WebClient().get(path_of(link_of(dispatcher_client, waiting_return)))
    assert response.status_code == 200
    page = response.content.decode()
    assert "M. P." in page
    assert CLINIC in page
    assert "2026-12-01 08:30" in page
    assert "Patient ready" in page
    for personal in ("Mathilde", "Perrenoud", "555 4321", "+41 21", HOME, "Pully"):
        assert personal not in page
    assert "<script" not in page and "http" not in page.split("<body>")[1]
    assert response["Cache-Control"].startswith("max-age=0")
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_ward_releases_without_a_log_in(
    dispatcher_client, waiting_return, office_events, django_capture_on_commit_callbacks
):
    ward = WebClient(enforce_csrf_checks=True)
    path = path_of(link_of(dispatcher_client, waiting_return))
    page = ward.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = ward.post(path, {"csrfmiddlewaretoken": token, "in_minutes": "30"})
    assert response.status_code == 302 and response["Location"] == path
    waiting_return.refresh_from_db()
    assert waiting_return.released_at == NOON
    assert waiting_return.pickup_earliest == at(12, 30)
    ready = [e for e in office_events.until_marker() if e["type"] == "booking_ready"]
    assert len(ready) == 1 and ready[0]["via"] == "link"
    after = ward.get(path).content.decode()
    assert "Used at 2026-12-01 12:00" in after and "12:30–13:00" in after
    assert "<form" not in after


def test_the_page_refuses_a_post_without_the_csrf_token(dispatcher_client, waiting_return):
    path = path_of(link_of(dispatcher_client, waiting_return))
    response = WebClient(enforce_csrf_checks=True).post(path, {"in_minutes": "0"})
    assert response.status_code == 403
    waiting_return.refresh_from_db()
    assert waiting_return.released_at is None


def test_a_bad_delay_on_the_page_is_a_400_and_releases_nothing(dispatcher_client, waiting_return):
    path = path_of(link_of(dispatcher_client, waiting_return))
    response = WebClient().post(path, {"in_minutes": "999"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    waiting_return.refresh_from_db()
    assert waiting_return.released_at is None


def test_a_tampered_link_is_a_plain_404(company, dispatcher_client, waiting_return):
    path = path_of(link_of(dispatcher_client, waiting_return))
    value, _, signature = path.removeprefix("/r/").partition(":")
    other = BookingFactory(company=company, will_call=True)
    forged = [
        f"/r/{value}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"/r/{other.id.hex}.1:{signature}",
        f"/r/{value[:-1]}2:{signature}",
        f"/r/{value}",
        "/r/nonsense",
        f"/r/{signing.Signer(salt='another').sign(value)}",
    ]
    for attempt in forged:
        response = WebClient().get(attempt)
        assert response.status_code == 404, attempt
        assert b"Mathilde" not in response.content
        assert WebClient().post(attempt, {"in_minutes": "0"}).status_code == 404
    waiting_return.refresh_from_db()
    assert waiting_return.released_at is None


def test_a_revoked_link_is_a_404_and_the_new_one_works(dispatcher_client, waiting_return):
    old = link_of(dispatcher_client, waiting_return)
    response = dispatcher_client.post(f"/api/bookings/{waiting_return.id}/ready-link/revoke")
    assert response.status_code == 200
    new = response.json()["ready_link"]
    assert new != old and new == link_of(dispatcher_client, waiting_return)
    assert WebClient().get(path_of(old)).status_code == 404
    assert WebClient().post(path_of(old), {"in_minutes": "0"}).status_code == 404
    assert WebClient().get(path_of(new)).status_code == 200


def test_the_link_expires_at_the_end_of_its_service_day(dispatcher_client, waiting_return):
    path = path_of(link_of(dispatcher_client, waiting_return))
    with time_machine.travel(datetime(2026, 12, 1, 23, 59, 59, tzinfo=ZURICH), tick=False):
        assert WebClient().get(path).status_code == 200
    with time_machine.travel(datetime(2026, 12, 2, 0, 0, 0, tzinfo=ZURICH), tick=False):
        assert WebClient().get(path).status_code == 404
        assert WebClient().post(path, {"in_minutes": "0"}).status_code == 404


def test_the_page_of_a_later_days_return_says_when_it_can_be_released(dispatcher_client, patient):
    response = create_with_will_call(dispatcher_client, patient, scheduled_at="2026-12-03T08:30")
    back = Booking.objects.get(return_of_id=response.json()["id"])
    path = path_of(link_of(dispatcher_client, back))
    response = WebClient().post(path, {"in_minutes": "0"})
    assert response.status_code == 409
    assert "it can be released on that day" in response.content.decode()
    back.refresh_from_db()
    assert back.released_at is None


def test_the_link_of_a_not_will_call_booking_opens_nothing(company):
    booking = BookingFactory(company=company)
    token = will_call.ready_link_token(booking_id=booking.id, version=1)
    assert WebClient().get(f"/r/{token}").status_code == 404


def test_the_page_is_rate_limited_per_address(monkeypatch, dispatcher_client, waiting_return):
    monkeypatch.setattr(will_call, "PAGE_RATE_PER_MINUTE", 3)
    path = path_of(link_of(dispatcher_client, waiting_return))
    ward = WebClient(REMOTE_ADDR="10.1.1.1")
    assert [ward.get(path).status_code for _ in range(3)] == [200, 200, 200]
    limited = ward.get(path)
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert ward.post(path, {"in_minutes": "0"}).status_code == 429
    assert WebClient(REMOTE_ADDR="10.1.1.2").get(path).status_code == 200
    waiting_return.refresh_from_db()
    assert waiting_return.released_at is None


# --- the QR code ------------------------------------------------------------------------------
def test_the_office_gets_the_link_as_a_qr_code(dispatcher_client, waiting_return):
    link = link_of(dispatcher_client, waiting_return)
    url = f"/api/bookings/{waiting_return.id}/ready-link/qr"
    svg = dispatcher_client.get(url)
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content == will_call.qr_image(link, "svg")
    assert b"<svg" in svg.content
    png = dispatcher_client.get(f"{url}?image=png", HTTP_ACCEPT="image/png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    # The code holds exactly the link (same symbol as segno makes for it).
    assert png.content == will_call.qr_image(link, "png")
    assert segno.make(link, error="m").designator  # a real QR symbol, not a micro one


def test_qr_code_input_and_refusals(company, dispatcher_client, waiting_return):
    url = f"/api/bookings/{waiting_return.id}/ready-link/qr"
    response = dispatcher_client.get(f"{url}?image=gif")
    assert response.status_code == 400 and "image" in response.json()
    timed = BookingFactory(company=company)
    response = dispatcher_client.get(f"/api/bookings/{timed.id}/ready-link/qr")
    assert response.status_code == 409 and response.json()["code"] == "not_will_call"
    response = dispatcher_client.post(f"/api/bookings/{timed.id}/ready-link/revoke")
    assert response.status_code == 409 and response.json()["code"] == "not_will_call"
