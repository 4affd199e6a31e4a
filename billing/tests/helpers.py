"""Shared set-up of the billing tests: a company ready to bill, trips completed through the
services, and camt.054 files paying given entries."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.camt import CamtEntry
from billing.models import BillingSettings, Tariff
from billing.tests.camt_samples import camt054_build as camt054_sample
from bookings import services as booking_services
from tests.factories import BookingFactory, ClientFactory, DriverFactory

ZURICH = ZoneInfo("Europe/Zurich")
QR_IBAN = "CH4431999123000889012"
IBAN = "CH9300762011623852957"


def camt054_build(entries, message_id: str = "MSG-1") -> bytes:
    """A camt.054 paying `entries` (CamtEntry), the bank's transaction reference being the
    entry id (billing/tests/camt_samples.py builds the file)."""
    return camt054_sample(
        [
            {
                "amount": e.amount,
                "reference": e.reference,
                "currency": e.currency,
                "booked_on": e.booked_on,
                "debtor_name": e.debtor_name,
                "bank_ref": e.entry_id,
            }
            for e in entries
        ],
        message_id=message_id,
    )


def camt_entry(**fields):
    values = {
        "entry_id": "E1",
        "reference": None,
        "amount": Decimal("10.00"),
        "currency": "CHF",
        "booked_on": date(2026, 12, 1),
        "debtor_name": "Someone",
    }
    values.update(fields)
    return CamtEntry(**values)


# --- a company ready to bill ----------------------------------------------------------------
def billing_ready(company, *, iban: str = QR_IBAN) -> BillingSettings:
    settings, _ = BillingSettings.objects.get_or_create(company=company)
    settings.creditor_name = company.name
    settings.street, settings.house_number = "Avenue de la Gare", "1"
    settings.postal_code, settings.city = "1003", "Lausanne"
    settings.iban = iban
    settings.save()
    return settings


def tariff(company, *, valid_from: date = date(2026, 1, 1), **prices) -> Tariff:
    values = {
        "base_fare": Decimal("20.00"),
        "per_km": Decimal("2.00"),
        "minimum_fare": Decimal("30.00"),
        "wheelchair_supplement": Decimal("15.00"),
        "stretcher_supplement": Decimal("40.00"),
        "night_supplement": Decimal("12.00"),
        "weekend_supplement": Decimal("8.00"),
        "holiday_supplement": Decimal("10.00"),
        "waiting_free_minutes": 10,
        "waiting_per_5_minutes": Decimal("4.50"),
        "late_cancel_fee": Decimal("35.00"),
        "no_show_fee": Decimal("45.00"),
    }
    values.update(prices)
    return Tariff.objects.create(company=company, valid_from=valid_from, **values)


def trip(company, *, at: datetime, client=None, driver=None, **fields):
    """A booking assigned to a driver on `at` (aware)."""
    driver = driver or DriverFactory(company=company)
    client = client or ClientFactory(company=company, address="Rue du Lac 5, 1007 Lausanne")
    return BookingFactory(
        company=company,
        client=client,
        driver=driver,
        vehicle=driver.default_vehicle,
        status="assigned",
        scheduled_at=at,
        pickup_earliest=at - timedelta(minutes=10),
        pickup_latest=at + timedelta(minutes=15),
        pickup_lat=46.52,
        pickup_lon=6.63,
        dropoff_lat=46.2,
        dropoff_lon=6.15,
        **fields,
    )


def complete(booking, capture):
    """Complete `booking` as the office does, running the on-commit hooks."""
    with capture(execute=True):
        booking_services.booking_set_status(booking=booking, status="completed")
    booking.refresh_from_db()
    return booking
