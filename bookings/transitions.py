"""The one table of allowed booking status changes."""

from __future__ import annotations

from bookings.models import Booking

S = Booking.Status

ALLOWED: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.ASSIGNED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.PENDING, S.EN_ROUTE, S.CANCELLED, S.NO_SHOW, S.COMPLETED}),
    S.EN_ROUTE: frozenset({S.ON_BOARD, S.NO_SHOW, S.CANCELLED, S.COMPLETED}),
    S.ON_BOARD: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
}

FINAL = frozenset(s for s, targets in ALLOWED.items() if not targets)
# Statuses a driver may set from the phone; the rest are the office's.
DRIVER_SETTABLE = frozenset({S.EN_ROUTE, S.ON_BOARD, S.COMPLETED, S.NO_SHOW})
# Bookings whose plan may still change: the dispatcher can edit, assign or reassign them.
EDITABLE = frozenset({S.PENDING, S.ASSIGNED})


def can_transition(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())
