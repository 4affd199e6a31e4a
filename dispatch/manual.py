"""Manual dispatch: a dispatcher gives one booking to one driver, checked against its day."""

from __future__ import annotations

import copy
from datetime import timedelta

from django.db.models import Q

from atmr.accounts.selectors import company_get
from atmr.localtime import format_local
from bookings import services as booking_services
from bookings.errors import VehicleUnsuitable
from bookings.models import Booking
from bookings.selectors import day_bounds
from dispatch import adapters, selectors
from dispatch.engine.geo import Location
from dispatch.errors import DriverDayConflict
from dispatch.travel import travel_provider
from drivers.models import Driver, Shift
from drivers.rosters import shift_covering, shifts_generate

# A single driver's day is tiny: the solver answers in milliseconds, this only bounds it.
CHECK_TIME_LIMIT_S = 0.5


def booking_assign_checked(*, booking: Booking, driver: Driver) -> Booking:
    """Assign unless the driver's day cannot take the trip (shift, vehicle, travel, seats).

    The driver needs a shift on while the trip is picked up and driven (its roster's day,
    generated here when missing); that day's vehicle must suit the trip and goes with it.
    Raises DriverDayConflict (409) naming the booking it collides with, or none when the
    trip does not fit the shift at all.
    """
    # A stored time out of range (year 9999) would overflow the day arithmetic: 400 instead.
    booking_services.booking_check_times(booking=booking, fields=("scheduled_at",))
    if driver.company_id != booking.company_id or not driver.active:
        return booking_services.booking_assign(booking=booking, driver=driver)  # its 404
    shift = _shift_for(booking, driver)
    reason = booking_services.vehicle_suits(
        shift.vehicle, mobility=booking.mobility, passengers=booking.passengers
    )
    if reason:
        raise VehicleUnsuitable(f"{reason[:-1]} on that day.", field="driver")
    _check_day(booking, shift)
    return booking_services.booking_assign(booking=booking, driver=driver, vehicle=shift.vehicle)


def _shift_for(booking: Booking, driver: Driver) -> Shift:
    company = company_get(company_id=booking.company_id)
    day = booking.scheduled_at.astimezone(company.tz).date()
    shifts_generate(company=company, first=day - timedelta(days=1), last=day)
    shift = shift_covering(
        driver=driver,
        earliest=booking.pickup_earliest,
        latest=booking.pickup_latest,
        needs=timedelta(minutes=1),
    )
    if shift is None:
        raise DriverDayConflict(
            f"The driver has no shift between {format_local(booking.pickup_earliest, company.tz)}"
            f" and {format_local(booking.pickup_latest, company.tz)} on {day.isoformat()}.",
            field="driver",
        )
    shift.driver = driver
    return shift


def _day_of(booking: Booking, shift: Shift) -> list[Booking]:
    """The driver's other trips of the day within this shift: a night driver's trips of the
    shift that starts tonight do not compete with those of the one that began last night."""
    company = company_get(company_id=booking.company_id)
    day = booking.scheduled_at.astimezone(company.tz).date()
    start, end = day_bounds(day, company.tz)
    return list(
        Booking.objects.filter(
            Q(driver=shift.driver, status__in=selectors.PLANNED_STATUSES),
            scheduled_at__gte=max(start, shift.start),
            scheduled_at__lt=min(end, shift.end),
        )
        .exclude(id=booking.id)
        .order_by("scheduled_at")
    )


def _fits(target: Booking, others: list[Booking], shift: Shift) -> bool:
    company = company_get(company_id=target.company_id)
    clock = adapters.DayClock(target.scheduled_at.astimezone(company.tz).date(), company.tz)
    conf = selectors.dispatch_settings_get(company_id=company.id)
    candidate = copy.copy(target)  # planned as new: its current driver must not pin it
    candidate.status, candidate.driver_id = Booking.Status.PENDING, None
    depot = Location(company.lat or 46.52, company.lon or 6.63)
    day = adapters.day_locations([*others, candidate], [shift], depot)
    matrix = travel_provider().matrix(day.locations)
    problem = adapters.build_problem(day, matrix, clock, conf)
    plan = adapters.solve_day(problem, time_limit_s=CHECK_TIME_LIMIT_S)
    return not plan.unassigned


def _check_day(booking: Booking, shift: Shift) -> None:
    others = _day_of(booking, shift)
    if _fits(booking, others, shift):
        return
    if not _fits(booking, [], shift):
        raise DriverDayConflict(
            "The trip does not fit this driver's shift or vehicle.", field="driver"
        )
    nearest = sorted(others, key=lambda b: abs(b.scheduled_at - booking.scheduled_at))
    culprit = next((b for b in nearest if not _fits(booking, [b], shift)), nearest[0])
    at = format_local(culprit.scheduled_at, company_get(company_id=booking.company_id).tz)
    raise DriverDayConflict(
        f"The driver cannot also serve booking {culprit.id} at "
        f"{at}: not enough time or room between the trips.",
        field="driver",
        conflicting_booking=str(culprit.id),
    )
