"""factory_boy factories for every model (one place, used by every app's tests)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import factory

from atmr.accounts.models import Company, User
from bookings.models import Booking, Client
from drivers.models import Driver, Vehicle

ZURICH = ZoneInfo("Europe/Zurich")
LAUSANNE = (46.5197, 6.6323)
GENEVA = (46.2044, 6.1432)


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Company {n}")
    address = "Avenue de la Gare 1, Lausanne"
    lat, lon = LAUSANNE


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.SubFactory(CompanyFactory)
    role = User.Role.DISPATCHER
    password = factory.PostGenerationMethodCall("set_password", "pw-correct-horse")

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    company = factory.SubFactory(CompanyFactory)
    plate = factory.Sequence(lambda n: f"VD {100000 + n}")
    label = "Minibus"
    seats = 4
    wheelchair_places = 0


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Driver
        skip_postgeneration_save = True

    company = factory.SubFactory(CompanyFactory)
    user = factory.SubFactory(
        UserFactory, company=factory.SelfAttribute("..company"), role=User.Role.DRIVER
    )
    default_vehicle = factory.SubFactory(VehicleFactory, company=factory.SelfAttribute("..company"))
    phone = "+41 79 000 00 00"
    status = Driver.Status.AVAILABLE
    shift_start = time(7, 0)
    shift_end = time(18, 0)
    home_lat, home_lon = LAUSANNE

    @factory.post_generation
    def roster(obj, create, extracted, **kwargs):
        """shift_start..shift_end every weekday (`roster=False`: no roster), as migrated."""
        if create and extracted is not False:
            from drivers.rosters import roster_seed

            roster_seed(driver=obj)


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    company = factory.SubFactory(CompanyFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    phone = factory.Sequence(lambda n: f"+41 21 555 {n:04d}")
    address = "Rue du Lac 5, Lausanne"
    lat, lon = LAUSANNE


# The day before the trips' day, early afternoon: the moment the suite's clock starts at
# (root conftest), so a trip on at(...) is tomorrow's, whatever day the suite is run.
SUITE_NOW = datetime(2026, 11, 30, 14, 0, tzinfo=ZURICH)


def _at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    base = datetime(2026, 12, 1, tzinfo=ZURICH) + timedelta(days=day)
    return base.replace(hour=hour, minute=minute)


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Booking

    company = factory.SubFactory(CompanyFactory)
    client = factory.SubFactory(ClientFactory, company=factory.SelfAttribute("..company"))
    pickup_address = "Rue du Lac 5, Lausanne"
    pickup_lat, pickup_lon = LAUSANNE
    dropoff_address = "HUG, Geneva"
    dropoff_lat, dropoff_lon = GENEVA
    scheduled_at = factory.LazyFunction(lambda: _at(9))
    pickup_earliest = factory.LazyAttribute(lambda o: o.scheduled_at - timedelta(minutes=10))
    pickup_latest = factory.LazyAttribute(lambda o: o.scheduled_at + timedelta(minutes=15))
    passengers = 1


at = _at


def driver_day_clash(company: Any, driver: Any) -> tuple[Booking, Booking]:
    """`driver` booked for the 09:00 Lausanne → Geneva trip, and an unassigned 09:05 Geneva →
    Lausanne trip it cannot also serve (it is still leaving Lausanne): (busy, clash)."""
    busy = BookingFactory(company=company, driver=driver, status="assigned", scheduled_at=_at(9))
    clash = BookingFactory(
        company=company,
        scheduled_at=_at(9, 5),
        pickup_lat=GENEVA[0],
        pickup_lon=GENEVA[1],
        dropoff_lat=LAUSANNE[0],
        dropoff_lon=LAUSANNE[1],
    )
    return busy, clash
