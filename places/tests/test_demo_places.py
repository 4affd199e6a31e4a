"""The demo seeds the region's real care places once and its trips go to them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from atmr.demo_places import PLACES
from bookings.models import Booking
from places.models import Place

pytestmark = pytest.mark.django_db


def test_demo_trips_go_to_seeded_places_and_seeding_twice_adds_none():
    call_command("seed_demo", "--days", "1", "--bookings-per-day", "20", stdout=StringIO())
    call_command("seed_demo", "--days", "1", "--bookings-per-day", "20", stdout=StringIO())
    assert Place.objects.count() == len(PLACES)
    assert not Place.objects.exclude(company=None).exists()  # global: every company sees them
    kinds = set(Place.objects.values_list("kind", flat=True))
    assert {"hospital", "clinic", "dialysis", "practice"} <= kinds
    bookings = Booking.objects.all()
    assert bookings.count() == 20
    for booking in bookings.select_related("dropoff_place"):
        place = booking.dropoff_place
        assert place is not None
        assert (booking.dropoff_lat, booking.dropoff_lon) == (place.lat, place.lon)
        assert booking.dropoff_address.startswith(place.name)
