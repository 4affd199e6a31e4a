"""The standing-order admin goes through the same services as the API."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from bookings.models import Booking, StandingOrder
from bookings.orders import services
from bookings.services import Place
from tests.factories import GENEVA, ZURICH, ClientFactory

NOW = datetime(2026, 12, 17, 10, 0, tzinfo=ZURICH)
ADD = "/admin/bookings/standingorder/add/"


pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("admin_zone"),
    pytest.mark.clock(NOW),
]


def form(client, **overrides):
    data = {
        "client": client.id,
        "dropoff_address": "HUG, Genève",
        "dropoff_lat": GENEVA[0],
        "dropoff_lon": GENEVA[1],
        "weekdays": ["1", "3", "5"],
        "every_weeks": "1",
        "pickup_time": "07:00",
        "return_leg": "will_call",
        "passengers": "1",
        "start_date": "2026-12-14",
        "end_date": "2027-06-13",
        "holidays": "skip",
        "exceptions-TOTAL_FORMS": "0",
        "exceptions-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_add_books_the_horizon_through_the_service(company, staff_web):
    client = ClientFactory(company=company)
    response = staff_web.post(ADD, form(client))
    assert response.status_code == 302, response.context["adminform"].form.errors
    order = StandingOrder.objects.get()
    assert order.company_id == company.id and order.pickup_address == client.address
    assert Booking.objects.filter(standing_order=order).count() == 10


def test_add_refuses_what_the_api_refuses(company, staff_web):
    client = ClientFactory(company=company)
    response = staff_web.post(ADD, form(client, return_leg="fixed", return_time="06:00"))
    assert response.status_code == 200
    assert "return_time" in response.context["adminform"].form.errors
    response = staff_web.post(ADD, form(client, end_date="", occurrences=""))
    assert "end_date" in response.context["adminform"].form.errors
    assert not StandingOrder.objects.exists() and not Booking.objects.exists()


def test_change_moves_future_trips(company, staff_web):
    client = ClientFactory(company=company)
    order = services.standing_order_create(
        company=company,
        client=client,
        dropoff=Place("HUG, Genève", *GENEVA),
        weekdays=[1, 3, 5],
        pickup_time=time(7, 0),
        return_leg="will_call",
        start_date=date(2026, 12, 14),
        end_date=date(2027, 6, 13),
    )
    data = form(
        client,
        pickup_address=order.pickup_address,
        pickup_lat=order.pickup_lat,
        pickup_lon=order.pickup_lon,
        mobility=order.mobility,
        pickup_time="08:15",
    )
    response = staff_web.post(f"/admin/bookings/standingorder/{order.id}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    trips = Booking.objects.filter(standing_order=order, occurrence_leg="outbound")
    assert {t.scheduled_at.astimezone(ZURICH).time() for t in trips} == {time(8, 15)}


def test_other_companys_orders_are_not_listed(company, other_company, staff_web):
    services.standing_order_create(
        company=other_company,
        client=ClientFactory(company=other_company),
        dropoff=Place("HUG, Genève", *GENEVA),
        weekdays=[1],
        pickup_time=time(7, 0),
        start_date=date(2026, 12, 14),
        occurrences=3,
    )
    page = staff_web.get("/admin/bookings/standingorder/")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 0


def test_a_trips_page_links_to_its_standing_order(company, staff_web):
    client = ClientFactory(company=company)
    assert staff_web.post(ADD, form(client)).status_code == 302
    order = StandingOrder.objects.get()
    trip = Booking.objects.filter(standing_order=order).order_by("scheduled_at").first()
    assert trip is not None
    page = staff_web.get(f"/admin/bookings/booking/{trip.id}/change/").content.decode()
    assert f"/admin/bookings/standingorder/{order.id}/change/" in page
    assert f"trip of {trip.occurrence_date:%Y-%m-%d}" in page


def test_ticking_delete_on_a_skip_books_the_day_again(company, staff_web):
    client = ClientFactory(company=company)
    assert staff_web.post(ADD, form(client)).status_code == 302
    order = StandingOrder.objects.get()
    services.standing_order_skip(order=order, day=date(2026, 12, 21))
    services.standing_order_pause(order=order, first=date(2027, 1, 4), last=date(2027, 1, 8))
    skip, pause = order.exceptions.order_by("first_day")
    change = f"/admin/bookings/standingorder/{order.id}/change/"
    assert 'name="exceptions-0-DELETE"' in staff_web.get(change).content.decode()
    data = form(
        client,
        pickup_address=order.pickup_address,
        pickup_lat=order.pickup_lat,
        pickup_lon=order.pickup_lon,
        mobility=order.mobility,
        **{
            "exceptions-TOTAL_FORMS": "2",
            "exceptions-INITIAL_FORMS": "2",
            "exceptions-0-id": str(skip.id),
            "exceptions-0-order": str(order.id),
            "exceptions-0-DELETE": "on",
            "exceptions-1-id": str(pause.id),
            "exceptions-1-order": str(order.id),
        },
    )
    response = staff_web.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(order.exceptions.values_list("kind", flat=True)) == ["pause"]
    day = Booking.objects.filter(standing_order=order, occurrence_date=date(2026, 12, 21))
    assert day.exclude(status="cancelled").count() == 2  # out and back, booked again


def test_an_ended_orders_exceptions_cannot_be_deleted(company, staff_web):
    client = ClientFactory(company=company)
    assert staff_web.post(ADD, form(client)).status_code == 302
    order = StandingOrder.objects.get()
    services.standing_order_skip(order=order, day=date(2026, 12, 21))
    services.standing_order_end(order=order, day=date(2026, 12, 23))
    page = staff_web.get(f"/admin/bookings/standingorder/{order.id}/change/").content.decode()
    assert "2026-12-21" in page or "Dec. 21, 2026" in page
    assert 'name="exceptions-0-DELETE"' not in page


def test_the_list_actions_skip_and_take_back_a_day_and_a_pause(company, staff_web):
    client = ClientFactory(company=company)
    assert staff_web.post(ADD, form(client)).status_code == 302
    order = StandingOrder.objects.get()
    changelist = "/admin/bookings/standingorder/"

    def act(action, **fields):
        body = {"action": action, "_selected_action": [order.id], "confirm": "1", **fields}
        return staff_web.post(changelist, body, follow=True)

    asked = staff_web.post(changelist, {"action": "unskip_day", "_selected_action": [order.id]})
    assert asked.status_code == 200 and "Take back a skipped day" in asked.content.decode()
    act("skip_day", date="2026-12-21")
    day = Booking.objects.filter(standing_order=order, occurrence_date=date(2026, 12, 21))
    assert not day.exists() and order.exceptions.count() == 1
    done = act("unskip_day", date="2026-12-21")
    assert "1 standing order(s) updated." in done.content.decode()
    assert day.exclude(status="cancelled").count() == 2 and not order.exceptions.exists()
    refused = act("unskip_day", date="2026-12-21")  # nothing skipped: said, nothing changes
    assert "is not skipped" in refused.content.decode()
    act("pause_orders", first="2026-12-28", last="2027-01-08")
    assert order.exceptions.get().kind == "pause"
    act("unpause_orders", first="2026-12-28", last="2027-01-08")
    assert not order.exceptions.exists()
    live = Booking.objects.filter(standing_order=order, occurrence_leg="outbound")
    assert {b.occurrence_date.day for b in live.exclude(status="cancelled")} == {18, 21, 23, 28, 30}
