"""A place's extra service minutes lengthen each stop there in the problem dispatch solves."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from dispatch import adapters
from dispatch.engine.geo import Location, TravelMatrix
from dispatch.selectors import dispatch_settings_get, shift_drivers
from drivers.rosters import shifts_generate
from places.tests.factories import PlaceFactory
from tests.factories import BookingFactory, DriverFactory, at

pytestmark = pytest.mark.django_db


def test_extra_service_minutes_reach_the_problem(company, django_assert_num_queries):
    big = PlaceFactory(name="HUG", extra_service_minutes=7)
    small = PlaceFactory(name="Practice", extra_service_minutes=0)
    to_big = BookingFactory(company=company, dropoff_place=big)
    from_big = BookingFactory(company=company, pickup_place=big, dropoff_place=small)
    plain = BookingFactory(company=company)
    conf = dispatch_settings_get(company_id=company.id)
    bookings = [to_big, from_big, plain]
    DriverFactory(company=company)
    shifts_generate(company=company, first=at(9).date(), last=at(9).date())
    shifts = shift_drivers(company_id=company.id, day=at(9).date(), tz=company.tz)
    day = adapters.day_locations(bookings, shifts, Location(46.5, 6.6))
    size = len(day.locations)
    matrix = TravelMatrix([[60] * size for _ in range(size)], [[1000] * size for _ in range(size)])
    clock = adapters.DayClock(at(9).date(), ZoneInfo("Europe/Zurich"))
    with django_assert_num_queries(1):  # the places' extra minutes, once for the whole day
        problem = adapters.build_problem(day, matrix, clock, conf)
    base = conf.service_walks_s
    services = {r.id: (r.pickup_service, r.dropoff_service) for r in problem.requests}
    assert services[str(to_big.id)] == (base, base + 7 * 60)
    assert services[str(from_big.id)] == (base + 7 * 60, base)
    assert services[str(plain.id)] == (base, base)


def test_a_day_without_places_asks_nothing(company, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert adapters.place_extra_seconds([BookingFactory.build(company=company)]) == {}
