"""The fast lists (rows shaped without a serializer per row) answer exactly what the output
serializers would: same keys in the same order, same formats, same bytes as DRF's renderer."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.renderers import JSONRenderer

from atmr.accounts.models import Company
from atmr.accounts.serializers import CompanyOutputSerializer
from bookings.models import Booking, Client
from bookings.serializers import BookingOutputSerializer, ClientOutputSerializer
from drivers.models import Driver, Vehicle
from drivers.serializers import DriverOutputSerializer, VehicleOutputSerializer
from tests.factories import (
    BookingFactory,
    ClientFactory,
    DriverFactory,
    VehicleFactory,
    at,
)

pytestmark = pytest.mark.django_db


def _drf_bytes(response_body: dict[str, Any], serializer: Any, queryset: Any) -> bytes:
    """What DRF's stock serializer + JSONRenderer write for the same page."""
    expected = {
        "count": response_body["count"],
        "next": response_body["next"],
        "previous": response_body["previous"],
        "results": serializer(queryset, many=True).data,
    }
    return JSONRenderer().render(expected)


def _varied_bookings(company: Company) -> None:
    """Every branch of the shape: with and without driver, vehicle, price, appointment and
    return trip; non-ASCII text; microseconds; a price with trailing zeros."""
    driver = DriverFactory(company=company, user__first_name="Zoé", user__last_name="Müller")
    client = ClientFactory(company=company, first_name="Jérôme", mobility="wheelchair")
    outbound = BookingFactory(
        company=company,
        client=client,
        driver=driver,
        vehicle=driver.default_vehicle,
        status="assigned",
        price=Decimal("120.50"),
        notes="Rampe d'accès — côté lac",
        appointment_at=at(10, 30),
        # The live day's fields (dispatch/eta.py, arrival at the pick-up).
        eta_pickup=at(9, 4) + timedelta(microseconds=250000),
        eta_dropoff=at(10, 31),
        eta_computed_at=at(8, 59),
        eta_source="osrm",
        lateness="late",
        ride_too_long=True,
        arrived_at=at(9, 3),
        no_show_after=at(9, 8),
    )
    BookingFactory(
        company=company,
        client=client,
        return_of=outbound,
        # PostgreSQL writes the fraction trimmed (".12"); DRF writes ".120000".
        scheduled_at=at(16, 5) + timedelta(microseconds=120000),
        price=Decimal("7"),
        pickup_address="HUG, Genève",
    )
    BookingFactory(
        company=company,
        scheduled_at=at(12),
        cancel_reason="",
        passengers=3,
        status="cancelled",
        cancel_code=company.reason_codes.get(code="weather"),
        cancelled_late=True,
        cancelled_at=at(8) + timedelta(microseconds=5),
    )


def test_booking_list_matches_the_output_serializer_byte_for_byte(company, dispatcher_client):
    _varied_bookings(company)
    response = dispatcher_client.get("/api/bookings?date=2026-12-01&page_size=2")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["count"] == 3 and body["next"]
    queryset = (
        Booking.objects.filter(company=company)
        .select_related("client", "driver__user", "vehicle", "return_trip")
        .order_by("scheduled_at")[:2]
    )
    assert response.content == _drf_bytes(body, BookingOutputSerializer, queryset)


def test_booking_list_second_page_and_reverse_order_match(company, dispatcher_client):
    _varied_bookings(company)
    url = "/api/bookings?date=2026-12-01&page_size=2&page=2&ordering=-scheduled_at"
    response = dispatcher_client.get(url)
    body = response.json()
    assert body["previous"] and len(body["results"]) == 1
    queryset = Booking.objects.filter(company=company).order_by("-scheduled_at")[2:]
    assert response.content == _drf_bytes(body, BookingOutputSerializer, queryset)


def test_driver_list_matches_the_output_serializer_byte_for_byte(company, dispatcher_client):
    DriverFactory(
        company=company,
        user__first_name="Zoé",
        shift_start=time(6, 30),
        shift_end=time(15, 0, 5),
        last_lat=46.519653,
        last_lon=6.632273,
        last_seen_at=datetime(2026, 12, 1, 8, 0, 1, 5000, tzinfo=UTC),
    )
    DriverFactory(company=company, default_vehicle=None, shift_start=None, shift_end=None)
    response = dispatcher_client.get("/api/drivers")
    queryset = Driver.objects.filter(company=company).select_related("user", "default_vehicle")
    assert response.content == _drf_bytes(response.json(), DriverOutputSerializer, queryset)


def test_vehicle_list_matches_the_output_serializer_byte_for_byte(company, dispatcher_client):
    VehicleFactory(company=company, label="Fourgon fauteuil", wheelchair_places=2)
    VehicleFactory(company=company, stretcher=True, active=False)
    response = dispatcher_client.get("/api/vehicles")
    queryset = Vehicle.objects.filter(company=company)
    assert response.content == _drf_bytes(response.json(), VehicleOutputSerializer, queryset)


def test_client_list_and_search_match_the_output_serializer(company, dispatcher_client):
    ClientFactory(company=company, last_name="Dubois", lat=None, lon=None, notes="Étage 3")
    ClientFactory(company=company, last_name="Favre")
    response = dispatcher_client.get("/api/clients?search=dub")
    assert response.json()["count"] == 1
    queryset = Client.objects.filter(company=company, last_name="Dubois")
    assert response.content == _drf_bytes(response.json(), ClientOutputSerializer, queryset)


def test_company_me_matches_the_output_serializer_byte_for_byte(company, dispatcher_client):
    company.phone, company.lat = "+41 21 000 00 00", None
    company.save()
    response = dispatcher_client.get("/api/companies/me")
    assert response.content == JSONRenderer().render(CompanyOutputSerializer(company).data)


def test_empty_page_past_the_end_is_still_404(company, dispatcher_client):
    BookingFactory(company=company)
    assert dispatcher_client.get("/api/bookings?page=9").status_code == 404
