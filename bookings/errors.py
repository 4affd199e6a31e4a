from __future__ import annotations

from atmr.exceptions import Conflict, DomainError, InvalidTransition


class BookingNotEditable(InvalidTransition):
    code = "booking_not_editable"


class BookingInvalidTransition(InvalidTransition):
    code = "invalid_transition"


class VehicleUnsuitable(DomainError):
    code = "vehicle_unsuitable"


class BookingConflict(Conflict):
    code = "booking_conflict"


class BookingTimeOutOfRange(DomainError):
    code = "out_of_range"


class BookingInPast(DomainError):
    code = "booking_in_past"


class NoShowTooEarly(Conflict):
    """The driver arrived less than the company's no-show wait ago."""

    code = "no_show_wait"
