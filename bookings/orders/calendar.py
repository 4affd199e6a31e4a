"""Which days a standing order runs, and why a day of its pattern is skipped.

Plain Python over the order's fields: the services, the preview and the overview share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Protocol


class OrderPattern(Protocol):
    weekdays: list[int]
    every_weeks: int
    start_date: date
    end_date: date | None
    occurrences: int | None
    holidays: str


_LONGEST_DAYS = 40 * 366


@dataclass(frozen=True)
class Exception_:
    kind: str  # "skip" or "pause"
    first_day: date
    last_day: date


@dataclass(frozen=True)
class Day:
    """A day of the order's pattern. `skipped` is None for a day with trips, else "holiday",
    "skipped" or "paused"; `holiday` names the public holiday that day, if any."""

    day: date
    skipped: str | None = None
    holiday: str | None = None


@lru_cache(maxsize=256)
def _holidays(canton: str, year: int) -> dict[date, str]:
    # Imported on first use: the package takes ~80 ms to import, which every web process
    # would pay at start-up for a table most requests never read.
    import holidays as public_holidays

    return dict(public_holidays.country_holidays("CH", subdiv=canton, years=year).items())


def holiday_name(canton: str, day: date) -> str | None:
    """The public holiday on `day` in `canton` (Swiss federal and cantonal), or None."""
    return _holidays(canton, day.year).get(day)


def _monday(day: date) -> date:
    return day - timedelta(days=day.isoweekday() - 1)


def in_pattern(order: OrderPattern, day: date) -> bool:
    """Whether `day` is one of the order's weekdays (and weeks), ignoring its start and end."""
    if day.isoweekday() not in order.weekdays:
        return False
    # Every second week counts from the week of the start date.
    weeks = (_monday(day) - _monday(order.start_date)).days // 7
    return weeks % order.every_weeks == 0


def order_days(
    order: OrderPattern,
    *,
    canton: str,
    exceptions: Iterable[Exception_] = (),
    first: date | None = None,
    last: date | None = None,
) -> Iterator[Day]:
    """The pattern's days from `first` to `last` (inclusive) within the order, skipped ones
    included, in order.

    `occurrences` counts days with trips: a skipped, paused or holiday-skipped day does not use
    one up (a course of 30 radiotherapy sessions is 30 trips), so the count is followed from the
    start date whatever `first` is.
    """
    stops = [d for d in (order.end_date, last) if d is not None]
    stop = min(stops) if stops else None
    exceptions = list(exceptions)
    held = 0
    day = order.start_date
    if order.occurrences is None and first is not None:
        day = max(day, first)  # nothing to count: start where asked
    # A count of 1,000 once a fortnight lasts about 38 years; nothing runs longer.
    stop = min(stop or date.max, order.start_date + timedelta(days=_LONGEST_DAYS))
    while day <= stop:
        if in_pattern(order, day):
            found = _day(order, day, canton, exceptions)
            if found.skipped is None:
                held += 1
            if first is None or day >= first:
                yield found
            if order.occurrences is not None and held >= order.occurrences:
                return
        day += timedelta(days=1)


def _day(order: OrderPattern, day: date, canton: str, exceptions: list[Exception_]) -> Day:
    holiday = holiday_name(canton, day)
    for exc in exceptions:
        if exc.first_day <= day <= exc.last_day:
            return Day(day, "skipped" if exc.kind == "skip" else "paused", holiday)
    if holiday and order.holidays == "skip":
        return Day(day, "holiday", holiday)
    return Day(day, None, holiday)


def last_day(order: OrderPattern, *, canton: str, exceptions: Iterable[Exception_] = ()) -> date:
    """The order's last day with a trip (its end date, or its nth trip's day)."""
    if order.end_date is not None and order.occurrences is None:
        return order.end_date
    days = [d.day for d in order_days(order, canton=canton, exceptions=exceptions)]
    return days[-1] if days else order.start_date
