"""The back-office: company staff see only their company; list pages stay at constant queries."""

from __future__ import annotations

import pytest
from django.test import Client as WebClient

from bookings.models import Booking
from tests.factories import BookingFactory, ClientFactory, DriverFactory, UserFactory

pytestmark = pytest.mark.django_db


def booking_form(client, **overrides):
    """The admin's add-booking form, filled in (split date and time widgets)."""
    form = {
        "client": client.id,
        "pickup_address": "A",
        "pickup_lat": 46.5,
        "pickup_lon": 6.6,
        "dropoff_address": "B",
        "dropoff_lat": 46.2,
        "dropoff_lon": 6.1,
        "scheduled_at_0": "2026-12-01",
        "scheduled_at_1": "09:00:00",
        "pickup_earliest_0": "2026-12-01",
        "pickup_earliest_1": "08:50:00",
        "pickup_latest_0": "2026-12-01",
        "pickup_latest_1": "09:15:00",
        "passengers": 1,
        "mobility": "walks",
        "status": "pending",
    }
    return {**form, **overrides}


def test_company_staff_see_only_their_bookings(company, other_company, admin_web):
    mine = BookingFactory(company=company)
    foreign = BookingFactory(company=other_company)
    page = admin_web.get("/admin/bookings/booking/")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert admin_web.get(f"/admin/bookings/booking/{mine.id}/change/").status_code == 200
    # Another company's row: the admin redirects away with "doesn't exist", never shows it.
    response = admin_web.get(f"/admin/bookings/booking/{foreign.id}/change/")
    assert response.status_code == 302


def test_superuser_sees_every_company(company, other_company, superuser_web):
    BookingFactory(company=company)
    BookingFactory(company=other_company)
    assert superuser_web.get("/admin/bookings/booking/").context["cl"].result_count == 2


@pytest.mark.parametrize("rows", [5, 100])
def test_booking_changelist_has_constant_queries(
    rows, company, admin_web, django_assert_max_num_queries
):
    driver = DriverFactory(company=company)
    BookingFactory.create_batch(rows, company=company, driver=driver, status="assigned")
    # session, user, count x2, rows, date hierarchy, driver and reason code filter choices, ...
    with django_assert_max_num_queries(13):
        response = admin_web.get("/admin/bookings/booking/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == rows


def test_autocomplete_is_scoped(company, other_company, admin_web):
    ClientFactory(company=company, last_name="Favre")
    ClientFactory(company=other_company, last_name="Favre")
    response = admin_web.get(
        "/admin/autocomplete/",
        {
            "app_label": "bookings",
            "model_name": "booking",
            "field_name": "client",
            "term": "Favre",
        },
    )
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_staff_create_booking_lands_in_their_company(company, admin_web):
    client = ClientFactory(company=company)
    response = admin_web.post(
        "/admin/bookings/booking/add/",
        booking_form(client),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Booking.objects.get().company == company


def test_admin_rejects_wheelchair_trip_in_car(company, admin_web):
    client = ClientFactory(company=company)
    car = DriverFactory(company=company)  # default vehicle has no wheelchair place
    response = admin_web.post(
        "/admin/bookings/booking/add/",
        booking_form(client, driver=car.id, mobility="wheelchair", status="assigned"),
    )
    assert response.status_code == 200
    assert "wheelchair" in str(response.context["adminform"].form.errors["driver"])
    assert Booking.objects.count() == 0


def test_drivers_cannot_enter_the_back_office(company):
    web = WebClient()
    web.force_login(UserFactory(company=company, role="driver", is_staff=True))
    assert web.get("/admin/bookings/booking/").status_code == 403


def test_the_admin_says_atmr(admin_web):
    page = admin_web.get("/admin/")
    assert page.context["site_header"] == "ATMR back-office"
    assert "<title>ATMR administration | ATMR</title>" in page.content.decode()


def test_debug_toolbar_starts_collapsed(settings):
    assert settings.DEBUG_TOOLBAR_CONFIG["SHOW_COLLAPSED"] is True


def test_debug_toolbar_stays_off_the_api(settings, rf):
    # Its history panel re-parses JSON bodies with the standard library: a body nested 1,000
    # deep, which the API refuses with a 400, turned into a RecursionError 500 under `make run`.
    from atmr.devtools import toolbar_shown

    settings.DEBUG, settings.INTERNAL_IPS = True, ["127.0.0.1"]
    assert settings.DEBUG_TOOLBAR_CONFIG["SHOW_TOOLBAR_CALLBACK"] == "atmr.devtools.toolbar_shown"
    assert toolbar_shown(rf.get("/admin/", REMOTE_ADDR="127.0.0.1"))
    assert not toolbar_shown(rf.post("/api/auth/login", REMOTE_ADDR="127.0.0.1"))
