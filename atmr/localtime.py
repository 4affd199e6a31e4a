"""Times as people read them (the company's zone), and the range of times we accept at all.

Everything is stored in UTC; every text a person reads (errors, conflicts, unassigned reasons,
admin pages) goes through these helpers with the company's zone.

Every moment or day that comes from outside (API fields and query parameters, admin forms,
websocket frames) must also lie within `SANE_PAST` before and `SANE_AHEAD` after now: a
transport company records trips for its books (ten years back) and plans standing orders months
ahead (two years is plenty), and nothing else is a real trip. The bounds also keep every
window, day and clock computation far away from `datetime.min`/`max`, where adding a few
minutes raises `OverflowError`. Plain Python: the websocket protocol parser uses it too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

SANE_PAST = timedelta(days=3653)  # ten years
SANE_AHEAD = timedelta(days=731)  # two years


def format_local(moment: datetime, tz: tzinfo, *, with_date: bool = False) -> str:
    """`moment` in `tz` as "07:30" (or "2026-12-02 07:30" with the date).

    Never raises for an aware `moment`: one so close to year 1 or 9999 that converting it
    overflows (a row from before the accepted range existed) is written as it is stored.
    """
    try:
        local = moment.astimezone(tz)
    except OverflowError:
        local = moment
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def sane_days(today: date) -> tuple[date, date]:
    """The first and last day accepted, `today` being the caller's current (local) day."""
    return today - SANE_PAST, today + SANE_AHEAD


def day_range_error(day: date, *, today: date) -> str | None:
    """Why `day` is outside the accepted range, or None when it is inside."""
    first, last = sane_days(today)
    if first <= day <= last:
        return None
    return f"Must be between {first.isoformat()} and {last.isoformat()}."


def moment_range_error(moment: datetime, *, now: datetime | None = None) -> str | None:
    """Why the aware `moment` is outside the accepted range, or None when it is inside.

    Safe for any aware datetime, even year 1 or 9999 with an offset: comparing aware
    datetimes never builds a converted datetime, so it cannot overflow.
    """
    now = now or datetime.now(UTC)
    if now - SANE_PAST <= moment <= now + SANE_AHEAD:
        return None
    first, last = sane_days(now.date())
    return f"Must be between {first.isoformat()} and {last.isoformat()}."
