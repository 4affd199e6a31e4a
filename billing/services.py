"""Billing writes: the company's billing settings, payers, a client's default payer, tariff
versions, and a trip's price (computed when it completes, is cancelled late or is a no-show;
overridden by the office). Invoices are in billing/invoicing.py, payments in
billing/payments.py."""

from __future__ import annotations

import logging
from dataclasses import fields as dataclass_fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.exceptions import DomainError, NotFound
from billing.errors import BillingError, InvoiceConflict, TariffMissing
from billing.models import BillingSettings, ClientBilling, Payer, Tariff, TariffOverride, TripCharge
from billing.pricing import Prices, TripFacts, price_compute
from billing.references import iban_clean
from bookings.models import Booking, Client
from dispatch.engine import straight_line
from dispatch.engine.geo import Location
from dispatch.engine.osrm import OsrmError
from dispatch.engine.travel import OsrmMatrixProvider

log = logging.getLogger(__name__)

BILLABLE = (Booking.Status.COMPLETED, Booking.Status.NO_SHOW, Booking.Status.CANCELLED)


# --- billing settings -----------------------------------------------------------------------
def billing_settings_get(*, company_id: Any) -> BillingSettings:
    """The company's billing settings, made with the defaults on first use."""
    settings, _ = BillingSettings.objects.get_or_create(company_id=company_id)
    return settings


@transaction.atomic
def billing_settings_update(*, company: Company, **changes: Any) -> BillingSettings:
    """Change the creditor's address, IBAN (or QR-IBAN), terms and dunning rules.

    An invalid IBAN is refused (400 on `iban`) and nothing is saved."""
    settings = BillingSettings.objects.select_for_update().get(
        pk=billing_settings_get(company_id=company.id).pk
    )
    if changes.get("iban"):
        try:
            changes["iban"] = iban_clean(changes["iban"])
        except ValueError as exc:
            raise DomainError(str(exc), field="iban") from None
    for name, value in changes.items():
        setattr(settings, name, value)
    settings.full_clean()
    settings.save()
    return settings


# --- payers ---------------------------------------------------------------------------------
def payer_create(*, company: Company, **fields: Any) -> Payer:
    if fields.get("kind") == Payer.Kind.PATIENT:
        raise DomainError("A patient payer comes from its client.", field="kind")
    payer = Payer(company=company, **fields)
    payer.full_clean()
    payer.save()
    return payer


def payer_for_patient(*, client: Client) -> Payer:
    """The client's own payer row (the patient pays), made on first use from the client's
    name and home address."""
    payer = Payer.objects.filter(client=client).first()
    if payer is not None:
        return payer
    street, number, postal, city = address_split(client.address)
    try:
        with transaction.atomic():
            return Payer.objects.create(
                company_id=client.company_id,
                kind=Payer.Kind.PATIENT,
                client=client,
                name=f"{client.first_name} {client.last_name}".strip()[:70],
                street=street,
                house_number=number,
                postal_code=postal,
                city=city,
            )
    except IntegrityError:  # made meanwhile by another request
        return Payer.objects.get(client=client)


def address_split(address: str) -> tuple[str, str, str, str]:
    """("Rue du Lac", "12", "1007", "Lausanne") from "Rue du Lac 12, 1007 Lausanne": the
    structured address a QR-bill wants, from the one line a client has. Best effort: what
    does not parse stays in the street (or city) part."""
    head, _, tail = address.partition(",")
    street, number = head.strip(), ""
    parts = street.rsplit(" ", 1)
    if len(parts) == 2 and any(ch.isdigit() for ch in parts[1]) and len(parts[1]) <= 16:
        street, number = parts
    postal, city = "", tail.strip()
    bits = city.split(" ", 1)
    if len(bits) == 2 and bits[0].isdigit():
        postal, city = bits
    return street[:70], number[:16], postal[:16], city[:35]


@transaction.atomic
def client_billing_set(*, client: Client, **fields: Any) -> ClientBilling:
    """Set a client's default payer (None: the patient) and cost guarantee."""
    payer = fields.get("payer")
    if payer is not None and (payer.company_id != client.company_id or payer.client_id):
        raise NotFound("Unknown payer.", field="payer")
    billing, _ = ClientBilling.objects.get_or_create(client=client, company_id=client.company_id)
    for name, value in fields.items():
        setattr(billing, name, value)
    start, end = billing.guarantee_from, billing.guarantee_until
    if start and end and end < start:
        raise DomainError("The guarantee ends before it starts.", field="guarantee_until")
    billing.save()
    return billing


def client_default_payer(*, client: Client) -> Payer:
    billing = ClientBilling.objects.filter(client=client).select_related("payer").first()
    if billing is not None and billing.payer is not None:
        return billing.payer
    return payer_for_patient(client=client)


@transaction.atomic
def booking_payer_set(*, booking: Booking, payer: Payer | None) -> TripCharge:
    """Change who pays a trip (None: back to the client's default) until it is invoiced."""
    if payer is not None and payer.company_id != booking.company_id:
        raise NotFound("Unknown payer.", field="payer")
    charge = _charge_locked(booking)
    if charge.booking.invoice_lines.filter(active=True).exists():
        raise InvoiceConflict("The trip is invoiced: cancel its invoice first.", field="payer")
    charge.payer = payer or client_default_payer(client=booking.client)
    charge.save(update_fields=["payer"])
    return charge


def _charge_locked(booking: Booking) -> TripCharge:
    TripCharge.objects.get_or_create(booking=booking, defaults={"company_id": booking.company_id})
    return TripCharge.objects.select_for_update().select_related("booking").get(booking=booking)


# --- tariffs --------------------------------------------------------------------------------
_TARIFF_FIELDS = [f.name for f in dataclass_fields(Prices) if f.name != "flat_fare"]


@transaction.atomic
def tariff_create(
    *,
    company: Company,
    valid_from: date,
    overrides: list[dict[str, Any]] | None = None,
    **prices: Any,
) -> Tariff:
    """A new tariff version from `valid_from` (a local day), with the payers' overrides.

    Versions are never edited: trips priced under an old version keep its prices."""
    if Tariff.objects.filter(company=company, valid_from=valid_from).exists():
        raise InvoiceConflict("A tariff starts on this day already.", field="valid_from")
    tariff = Tariff(company=company, valid_from=valid_from, **prices)
    tariff.full_clean()
    tariff.save()
    for index, override in enumerate(overrides or []):
        payer = override["payer"]
        if payer.company_id != company.id:
            raise NotFound("Unknown payer.", field=f"overrides.{index}.payer")
        TariffOverride.objects.create(company=company, tariff=tariff, **override)
    return tariff


def tariff_for(*, company_id: Any, day: date) -> Tariff | None:
    """The version in force on `day` (local): the latest one starting on or before it."""
    return (
        Tariff.objects.filter(company_id=company_id, valid_from__lte=day)
        .order_by("-valid_from")
        .first()
    )


def prices_with_override(tariff: Tariff, override: TariffOverride | None) -> Prices:
    values = {name: getattr(tariff, name) for name in _TARIFF_FIELDS}
    if override is not None:
        for name in ("base_fare", "per_km", "minimum_fare"):
            if getattr(override, name) is not None:
                values[name] = getattr(override, name)
        values["flat_fare"] = override.flat_fare
    return Prices(**values)


# --- a trip's price -------------------------------------------------------------------------
def trip_distance_km(*, booking: Booking) -> tuple[Decimal, bool]:
    """(tariff distance in km to 0.1, estimated): OSRM's route from pick-up to drop-off, or
    the straight line × 1.3 when OSRM is not configured or does not answer (estimated)."""
    from dispatch.travel import travel_provider

    a = Location(booking.pickup_lat, booking.pickup_lon)
    b = Location(booking.dropoff_lat, booking.dropoff_lon)
    provider = travel_provider()
    metres = float(straight_line.road_distance_m(a, b))
    estimated = True
    if isinstance(provider, OsrmMatrixProvider):
        try:
            _, route_m = provider.route(a, b)
            metres, estimated = float(route_m), False
        except OsrmError as exc:
            log.warning("Tariff distance of %s estimated: %s", booking.pk, exc)
    km = (Decimal(metres) / 1000).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return km, estimated


def _charge_kind(booking: Booking) -> str | None:
    if booking.status == Booking.Status.COMPLETED:
        return TripCharge.Kind.TRIP
    if booking.status == Booking.Status.NO_SHOW:
        return TripCharge.Kind.NO_SHOW
    if booking.status == Booking.Status.CANCELLED and booking.cancelled_late:
        return TripCharge.Kind.LATE_CANCEL
    return None


@transaction.atomic
def trip_charge_price(*, booking: Booking, reprice: bool = False) -> TripCharge | None:
    """Compute and freeze the price of a billable trip (completed, cancelled late, no-show)
    under the tariff version of its pick-up day; None when it is not billable.

    Idempotent: a priced trip keeps its price unless `reprice` (the office changed its
    waiting time). An invoiced trip is never re-priced. Raises TariffMissing (400) when the
    company has no tariff for that day."""
    booking = Booking.objects.select_related("client", "company").get(pk=booking.pk)
    kind = _charge_kind(booking)
    if kind is None:
        return None
    charge = _charge_locked(booking)
    if charge.priced_at is not None and not reprice:
        return charge
    if booking.invoice_lines.filter(active=True).exists():
        raise InvoiceConflict("The trip is invoiced: its price is final.")
    company = booking.company
    pickup_local = booking.scheduled_at.astimezone(company.tz)
    tariff = tariff_for(company_id=company.id, day=pickup_local.date())
    if tariff is None:
        raise TariffMissing(
            f"No tariff is in force on {pickup_local:%Y-%m-%d}: add one first.", field="tariff"
        )
    if charge.payer_id is None:
        charge.payer = client_default_payer(client=booking.client)
    override = TariffOverride.objects.filter(tariff=tariff, payer=charge.payer).first()
    if kind == TripCharge.Kind.TRIP and (charge.distance_km is None or reprice):
        charge.distance_km, charge.distance_estimated = trip_distance_km(booking=booking)
    if kind == TripCharge.Kind.TRIP and not charge.waiting_entered:
        charge.waiting_minutes = trip_waiting_minutes(booking=booking)
    facts = TripFacts(
        kind=kind,
        pickup_local=pickup_local,
        canton=company.canton,
        mobility=booking.mobility,
        distance_km=charge.distance_km or Decimal(0),
        waiting_minutes=charge.waiting_minutes,
    )
    amount, breakdown = price_compute(prices=prices_with_override(tariff, override), facts=facts)
    charge.kind, charge.tariff, charge.computed, charge.breakdown = kind, tariff, amount, breakdown
    charge.amount = charge.override_amount if charge.override_amount is not None else amount
    charge.priced_at = timezone.now()
    charge.save()
    Booking.objects.filter(pk=booking.pk).update(price=charge.amount)
    return charge


def trip_charge_after_status(*, booking_id: Any) -> None:
    """The on-commit hook of a status change: price the trip if it became billable. A
    failure (no tariff yet) is logged, never raised into the driver's request: the trip is
    priced again when its month is invoiced."""
    try:
        trip_charge_price(booking=Booking(pk=booking_id))
    except DomainError as exc:
        log.info("Trip %s not priced: %s", booking_id, exc.detail)


@transaction.atomic
def trip_charge_override(
    *, booking: Booking, amount: Decimal | None, reason: str = ""
) -> TripCharge:
    """The office's own price for a trip, with its reason (None: back to the tariff's)."""
    if amount is not None and not reason.strip():
        raise DomainError("Say why the price is overridden.", field="reason")
    if amount is not None and amount < 0:
        raise DomainError("A price is not negative.", field="amount")
    if amount is not None and amount % Decimal("0.05"):
        # Lines are in 0.05 CHF, so an invoice's total stays exactly the sum of its lines.
        raise DomainError("A price is a multiple of 0.05 CHF.", field="amount")
    charge = _charge_locked(booking)
    if booking.invoice_lines.filter(active=True).exists():
        raise InvoiceConflict("The trip is invoiced: its price is final.", field="amount")
    charge.override_amount = amount.quantize(Decimal("0.01")) if amount is not None else None
    charge.override_reason = reason.strip()[:300] if amount is not None else ""
    charge.amount = charge.override_amount if amount is not None else charge.computed
    charge.save(update_fields=["override_amount", "override_reason", "amount"])
    Booking.objects.filter(pk=booking.pk).update(price=charge.amount)
    return charge


def trip_waiting_minutes(*, booking: Booking) -> int:
    """The minutes the driver waited at the pick-up, from the phones: from its arrival (or
    the booked pick-up time, when it came early) to the patient on board, in whole minutes;
    0 without both steps recorded."""
    if booking.arrived_at is None or booking.picked_up_at is None:
        return 0
    start = max(booking.arrived_at, booking.scheduled_at)
    return max(0, int((booking.picked_up_at - start).total_seconds()) // 60)


def trip_charge_set_waiting(*, booking: Booking, minutes: int | None) -> TripCharge | None:
    """The office's waiting time (it wins over the phones'; None: back to the phones') and
    re-price."""
    if minutes is not None and (minutes < 0 or minutes > 24 * 60):
        raise DomainError("Waiting is 0 to 1,440 minutes.", field="waiting_minutes")
    with transaction.atomic():
        charge = _charge_locked(booking)
        charge.waiting_entered = minutes is not None
        charge.waiting_minutes = minutes if minutes is not None else 0
        charge.save(update_fields=["waiting_minutes", "waiting_entered"])
        return trip_charge_price(booking=booking, reprice=True)


def trip_charges_missing(*, company_id: Any, bookings: list[Booking]) -> int:
    """Price the billable `bookings` that have no price yet (completed before a tariff
    existed, or a hook that failed); the count priced. Raises TariffMissing like
    `trip_charge_price`."""
    priced = 0
    for booking in bookings:
        if booking.company_id != company_id:
            raise BillingError("A trip of another company.")
        if trip_charge_price(booking=booking) is not None:
            priced += 1
    return priced


@transaction.atomic
def trip_charge_update(*, booking: Booking, changes: dict[str, Any]) -> TripCharge:
    """The office's changes to a trip's billing, applied in one transaction (all or nothing):
    `payer`, `override_amount` + `override_reason`, `waiting_minutes`. An invoiced trip
    refuses them (409)."""
    if "payer" in changes:
        booking_payer_set(booking=booking, payer=changes["payer"])
    if "waiting_minutes" in changes:
        trip_charge_set_waiting(booking=booking, minutes=changes["waiting_minutes"])
    if "override_amount" in changes:
        trip_charge_override(
            booking=booking,
            amount=changes["override_amount"],
            reason=changes.get("override_reason", ""),
        )
    return _charge_locked(booking)
