"""A trip's price from a tariff version: pure arithmetic on Decimal, no database.

Rules (issue 14):
- a trip: base fare + price per km × tariff distance, at least the minimum fare; then the
  supplements: wheelchair or stretcher, night (pick-up 20:00–06:00 local), a public holiday
  of the company's canton or else a weekend, and waiting time per started 5 minutes beyond
  the free allowance;
- a payer's override replaces the base fare, the price per km or the minimum, or sets one
  flat fare for the whole trip (supplements included);
- a late cancellation or a no-show costs its fee only.
Each amount is rounded to 0.05 CHF, so an invoice's total is exactly the sum of its lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import TypedDict

import holidays

FIVE_CENTS = Decimal("0.05")
CENT = Decimal("0.01")
NIGHT_FROM = time(20, 0)
NIGHT_UNTIL = time(6, 0)


def round_05(amount: Decimal) -> Decimal:
    """Swiss cash rounding: to the nearest 0.05 CHF, halves up (0.025 → 0.05)."""
    return (
        (amount / FIVE_CENTS).quantize(Decimal(1), rounding=ROUND_HALF_UP) * FIVE_CENTS
    ).quantize(CENT)


class BreakdownItem(TypedDict):
    code: str
    text: str
    amount: str


@dataclass(frozen=True)
class Prices:
    """The tariff figures one price needs (a tariff version, with a payer's override
    applied by `prices_with_override`)."""

    base_fare: Decimal
    per_km: Decimal
    minimum_fare: Decimal
    wheelchair_supplement: Decimal
    stretcher_supplement: Decimal
    night_supplement: Decimal
    weekend_supplement: Decimal
    holiday_supplement: Decimal
    waiting_free_minutes: int
    waiting_per_5_minutes: Decimal
    late_cancel_fee: Decimal
    no_show_fee: Decimal
    flat_fare: Decimal | None = None


@dataclass(frozen=True)
class TripFacts:
    kind: str  # "trip", "late_cancel" or "no_show"
    pickup_local: datetime  # the pick-up in the company's zone
    canton: str
    mobility: str
    distance_km: Decimal
    waiting_minutes: int = 0


@cache
def _holidays(canton: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CH", subdiv=canton, years=year)


def is_public_holiday(day: date, canton: str) -> bool:
    return day in _holidays(canton, day.year)


def is_night(moment: time) -> bool:
    return moment >= NIGHT_FROM or moment < NIGHT_UNTIL


def _item(code: str, label: str, amount: Decimal) -> BreakdownItem:
    return {"code": code, "text": label, "amount": str(amount.quantize(CENT))}


def price_compute(*, prices: Prices, facts: TripFacts) -> tuple[Decimal, list[BreakdownItem]]:
    """(amount rounded to 0.05 CHF, its breakdown). The items add up to the amount before
    rounding; a `rounding` item says the difference when there is one."""
    if facts.kind == "late_cancel":
        items = [_item("late_cancel", "Late cancellation", prices.late_cancel_fee)]
    elif facts.kind == "no_show":
        items = [_item("no_show", "No-show", prices.no_show_fee)]
    elif prices.flat_fare is not None:
        items = [_item("flat_fare", "Flat fare", prices.flat_fare)]
    else:
        items = _trip_items(prices, facts)
    raw = sum((Decimal(i["amount"]) for i in items), Decimal(0))
    amount = round_05(raw)
    if amount != raw:
        items.append(_item("rounding", "Rounding to 0.05", amount - raw))
    return amount, items


def _trip_items(prices: Prices, facts: TripFacts) -> list[BreakdownItem]:
    distance = (prices.per_km * facts.distance_km).quantize(CENT, rounding=ROUND_HALF_UP)
    items = [
        _item("base_fare", "Base fare", prices.base_fare),
        _item("distance", f"{facts.distance_km} km × {prices.per_km}", distance),
    ]
    fare = prices.base_fare + distance
    if fare < prices.minimum_fare:
        items.append(_item("minimum_fare", "Up to the minimum fare", prices.minimum_fare - fare))
    items.extend(_supplements(prices, facts))
    return [i for i in items if Decimal(i["amount"]) or i["code"] == "base_fare"]


def _supplements(prices: Prices, facts: TripFacts) -> list[BreakdownItem]:
    items: list[BreakdownItem] = []
    if facts.mobility == "wheelchair":
        items.append(_item("wheelchair", "Wheelchair", prices.wheelchair_supplement))
    elif facts.mobility == "stretcher":
        items.append(_item("stretcher", "Stretcher", prices.stretcher_supplement))
    if is_night(facts.pickup_local.time()):
        items.append(_item("night", "Night (20:00–06:00)", prices.night_supplement))
    day = facts.pickup_local.date()
    if is_public_holiday(day, facts.canton):
        items.append(_item("holiday", "Public holiday", prices.holiday_supplement))
    elif day.isoweekday() >= 6:
        items.append(_item("weekend", "Weekend", prices.weekend_supplement))
    beyond = facts.waiting_minutes - prices.waiting_free_minutes
    if beyond > 0:
        started = -(-beyond // 5)
        items.append(
            _item(
                "waiting",
                f"Waiting {facts.waiting_minutes} min ({started} × 5 min)",
                prices.waiting_per_5_minutes * started,
            )
        )
    return items
