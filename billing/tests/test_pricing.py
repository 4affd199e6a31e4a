from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from billing import services
from billing.errors import InvoiceConflict, TariffMissing
from billing.models import Payer, TripCharge
from billing.pricing import Prices, TripFacts, price_compute, round_05
from billing.tests.helpers import ZURICH, complete, tariff, trip
from bookings import services as booking_services
from bookings.errors import NoShowTooEarly
from bookings.models import Booking
from tests.factories import ClientFactory

PRICES = Prices(
    base_fare=Decimal("20.00"),
    per_km=Decimal("2.00"),
    minimum_fare=Decimal("30.00"),
    wheelchair_supplement=Decimal("15.00"),
    stretcher_supplement=Decimal("40.00"),
    night_supplement=Decimal("12.00"),
    weekend_supplement=Decimal("8.00"),
    holiday_supplement=Decimal("10.00"),
    waiting_free_minutes=10,
    waiting_per_5_minutes=Decimal("4.50"),
    late_cancel_fee=Decimal("35.00"),
    no_show_fee=Decimal("45.00"),
)
TUESDAY_NOON = datetime(2026, 12, 8, 12, 0, tzinfo=ZURICH)


def facts(**changes):
    values = {
        "kind": "trip",
        "pickup_local": TUESDAY_NOON,
        "canton": "VD",
        "mobility": "walks",
        "distance_km": Decimal("10.0"),
    }
    values.update(changes)
    return TripFacts(**values)


def codes(items):
    return {item["code"]: Decimal(item["amount"]) for item in items}


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [
        ("10.00", "10.00"),
        ("10.02", "10.00"),
        ("10.024", "10.00"),
        ("10.025", "10.05"),
        ("10.03", "10.05"),
        ("10.07", "10.05"),
        ("10.08", "10.10"),
        ("0.01", "0.00"),
    ],
)
def test_round_05_is_swiss_cash_rounding(raw, rounded):
    assert round_05(Decimal(raw)) == Decimal(rounded)


def test_a_plain_trip_is_base_plus_distance():
    amount, items = price_compute(prices=PRICES, facts=facts())
    assert amount == Decimal("40.00")
    assert codes(items) == {"base_fare": Decimal("20.00"), "distance": Decimal("20.00")}


def test_a_short_trip_costs_the_minimum_fare():
    amount, items = price_compute(prices=PRICES, facts=facts(distance_km=Decimal("2.0")))
    assert amount == Decimal("30.00")
    assert codes(items)["minimum_fare"] == Decimal("6.00")


@pytest.mark.parametrize(
    ("changes", "code", "supplement"),
    [
        ({"mobility": "wheelchair"}, "wheelchair", "15.00"),
        ({"mobility": "stretcher"}, "stretcher", "40.00"),
        ({"pickup_local": datetime(2026, 12, 8, 20, 0, tzinfo=ZURICH)}, "night", "12.00"),
        ({"pickup_local": datetime(2026, 12, 8, 5, 59, tzinfo=ZURICH)}, "night", "12.00"),
        ({"pickup_local": datetime(2026, 12, 12, 12, 0, tzinfo=ZURICH)}, "weekend", "8.00"),
        ({"pickup_local": datetime(2026, 12, 13, 12, 0, tzinfo=ZURICH)}, "weekend", "8.00"),
        # Christmas (a Friday) and the Jeûne fédéral Monday of Vaud.
        ({"pickup_local": datetime(2026, 12, 25, 12, 0, tzinfo=ZURICH)}, "holiday", "10.00"),
        ({"pickup_local": datetime(2026, 9, 21, 12, 0, tzinfo=ZURICH)}, "holiday", "10.00"),
        ({"waiting_minutes": 11}, "waiting", "4.50"),
        ({"waiting_minutes": 15}, "waiting", "4.50"),
        ({"waiting_minutes": 16}, "waiting", "9.00"),
    ],
)
def test_each_supplement_adds_its_price(changes, code, supplement):
    amount, items = price_compute(prices=PRICES, facts=facts(**changes))
    assert codes(items)[code] == Decimal(supplement)
    assert amount == Decimal("40.00") + Decimal(supplement)


@pytest.mark.parametrize(
    "changes",
    [
        {"pickup_local": datetime(2026, 12, 8, 6, 0, tzinfo=ZURICH)},  # night ends at 06:00
        {"pickup_local": datetime(2026, 12, 8, 19, 59, tzinfo=ZURICH)},
        {"waiting_minutes": 10},  # the free allowance
        {"pickup_local": datetime(2026, 9, 21, 12, 0, tzinfo=ZURICH), "canton": "ZH"},
    ],
)
def test_no_supplement_outside_its_rule(changes):
    amount, items = price_compute(prices=PRICES, facts=facts(**changes))
    assert amount == Decimal("40.00")
    assert set(codes(items)) == {"base_fare", "distance"}


def test_a_holiday_on_a_weekend_counts_once_as_holiday():
    sunday_holiday = datetime(2027, 8, 1, 12, 0, tzinfo=ZURICH)  # Swiss national day, a Sunday
    amount, items = price_compute(prices=PRICES, facts=facts(pickup_local=sunday_holiday))
    assert "holiday" in codes(items) and "weekend" not in codes(items)
    assert amount == Decimal("50.00")


def test_late_cancel_and_no_show_cost_their_fee_only():
    assert price_compute(prices=PRICES, facts=facts(kind="late_cancel", mobility="stretcher"))[
        0
    ] == Decimal("35.00")
    assert price_compute(prices=PRICES, facts=facts(kind="no_show"))[0] == Decimal("45.00")


def test_an_odd_price_is_rounded_with_a_rounding_item():
    amount, items = price_compute(
        prices=PRICES, facts=facts(distance_km=Decimal("10.3"), mobility="wheelchair")
    )
    # 20 + 20.60 + 15 = 55.60 exactly; 10.4 km gives 55.80; 10.1 km × 2.33 needs rounding:
    assert amount == Decimal("55.60")
    odd = Prices(**{**PRICES.__dict__, "per_km": Decimal("2.33")})
    amount, items = price_compute(prices=odd, facts=facts(distance_km=Decimal("10.1")))
    assert amount == Decimal("43.55")  # 20 + 23.53 = 43.53
    assert codes(items)["rounding"] == Decimal("0.02")
    assert sum(codes(items).values()) == amount


def test_a_flat_fare_override_replaces_everything():
    flat = Prices(**{**PRICES.__dict__, "flat_fare": Decimal("25.00")})
    amount, items = price_compute(prices=flat, facts=facts(mobility="wheelchair"))
    assert amount == Decimal("25.00")
    assert list(codes(items)) == ["flat_fare"]


# --- the service: frozen on the trip when it completes -------------------------------------
pytestmark = pytest.mark.django_db


@pytest.mark.clock(datetime(2026, 12, 8, 18, 0, tzinfo=ZURICH))
def test_completing_a_trip_prices_it_on_commit(company, django_capture_on_commit_callbacks):
    version = tariff(company)
    booking = trip(company, at=TUESDAY_NOON)
    complete(booking, django_capture_on_commit_callbacks)
    charge = TripCharge.objects.get(booking=booking)
    assert charge.tariff == version and charge.kind == "trip"
    # OSRM is not configured in the tests: straight line × 1.3, flagged.
    assert charge.distance_estimated is True
    assert Decimal("60") < charge.distance_km < Decimal("75")
    expected = round_05(Decimal("20.00") + (Decimal("2.00") * charge.distance_km))
    assert charge.amount == expected == booking.price
    assert charge.payer.kind == Payer.Kind.PATIENT and charge.payer.client == booking.client
    assert charge.payer.postal_code == "1007" and charge.payer.city == "Lausanne"


@pytest.mark.clock(datetime(2026, 12, 8, 11, 0, tzinfo=ZURICH))
def test_late_cancellation_and_no_show_are_priced_with_their_fee(
    company, django_capture_on_commit_callbacks
):
    tariff(company)
    late = trip(company, at=TUESDAY_NOON)
    in_time = trip(company, at=datetime(2026, 12, 10, 12, 0, tzinfo=ZURICH))
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_cancel(booking=late)
        booking_services.booking_cancel(booking=in_time)
    assert TripCharge.objects.get(booking=late).amount == Decimal("35.00")
    assert not TripCharge.objects.filter(booking=in_time).exists()
    no_show = trip(company, at=datetime(2026, 12, 8, 11, 30, tzinfo=ZURICH))
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_set_status(booking=no_show, status="no_show")
    charge = TripCharge.objects.get(booking=no_show)
    assert (charge.kind, charge.amount) == ("no_show", Decimal("45.00"))


@pytest.mark.clock(datetime(2026, 12, 8, 18, 0, tzinfo=ZURICH))
def test_the_version_in_force_on_the_trip_day_prices_it(
    company, django_capture_on_commit_callbacks
):
    tariff(company, valid_from=date(2026, 1, 1), base_fare=Decimal("20.00"))
    newer = tariff(company, valid_from=date(2026, 12, 8), base_fare=Decimal("30.00"))
    tariff(company, valid_from=date(2026, 12, 9), base_fare=Decimal("40.00"))
    booking = complete(trip(company, at=TUESDAY_NOON), django_capture_on_commit_callbacks)
    charge = booking.charge
    assert charge.tariff == newer
    assert charge.breakdown[0] == {"code": "base_fare", "text": "Base fare", "amount": "30.00"}


@pytest.mark.clock(datetime(2026, 12, 8, 18, 0, tzinfo=ZURICH))
def test_a_payer_override_prices_its_trips(company, django_capture_on_commit_callbacks):
    home = services.payer_create(company=company, kind="institution", name="EMS Les Tilleuls")
    version = tariff(company)
    version.overrides.create(company=company, payer=home, flat_fare=Decimal("28.00"))
    client = ClientFactory(company=company)
    services.client_billing_set(client=client, payer=home)
    booking = complete(
        trip(company, at=TUESDAY_NOON, client=client), django_capture_on_commit_callbacks
    )
    assert (booking.charge.payer, booking.charge.amount) == (home, Decimal("28.00"))


@pytest.mark.clock(datetime(2026, 12, 8, 18, 0, tzinfo=ZURICH))
def test_a_trip_without_a_tariff_stays_unpriced_and_the_driver_is_not_refused(
    company, django_capture_on_commit_callbacks
):
    booking = complete(trip(company, at=TUESDAY_NOON), django_capture_on_commit_callbacks)
    assert booking.status == "completed"
    assert not TripCharge.objects.filter(booking=booking, priced_at__isnull=False).exists()
    with pytest.raises(TariffMissing):
        services.trip_charge_price(booking=booking)


@pytest.mark.clock(datetime(2026, 12, 8, 18, 0, tzinfo=ZURICH))
def test_override_and_waiting_reprice_and_the_price_is_kept_otherwise(
    company, django_capture_on_commit_callbacks
):
    tariff(company)
    booking = complete(trip(company, at=TUESDAY_NOON), django_capture_on_commit_callbacks)
    computed = booking.charge.amount
    services.trip_charge_set_waiting(booking=booking, minutes=21)  # 11 beyond: 3 × 4.50
    booking.charge.refresh_from_db()
    assert booking.charge.amount == computed + Decimal("13.50")
    with pytest.raises(Exception, match="Say why"):
        services.trip_charge_override(booking=booking, amount=Decimal("50"))
    with pytest.raises(Exception, match=r"multiple of 0\.05"):
        services.trip_charge_override(booking=booking, amount=Decimal("50.02"), reason="Agreed")
    charge = services.trip_charge_override(booking=booking, amount=Decimal("50"), reason="Agreed")
    assert charge.amount == Decimal("50.00")
    assert services.trip_charge_price(booking=booking).amount == Decimal("50.00")  # kept
    booking.refresh_from_db()
    assert booking.price == Decimal("50.00")


@pytest.mark.clock(datetime(2026, 12, 8, 18, 0, tzinfo=ZURICH))
def test_payer_changes_until_invoiced(company, django_capture_on_commit_callbacks):
    from billing.invoicing import invoice_generate

    tariff(company)
    insurer = services.payer_create(company=company, kind="insurer", name="Assura")
    booking = complete(trip(company, at=TUESDAY_NOON), django_capture_on_commit_callbacks)
    services.booking_payer_set(booking=booking, payer=insurer)
    assert TripCharge.objects.get(booking=booking).payer == insurer
    invoice_generate(company=company, month=date(2026, 12, 1))
    with pytest.raises(InvoiceConflict):
        services.booking_payer_set(booking=booking, payer=None)


def _steps(booking, capture, *steps):
    """The driver's steps at their local times ("HH:MM" on TUESDAY_NOON's day)."""
    import time_machine

    for hhmm, status in steps:
        hour, minute = map(int, hhmm.split(":"))
        moment = TUESDAY_NOON.replace(hour=hour, minute=minute)
        with time_machine.travel(moment, tick=False), capture(execute=True):
            booking_services.booking_set_status(booking=booking, status=status)
    booking.refresh_from_db()
    return booking


def test_the_waiting_time_comes_from_the_phones_and_the_office_may_override_it(
    company, django_capture_on_commit_callbacks
):
    tariff(company)
    capture = django_capture_on_commit_callbacks
    plain = _steps(trip(company, at=TUESDAY_NOON), capture, ("12:30", "completed"))
    waited = _steps(
        trip(company, at=TUESDAY_NOON),
        capture,
        ("11:50", "en_route"),
        ("12:02", "arrived"),
        ("12:23", "on_board"),  # 21 min: 11 beyond the free 10, 3 × 4.50
        ("12:50", "completed"),
    )
    assert waited.picked_up_at == TUESDAY_NOON.replace(minute=23)
    charge = TripCharge.objects.get(booking=waited)
    assert (charge.waiting_minutes, charge.waiting_entered) == (21, False)
    assert charge.amount == plain.charge.amount + Decimal("13.50")
    assert any(item["code"] == "waiting" for item in charge.breakdown)
    # The office's word wins, and None gives the phones' back.
    charge = services.trip_charge_set_waiting(booking=waited, minutes=5)
    assert (charge.waiting_minutes, charge.waiting_entered, charge.amount) == (
        5,
        True,
        plain.charge.amount,
    )
    assert services.trip_charge_price(booking=waited, reprice=True).waiting_minutes == 5
    charge = services.trip_charge_set_waiting(booking=waited, minutes=None)
    assert (charge.waiting_minutes, charge.waiting_entered) == (21, False)


def test_waiting_counts_from_the_booked_time_when_the_driver_came_early(
    company, django_capture_on_commit_callbacks
):
    tariff(company)
    early = _steps(
        trip(company, at=TUESDAY_NOON),
        django_capture_on_commit_callbacks,
        ("11:40", "en_route"),
        ("11:45", "arrived"),
        ("12:12", "on_board"),
        ("12:40", "completed"),
    )
    assert services.trip_waiting_minutes(booking=early) == 12
    assert TripCharge.objects.get(booking=early).waiting_minutes == 12
    no_steps = Booking(arrived_at=None, picked_up_at=TUESDAY_NOON, scheduled_at=TUESDAY_NOON)
    assert services.trip_waiting_minutes(booking=no_steps) == 0


def test_a_no_show_after_arriving_and_waiting_is_priced_with_its_fee(
    company, django_capture_on_commit_callbacks
):
    tariff(company)
    company.no_show_wait_minutes = 15
    company.save()
    booking = _steps(
        trip(company, at=TUESDAY_NOON),
        django_capture_on_commit_callbacks,
        ("11:50", "en_route"),
        ("12:00", "arrived"),
    )
    with pytest.raises(NoShowTooEarly):
        _steps(booking, django_capture_on_commit_callbacks, ("12:10", "no_show"))
    assert not TripCharge.objects.filter(booking=booking).exists()
    _steps(booking, django_capture_on_commit_callbacks, ("12:16", "no_show"))
    charge = TripCharge.objects.get(booking=booking)
    assert (charge.kind, charge.amount, charge.waiting_minutes) == (
        "no_show",
        Decimal("45.00"),
        0,
    )
