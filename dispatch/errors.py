from __future__ import annotations

from atmr.exceptions import Conflict, DomainError


class RunActive(Conflict):
    code = "run_active"


class RunNotApplicable(Conflict):
    code = "run_not_applicable"


class DriverDayConflict(Conflict):
    code = "driver_day_conflict"


class RunSuperseded(Conflict):
    code = "run_superseded"


class RunDayPast(DomainError):
    code = "service_date_past"


class RunDayOutOfRange(DomainError):
    code = "service_date_out_of_range"


class RunFromNow(DomainError):
    code = "from_now"


class BookingNotInsertable(Conflict):
    code = "booking_not_insertable"


class InsertionStale(Conflict):
    code = "insertion_stale"
