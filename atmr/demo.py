"""The demo company "Demo Transports": fixed log-ins, realistic people, places and trips.

Idempotent: running it again adds only what is missing (a day with fewer bookings than asked
gets topped up) and resets the demo passwords. Deterministic for a given date.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction

from atmr.accounts.models import Company, User
from atmr.demo_places import DESTINATIONS, FIRST_NAMES, LAST_NAMES, PLACES, STREETS, TOWNS
from atmr.list_cache import lists_changed
from bookings.models import Booking, Client, Mobility
from bookings.reasons import reason_codes_seed
from bookings.selectors import day_bounds
from dispatch.engine.geo import Location
from dispatch.engine.straight_line import estimate
from drivers.models import Absence, Driver, Vehicle
from drivers.rosters import absence_create, roster_set, shifts_generate
from places.models import Place, place_search_text

DEMO_COMPANY = "Demo Transports"
DEMO_DOMAIN = "demo.atmr.test"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"
DISPATCHER_EMAIL = f"dispatcher@{DEMO_DOMAIN}"
SHIFTS = [(time(6, 30), time(15, 0)), (time(8, 0), time(17, 0)), (time(10, 0), time(19, 0))]

Progress = Callable[[Iterable], Iterable]


@dataclass(frozen=True)
class DemoSummary:
    company: Company
    drivers: int
    clients: int
    bookings_created: int
    days: list[date]


def driver_email(n: int) -> str:
    return f"driver{n}@{DEMO_DOMAIN}"


def _jitter(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    dlat = rng.uniform(-km, km) / 111.0
    dlon = rng.uniform(-km, km) / (111.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _user(email: str, role: str, company: Company, password_hash: str, **names: str) -> User:
    user, _ = User.objects.update_or_create(
        email=email,
        defaults={"company": company, "role": role, "password": password_hash, **names},
    )
    return user


def _staff(company: Company, password_hash: str) -> None:
    _user(ADMIN_EMAIL, User.Role.ADMIN, company, password_hash, first_name="Ada", last_name="Admin")
    User.objects.filter(email=ADMIN_EMAIL).update(is_staff=True)
    _user(DISPATCHER_EMAIL, User.Role.DISPATCHER, company, password_hash, first_name="Dora")
    User.objects.filter(email=DISPATCHER_EMAIL).update(is_staff=True)


def _fleet(company: Company, count: int, password_hash: str, rng: random.Random) -> int:
    for n in range(1, count + 1):
        wheelchair = n % 3 == 0
        vehicle, _ = Vehicle.objects.get_or_create(
            company=company,
            plate=f"VD {10000 + n}",
            defaults={
                "label": "Wheelchair van" if wheelchair else "Minibus",
                "seats": 3 if wheelchair else 6,
                "wheelchair_places": 2 if wheelchair else 0,
                "stretcher": n % 10 == 0,
            },
        )
        first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[(n * 7) % len(LAST_NAMES)]
        user = _user(
            driver_email(n),
            User.Role.DRIVER,
            company,
            password_hash,
            first_name=first,
            last_name=last,
        )
        town = TOWNS[n % len(TOWNS)]
        home = _jitter(rng, town[1], town[2], 2.0)
        start, end = SHIFTS[n % len(SHIFTS)]
        Driver.objects.get_or_create(
            user=user,
            defaults={
                "company": company,
                "default_vehicle": vehicle,
                "phone": f"+41 79 {100 + n:03d} 00 00",
                "status": Driver.Status.AVAILABLE,
                "shift_start": start,
                "shift_end": end,
                "home_lat": home[0],
                "home_lon": home[1],
            },
        )
    return count


def _clients(company: Company, count: int, rng: random.Random) -> list[Client]:
    existing = {c.phone: c for c in Client.objects.filter(company=company)}
    new = []
    for n in range(count):
        phone = f"+41 21 {n // 10000:02d}{n % 10000:04d}"
        if phone in existing:
            continue
        town = TOWNS[n % len(TOWNS)]
        lat, lon = _jitter(rng, town[1], town[2], 2.5)
        roll = rng.random()
        mobility = (
            Mobility.WHEELCHAIR
            if roll < 0.25
            else Mobility.STRETCHER
            if roll < 0.28
            else Mobility.WALKS
        )
        new.append(
            Client(
                company=company,
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                phone=phone,
                address=f"{rng.choice(STREETS)} {rng.randint(1, 120)}, {town[0]}",
                lat=lat,
                lon=lon,
                mobility=mobility,
            )
        )
    Client.objects.bulk_create(new, batch_size=1000)
    return list(Client.objects.filter(company=company).order_by("phone"))


def seed_places() -> dict[str, Place]:
    """The region's hospitals and clinics as global places (every company sees them), by
    their drop-off address. Idempotent: found by name and brought up to date."""
    seeded = {}
    for spec in PLACES:
        place, _ = Place.objects.update_or_create(
            company=None,
            name=spec.name,
            defaults={
                "kind": spec.kind,
                "address": spec.address,
                "lat": spec.lat,
                "lon": spec.lon,
                "aliases": list(spec.aliases),
                "extra_service_minutes": spec.extra_service_minutes,
                "entrance_notes": spec.entrance_notes,
                "search_text": place_search_text(spec.name, spec.aliases),
            },
        )
        seeded[spec.destination] = place
    return seeded


def _home(client: Client) -> Location:
    """Where the patient is picked up: the client's coordinates (every demo client has them)."""
    if client.lat is None or client.lon is None:
        raise ValueError(f"Demo client {client.phone} has no coordinates.")
    return Location(client.lat, client.lon)


def _nearby_destination(home: Location, rng: random.Random) -> tuple[str, float, float]:
    """Patients mostly go to one of the three care places nearest their home."""
    ranked = sorted(DESTINATIONS, key=lambda d: estimate(home, Location(d[1], d[2]))[0])
    return rng.choice(ranked[:3])


def _trip(
    company: Company, client: Client, day: date, rng: random.Random, places: dict[str, Place]
) -> Booking:
    home = _home(client)
    dest = _nearby_destination(home, rng)
    hour = rng.choice([7, 8, 8, 9, 9, 10, 10, 11, 13, 14, 14, 15, 16])
    local = datetime.combine(day, time(hour, rng.choice([0, 15, 30, 45])), tzinfo=company.tz)
    booking = Booking(
        company=company,
        client=client,
        pickup_address=client.address,
        pickup_lat=home.lat,
        pickup_lon=home.lon,
        dropoff_address=dest[0],
        dropoff_lat=dest[1],
        dropoff_lon=dest[2],
        dropoff_place=places.get(dest[0]),
        scheduled_at=local,
        pickup_earliest=local - timedelta(minutes=company.window_before_minutes),
        pickup_latest=local + timedelta(minutes=company.window_after_minutes),
        passengers=2 if rng.random() < 0.1 else 1,
        mobility=client.mobility,
        price=round(rng.uniform(35, 180), 2),
        urgent="dialyse" in dest[0],  # a missed dialysis session is a medical risk
    )
    if rng.random() < 0.5:
        # An appointment the trip can make: the drive, loading time and some slack.
        drive_s, _ = estimate(home, Location(dest[1], dest[2]))
        slack = rng.choice([20, 30, 45])
        booking.appointment_at = local + timedelta(minutes=5 * math.ceil(drive_s / 300) + slack)
    return booking


def _bookings_for_day(
    company: Company, clients: list[Client], day: date, wanted: int, places: dict[str, Place]
) -> list[Booking]:
    start, end = day_bounds(day, company.tz)
    have = Booking.objects.filter(
        company=company, scheduled_at__gte=start, scheduled_at__lt=end
    ).count()
    rng = random.Random(day.toordinal() * 7919 + have)
    return [
        _trip(company, rng.choice(clients), day, rng, places) for _ in range(max(0, wanted - have))
    ]


# Rosters: (start, end, break from, break over by, break minutes). Wheelchair vans run early
# and late so afternoon wheelchair trips have a van on shift; each driver has a day off a week.
EARLY = (time(6, 30), time(15, 0), time(10, 30), time(13, 30), 30)
DAYTIME = (time(8, 0), time(17, 0), time(11, 30), time(14, 30), 45)
LATE = (time(11, 0), time(19, 30), time(14, 0), time(17, 30), 30)


def _roster_of(n: int) -> tuple[time, time, time, time, int]:
    if n % 3 == 0:  # the wheelchair vans (see _fleet)
        return LATE if n % 6 == 0 else EARLY
    return (EARLY, DAYTIME, LATE)[n % 5 % 3]


def _rosters(company: Company, start: date) -> None:
    """Every demo driver's week, and a few absences around the first demo day."""
    drivers = Driver.objects.filter(company=company, user__email__endswith=DEMO_DOMAIN)
    by_number = {int(d.user.email.split("@")[0][6:]): d for d in drivers.select_related("user")}
    for n, driver in sorted(by_number.items()):
        begin, end, rest_from, rest_until, rest = _roster_of(n)
        week = [
            {
                "weekday": weekday,
                "start": begin,
                "end": end,
                "break_earliest": rest_from,
                "break_latest": rest_until,
                "break_minutes": rest,
            }
            for weekday in range(1, 8)
            if weekday != n % 7 + 1  # a day off, spread over the week
        ]
        roster_set(driver=driver, entries=week)  # type: ignore[arg-type]
    tz = company.tz
    absences = [  # (driver, kind, from, to)
        (4, Absence.Kind.VACATION, start + timedelta(days=2), start + timedelta(days=9)),
        (11, Absence.Kind.SICKNESS, start, start + timedelta(days=2)),
        (8, Absence.Kind.TRAINING, start + timedelta(days=1), start + timedelta(days=1)),
    ]
    for n, kind, first, last in absences:
        absent = by_number.get(n)
        if absent is None or Absence.objects.filter(driver=absent, kind=kind).exists():
            continue
        starts_at = datetime.combine(first, time.min, tzinfo=tz)
        ends_at = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
        if kind == Absence.Kind.TRAINING:  # a morning course
            starts_at, ends_at = starts_at + timedelta(hours=8), starts_at + timedelta(hours=12)
        absence_create(
            company=company, driver=absent, kind=kind, starts_at=starts_at, ends_at=ends_at
        )
    shifts_generate(company=company, first=start, last=start + timedelta(days=14))


@transaction.atomic
def seed_demo(
    *, password: str, days: int, bookings_per_day: int, start: date, progress: Progress
) -> DemoSummary:
    rng = random.Random(20261124)
    company, _ = Company.objects.get_or_create(
        name=DEMO_COMPANY,
        defaults={
            "address": "Avenue de la Gare 10, 1003 Lausanne",
            "lat": 46.5167,
            "lon": 6.6291,
            "phone": "+41 21 000 00 00",
        },
    )
    reason_codes_seed(company_id=company.id)  # idempotent: a demo company of any age has them
    password_hash = make_password(password)  # once: hashing is deliberately slow
    _staff(company, password_hash)
    drivers = _fleet(company, max(30, math.ceil(bookings_per_day / 7)), password_hash, rng)
    _rosters(company, start)
    clients = _clients(company, max(300, bookings_per_day * 2), rng)
    places = seed_places()
    day_list = [start + timedelta(days=i) for i in range(days)]
    created = 0
    for day in progress(day_list):
        batch = _bookings_for_day(company, clients, day, bookings_per_day, places)
        Booking.objects.bulk_create(batch, batch_size=2000)  # no signals: bump below
        created += len(batch)
    lists_changed(company.id)
    return DemoSummary(company, drivers, len(clients), created, day_list)
