"""The one table of allowed booking status changes."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from atmr.localtime import format_local
from bookings.models import Booking

S = Booking.Status

ALLOWED: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.ASSIGNED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.PENDING, S.EN_ROUTE, S.CANCELLED, S.NO_SHOW, S.COMPLETED}),
    S.EN_ROUTE: frozenset({S.ARRIVED, S.ON_BOARD, S.NO_SHOW, S.CANCELLED, S.COMPLETED}),
    # At the pick-up: the no-show wait runs (bookings.services.booking_set_status).
    S.ARRIVED: frozenset({S.ON_BOARD, S.NO_SHOW, S.CANCELLED, S.COMPLETED}),
    S.ON_BOARD: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
}

FINAL = frozenset(s for s, targets in ALLOWED.items() if not targets)
# A driver moves a trip one step at a time (the phone, the API, any door): skipping a step
# hides where the patient is. The office keeps ALLOWED's wider moves (e.g. marking a trip
# completed after the fact). `arrived` may be skipped (the patient waits at the door), but a
# driver reports a no-show only from there, once the company's wait is over.
DRIVER_STEPS: dict[str, frozenset[str]] = {
    S.ASSIGNED: frozenset({S.EN_ROUTE}),
    S.EN_ROUTE: frozenset({S.ARRIVED, S.ON_BOARD}),
    S.ARRIVED: frozenset({S.ON_BOARD, S.NO_SHOW}),
    S.ON_BOARD: frozenset({S.COMPLETED}),
}
# Statuses a driver may set from the phone; the rest are the office's.
DRIVER_SETTABLE = frozenset().union(*DRIVER_STEPS.values())
# A driver may start a trip on its day (company time) or this close before its pick-up time
# (a trip at 00:15 started at 23:50). Starting tomorrow's trip today is a mistaken tap.
DRIVER_START_AHEAD = timedelta(hours=2)
# Bookings whose plan may still change: the dispatcher can edit, assign or reassign them.
EDITABLE = frozenset({S.PENDING, S.ASSIGNED})


def can_transition(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())


def driver_step_refusal(
    *, current: str, target: str, scheduled_at: datetime, tz: tzinfo, now: datetime
) -> str | None:
    """Why a driver may not move a trip from `current` to `target` now; None when it may."""
    if target not in DRIVER_STEPS.get(current, frozenset()):
        steps = ", ".join(sorted(DRIVER_STEPS.get(current, frozenset()))) or "none"
        return f"A driver cannot move a trip from {current} to {target} (next step: {steps})."
    if current == S.ASSIGNED:
        same_day = scheduled_at.astimezone(tz).date() == now.astimezone(tz).date()
        if not same_day and not (now <= scheduled_at <= now + DRIVER_START_AHEAD):
            when = format_local(scheduled_at, tz, with_date=True)
            return f"This trip is planned for {when}; start it on its day."
    return None
