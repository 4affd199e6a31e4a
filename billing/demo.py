"""The demo company's billing: its settings, a tariff, a few insurers and care homes as
clients' payers, and its past trips completed through the booking services (so every trip is
priced by the same hook as a driver's phone triggers). Used by `seed_demo --completed-days`."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from atmr.accounts.models import Company
from atmr.exceptions import DomainError
from billing.models import BillingSettings, ClientBilling, Payer, Tariff
from billing.services import billing_settings_get, payer_create
from bookings import services as booking_services
from bookings.models import Booking, Client
from drivers.models import Driver

# The sample QR-IBAN of the Swiss payment standards (institution id 31999): demo only.
DEMO_QR_IBAN = "CH4431999123000889012"
DEMO_PAYERS = [
    ("insurer", "Assura SA", "Avenue C.-F. Ramuz", "70", "1009", "Pully"),
    ("insurer", "Groupe Mutuel", "Rue des Cèdres", "5", "1920", "Martigny"),
    ("institution", "EMS Les Tilleuls", "Chemin des Tilleuls", "12", "1010", "Lausanne"),
    ("institution", "CHUV", "Rue du Bugnon", "46", "1011", "Lausanne"),
]


@dataclass(frozen=True)
class CompletedSummary:
    completed: int
    no_shows: int
    skipped: int


def demo_billing_seed(*, company: Company) -> None:
    """Billing settings, a tariff from 2020 and the demo payers, where missing; a quarter of
    the clients get an insurer or a care home as their default payer."""
    settings = billing_settings_get(company_id=company.id)
    if not settings.iban:
        BillingSettings.objects.filter(pk=settings.pk).update(
            creditor_name=company.name,
            street="Avenue de la Gare",
            house_number="10",
            postal_code="1003",
            city="Lausanne",
            iban=DEMO_QR_IBAN,
        )
    Tariff.objects.get_or_create(
        company=company,
        valid_from=date(2020, 1, 1),
        defaults={
            "base_fare": Decimal("25.00"),
            "per_km": Decimal("2.40"),
            "minimum_fare": Decimal("35.00"),
            "wheelchair_supplement": Decimal("15.00"),
            "stretcher_supplement": Decimal("45.00"),
            "night_supplement": Decimal("20.00"),
            "weekend_supplement": Decimal("10.00"),
            "holiday_supplement": Decimal("15.00"),
            "waiting_free_minutes": 10,
            "waiting_per_5_minutes": Decimal("5.00"),
            "late_cancel_fee": Decimal("40.00"),
            "no_show_fee": Decimal("50.00"),
        },
    )
    payers = []
    for kind, name, street, number, postal, city in DEMO_PAYERS:
        payer = Payer.objects.filter(company=company, name=name).first() or payer_create(
            company=company,
            kind=kind,
            name=name,
            street=street,
            house_number=number,
            postal_code=postal,
            city=city,
        )
        payers.append(payer)
    rng = random.Random(1404)
    for client in Client.objects.filter(company=company).order_by("last_name", "id"):
        if rng.random() < 0.25:
            ClientBilling.objects.get_or_create(
                client=client,
                defaults={
                    "company": company,
                    "payer": rng.choice(payers),
                    "insurance_number": f"756.{rng.randrange(10**8):08d}",
                },
            )


def demo_trips_complete(*, company: Company, first: date, last: date) -> CompletedSummary:
    """Complete the company's open trips from `first` to `last` (local days) as drivers do:
    assigned (to a driver whose vehicle suits), en route, on board, completed; about one in
    thirty is a no-show. Each step is `booking_set_status`, so each trip is priced on commit.
    Trips no demo driver's vehicle can carry are left as they are (counted as skipped)."""
    tz = company.tz
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
    drivers = list(
        Driver.objects.filter(company=company, active=True)
        .select_related("default_vehicle")
        .order_by("id")
    )
    open_trips = Booking.objects.filter(
        company=company,
        scheduled_at__gte=start,
        scheduled_at__lt=end,
        status__in=[Booking.Status.PENDING, Booking.Status.ASSIGNED],
    ).order_by("scheduled_at", "id")
    rng = random.Random(first.toordinal())
    completed = no_shows = skipped = 0
    for booking in open_trips:
        try:
            if booking.status == Booking.Status.PENDING:
                _assign(booking, drivers, rng)
            booking_services.booking_set_status(booking=booking, status=Booking.Status.EN_ROUTE)
            if rng.random() < 1 / 30:
                booking_services.booking_set_status(booking=booking, status=Booking.Status.NO_SHOW)
                no_shows += 1
                continue
            booking_services.booking_set_status(booking=booking, status=Booking.Status.ON_BOARD)
            booking_services.booking_set_status(booking=booking, status=Booking.Status.COMPLETED)
            completed += 1
        except DomainError:
            skipped += 1
    return CompletedSummary(completed=completed, no_shows=no_shows, skipped=skipped)


def _assign(booking: Booking, drivers: list[Driver], rng: random.Random) -> None:
    suitable = [
        d
        for d in drivers
        if booking_services.vehicle_suits(
            d.default_vehicle, mobility=booking.mobility, passengers=booking.passengers
        )
        is None
    ]
    if not suitable:
        raise DomainError("No demo vehicle carries this trip.")
    booking_services.booking_assign(booking=booking, driver=rng.choice(suitable))
