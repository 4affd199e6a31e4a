"""Why a run left a trip out, in words a dispatcher reads (times in the company's zone).

The codes are `dispatch.adapters.unassigned_cause`'s; `no_equipment` is kept for runs stored
before rosters.
"""

from __future__ import annotations

from datetime import tzinfo

from atmr.localtime import format_local
from bookings.models import Booking, Mobility

# Keyed by str: `booking.mobility` is the stored value, a plain str.
_NEEDS: dict[str, str] = {
    Mobility.WHEELCHAIR: "a wheelchair place",
    Mobility.STRETCHER: "a stretcher",
}

# Without the booking (a run stored before reasons were worded), the reason alone.
GENERIC = {
    "no_driver_on_shift": "No driver is on shift around this trip's pick-up window.",
    "no_vehicle_for_mobility": "No vehicle on shift then can carry this patient's mobility.",
    "no_equipment": "No vehicle on shift has the equipment this trip needs.",
    "no_capacity": "No vehicle on shift has enough places for this trip.",
    "ride_time": "Even driven straight, this trip misses its appointment or ride limit.",
    "window_unreachable": "No driver's shift can reach the pick-up within its window.",
    "no_room": "Every driver who could take it is busy around its pick-up window.",
}


def unassigned_words(reason: str, booking: Booking | None, tz: tzinfo) -> str:
    """`reason` (an `unassigned_cause` code) for `booking`, with local times."""
    if booking is None:
        return GENERIC.get(reason, reason)
    earliest = format_local(booking.pickup_earliest, tz)
    latest = format_local(booking.pickup_latest, tz)
    needs = _NEEDS.get(booking.mobility, "the right kind of place")
    if reason == "no_driver_on_shift":
        return f"No driver is on shift for a pick-up between {earliest} and {latest}."
    if reason == "no_vehicle_for_mobility":
        return f"No vehicle with {needs} is on shift for a pick-up between {earliest} and {latest}."
    if reason == "no_equipment":
        return f"No vehicle on shift has {needs}."
    if reason == "no_capacity":
        return f"No vehicle on shift has places for {booking.passengers} passengers."
    if reason == "ride_time":
        if booking.appointment_at:
            by = format_local(booking.appointment_at, tz)
            return (
                f"Even picked up at {earliest} and driven straight, the patient misses the "
                f"{by} appointment or the ride limit."
            )
        return f"Even picked up at {earliest} and driven straight, the ride is over its limit."
    if reason == "window_unreachable":
        return f"No driver's shift can reach the pick-up between {earliest} and {latest}."
    if reason == "no_room":
        return f"Every driver who could take it is busy around its pick-up ({earliest}–{latest})."
    return GENERIC.get(reason, reason)
