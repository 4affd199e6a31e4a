"""Clients (patients) and their bookings (one trip: a pick-up and a drop-off)."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.localtime import moment_range_error
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS
from drivers.models import Driver, Vehicle


class Mobility(models.TextChoices):
    WALKS = "walks", "Walks"
    WHEELCHAIR = "wheelchair", "Wheelchair"
    STRETCHER = "stretcher", "Stretcher"


def _coordinate_checks(model: str, prefix: str, *, nullable: bool) -> list[models.CheckConstraint]:
    lat, lon = f"{prefix}lat", f"{prefix}lon"
    place = {"pickup_": "pick-up", "dropoff_": "drop-off"}.get(prefix, "address")
    lat_ok = Q(**{f"{lat}__gte": -90, f"{lat}__lte": 90})
    lon_ok = Q(**{f"{lon}__gte": -180, f"{lon}__lte": 180})
    if nullable:
        lat_ok |= Q(**{f"{lat}__isnull": True})
        lon_ok |= Q(**{f"{lon}__isnull": True})
    return [
        models.CheckConstraint(
            condition=lat_ok,
            name=f"{model}_{prefix}lat_range",
            violation_error_message=f"The {place} latitude must be between -90 and 90.",
        ),
        models.CheckConstraint(
            condition=lon_ok,
            name=f"{model}_{prefix}lon_range",
            violation_error_message=f"The {place} longitude must be between -180 and 180.",
        ),
    ]


class Client(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="clients")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    phone = models.CharField(max_length=40, blank=True)
    address = models.CharField(max_length=300, blank=True)
    lat = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    lon = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    mobility = models.CharField(max_length=20, choices=Mobility.choices, default=Mobility.WALKS)
    notes = models.TextField(blank=True, help_text="For the office only.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            *_coordinate_checks("client", "", nullable=True),
            # A position is both coordinates or none (half of one crashed the demo seeding).
            models.CheckConstraint(
                condition=Q(lat__isnull=True, lon__isnull=True)
                | Q(lat__isnull=False, lon__isnull=False),
                name="client_lat_lon_together",
                violation_error_message="Give both the latitude and the longitude, or neither.",
            ),
        ]
        indexes = [
            # The client picker searches by name within one company.
            models.Index(fields=["company", "last_name", "first_name"], name="client_company_name"),
        ]

    def __str__(self) -> str:
        return f"{self.last_name} {self.first_name}"

    def clean(self) -> None:
        if (self.lat is None) != (self.lon is None):
            missing = "lat" if self.lat is None else "lon"
            raise ValidationError({missing: "Give lat and lon together."})


class Booking(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ASSIGNED = "assigned", "Assigned"
        EN_ROUTE = "en_route", "En route"
        ARRIVED = "arrived", "Arrived at pick-up"
        ON_BOARD = "on_board", "On board"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    class Lateness(models.TextChoices):
        ON_TIME = "on_time", "On time"
        AT_RISK = "at_risk", "At risk"
        LATE = "late", "Late"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="bookings")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="bookings")
    driver = models.ForeignKey(
        Driver, on_delete=models.SET_NULL, null=True, blank=True, related_name="bookings"
    )
    vehicle = models.ForeignKey(
        Vehicle, on_delete=models.SET_NULL, null=True, blank=True, related_name="bookings"
    )
    pickup_address = models.CharField(max_length=300)
    pickup_lat = models.FloatField(validators=LATITUDE_VALIDATORS)
    pickup_lon = models.FloatField(validators=LONGITUDE_VALIDATORS)
    dropoff_address = models.CharField(max_length=300)
    dropoff_lat = models.FloatField(validators=LATITUDE_VALIDATORS)
    dropoff_lon = models.FloatField(validators=LONGITUDE_VALIDATORS)
    scheduled_at = models.DateTimeField(help_text="Planned pick-up time.")
    pickup_earliest = models.DateTimeField()
    pickup_latest = models.DateTimeField()
    appointment_at = models.DateTimeField(
        null=True, blank=True, help_text="Appointment at the destination: latest drop-off."
    )
    passengers = models.PositiveSmallIntegerField(default=1)
    urgent = models.BooleanField(
        default=False,
        db_default=False,  # bulk SQL loads that predate the column stay valid
        help_text="Dispatch serves urgent trips first when not every trip fits (dialysis, "
        "discharge).",
    )
    mobility = models.CharField(max_length=20, choices=Mobility.choices, default=Mobility.WALKS)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    return_of = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="return_trip",
        help_text="The outbound booking this one brings the client back from.",
    )
    # A will-call return has no time until the clinic says the patient is ready: its window
    # is a placeholder (see bookings.services.booking_will_call_window), dispatch leaves it
    # out while `released_at` is empty, and releasing it sets the real window.
    will_call = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Return when the clinic says the patient is ready.",
    )
    released_at = models.DateTimeField(
        null=True, blank=True, help_text="When the will-call return was released (ready)."
    )
    # Part of what the clinic's ready link signs (bookings/will_call.py): raising it revokes
    # every link handed out so far.
    ready_link_version = models.PositiveIntegerField(
        default=1, db_default=1, help_text="Raised to revoke the clinic's ready link."
    )
    price = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    notes = models.TextField(blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # An occurrence of a standing order: its order, the (local) day it was planned for and
    # which leg it is. Moving the trip to another day keeps `occurrence_date`, so
    # materialising never books it again. The leg is a column of its own, not `return_of`:
    # deleting an outbound trip nulls its return's `return_of`, which must not make the
    # return collide with the day's outbound slot.
    standing_order = models.ForeignKey(
        "StandingOrder",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bookings",
    )
    occurrence_date = models.DateField(null=True, blank=True)
    occurrence_leg = models.CharField(
        max_length=8,
        choices=[("outbound", "Outbound"), ("return", "Return")],
        blank=True,
        default="",
        db_default="",
    )
    # Why a trip was cancelled or not made (bookings/reasons.py); `cancel_reason` is the
    # optional text beside it. PROTECT: a code in use is deactivated, never deleted.
    cancel_code = models.ForeignKey(
        "bookings.ReasonCode",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bookings",
        verbose_name="reason code",
    )
    cancelled_late = models.BooleanField(
        default=False,
        db_default=False,  # bulk SQL loads that predate the column stay valid
        help_text="Cancelled within the company's notice before the pick-up (billable).",
    )
    cancelled_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was cancelled or marked a no-show."
    )
    # The place a stop was chosen from. The booking keeps its own copy of the address and
    # coordinates, so deleting a place (a duplicate merged away) loses nothing a trip needs:
    # SET_NULL, where PROTECT would pin every hospital ever driven to for good.
    pickup_place = models.ForeignKey(
        "places.Place", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dropoff_place = models.ForeignKey(
        "places.Place", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    geocoded = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Coordinates of a stop came from the geocoder, not from a person or a place.",
    )
    # The live day (dispatch/eta.py): where the driver is expected, recomputed from its
    # position, its trips' statuses and the clock. Written in bulk without touching
    # `updated_at`, which a dispatch run compares to tell an edited trip from one it loaded.
    eta_pickup = models.DateTimeField(null=True, blank=True, help_text="Expected pick-up.")
    eta_dropoff = models.DateTimeField(null=True, blank=True, help_text="Expected drop-off.")
    eta_computed_at = models.DateTimeField(null=True, blank=True)
    eta_source = models.CharField(
        max_length=20,
        blank=True,
        default="",
        db_default="",
        help_text="Travel times behind the ETAs: osrm or straight_line.",
    )
    lateness = models.CharField(
        max_length=10,
        choices=Lateness.choices,
        blank=True,
        default="",
        db_default="",
        help_text="From the ETAs: late, at risk (less slack than the company's margin), on time.",
    )
    ride_too_long = models.BooleanField(
        default=False,
        db_default=False,
        help_text="At the ETAs the patient would ride longer than the maximum ride time.",
    )
    # The driver at the pick-up: the no-show wait runs until `no_show_after`.
    arrived_at = models.DateTimeField(null=True, blank=True)
    no_show_after = models.DateTimeField(
        null=True, blank=True, help_text="A no-show may be reported from then on."
    )
    # The patient on board (the driver's step): with `arrived_at`, the waiting time billed.
    picked_up_at = models.DateTimeField(null=True, blank=True)
    # Where an insertion put the trip in its driver's stops (dispatch/insertion.py): the stop
    # right after its pick-up and after its drop-off, {"pickup": [kind, booking id] or None,
    # "dropoff": ...} (None: last). The live plan honours it until a run plans the trip.
    insert_before = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["scheduled_at"]
        constraints = [
            *_coordinate_checks("booking", "pickup_", nullable=False),
            *_coordinate_checks("booking", "dropoff_", nullable=False),
            models.CheckConstraint(
                condition=Q(pickup_earliest__lte=F("scheduled_at"))
                & Q(scheduled_at__lte=F("pickup_latest")),
                name="booking_window_ordered",
                violation_error_message="The pick-up window must contain the scheduled time.",
            ),
            models.CheckConstraint(
                condition=Q(appointment_at__isnull=True)
                | Q(appointment_at__gt=F("pickup_earliest")),
                name="booking_appointment_after_pickup",
                violation_error_message="The appointment must be after the earliest pick-up.",
            ),
            models.CheckConstraint(
                condition=Q(passengers__gte=1) & Q(passengers__lte=8),
                name="booking_passengers_range",
                violation_error_message="A booking carries 1 to 8 passengers.",
            ),
            models.CheckConstraint(
                condition=~Q(status="assigned") | Q(driver__isnull=False),
                name="booking_assigned_has_driver",
                violation_error_message="An assigned booking needs a driver: choose one, or "
                "leave the booking pending.",
            ),
            # One outbound and one return per order and day: materialising twice books nothing
            # new. A series that withdraws a trip (skip, pause, edit) clears its date.
            models.UniqueConstraint(
                fields=["standing_order", "occurrence_date", "occurrence_leg"],
                name="booking_one_trip_per_occurrence",
                violation_error_message="This standing order already has this trip that day.",
            ),
        ]
        indexes = [
            # GET /api/bookings?date=: a company's day, in time order.
            models.Index(fields=["company", "scheduled_at"], name="booking_company_time"),
            # A driver's day (driver app, manual-assign conflict check).
            models.Index(fields=["driver", "scheduled_at"], name="booking_driver_time"),
            # GET /api/bookings?date=&late=true: the company's late trips (few rows).
            models.Index(
                fields=["company", "scheduled_at"],
                condition=Q(lateness__in=["late", "at_risk"]),
                name="booking_late",
            ),
            # Status filters and the dispatcher's "pending" board.
            models.Index(fields=["company", "status", "scheduled_at"], name="booking_status"),
        ]

    def __str__(self) -> str:
        # In the active zone: the company's in the admin (atmr/timezones.py), UTC elsewhere.
        try:
            when = timezone.localtime(self.scheduled_at)
        except OverflowError:  # a stored year 9999: still printable
            when = self.scheduled_at
        return f"{self.client} {when:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        # Model forms (the admin) get the services' accepted range too: beyond it, day and
        # window arithmetic overflows (see atmr/localtime.py).
        errors = {}
        for name in ("scheduled_at", "pickup_earliest", "pickup_latest", "appointment_at"):
            moment = getattr(self, name)
            reason = moment_range_error(moment) if moment is not None else None
            if reason:
                errors[name] = reason
        if errors:
            raise ValidationError(errors)


class StandingOrder(models.Model):
    """A recurring trip (dialysis Mon/Wed/Fri): its occurrences are ordinary bookings.

    Times are local wall-clock times in the company's zone, so 07:00 stays 07:00 across DST.
    The places are stored as address and coordinates (filled from the request or the client's
    home when the order is written).
    """

    class Holidays(models.TextChoices):
        SKIP = "skip", "Skip public holidays"
        KEEP = "keep", "Keep public holidays"

    class ReturnLeg(models.TextChoices):
        NONE = "none", "No return"
        FIXED = "fixed", "At a fixed time"
        WILL_CALL = "will_call", "Will-call (when the patient is ready)"

    MAX_OCCURRENCES = 1000

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="standing_orders")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="standing_orders")
    pickup_address = models.CharField(max_length=300)
    pickup_lat = models.FloatField(validators=LATITUDE_VALIDATORS)
    pickup_lon = models.FloatField(validators=LONGITUDE_VALIDATORS)
    dropoff_address = models.CharField(max_length=300)
    dropoff_lat = models.FloatField(validators=LATITUDE_VALIDATORS)
    dropoff_lon = models.FloatField(validators=LONGITUDE_VALIDATORS)
    weekdays = models.JSONField(help_text="ISO weekdays, 1 (Monday) to 7 (Sunday).")
    every_weeks = models.PositiveSmallIntegerField(
        default=1, help_text="1: every week; 2: every second week from the start date's week."
    )
    pickup_time = models.TimeField(null=True, blank=True, help_text="Local pick-up time.")
    appointment_time = models.TimeField(
        null=True, blank=True, help_text="Local appointment time at the destination."
    )
    return_leg = models.CharField(max_length=10, choices=ReturnLeg.choices, default=ReturnLeg.NONE)
    return_time = models.TimeField(null=True, blank=True, help_text="Local return pick-up time.")
    mobility = models.CharField(max_length=20, choices=Mobility.choices, default=Mobility.WALKS)
    passengers = models.PositiveSmallIntegerField(default=1)
    urgent = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Last day (inclusive).")
    occurrences = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Number of trips (skipped days do not count)."
    )
    holidays = models.CharField(max_length=4, choices=Holidays.choices, default=Holidays.SKIP)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client__last_name", "start_date"]
        constraints = [
            *_coordinate_checks("standing_order", "pickup_", nullable=False),
            *_coordinate_checks("standing_order", "dropoff_", nullable=False),
            models.CheckConstraint(
                condition=Q(every_weeks__in=[1, 2]),
                name="standing_order_every_weeks",
                violation_error_message="A standing order repeats every week or every second week.",
            ),
            models.CheckConstraint(
                condition=Q(pickup_time__isnull=False) | Q(appointment_time__isnull=False),
                name="standing_order_has_a_time",
                violation_error_message="Give a pick-up time or an appointment time.",
            ),
            models.CheckConstraint(
                condition=Q(return_leg="fixed", return_time__isnull=False)
                | (~Q(return_leg="fixed") & Q(return_time__isnull=True)),
                name="standing_order_return_time",
                violation_error_message="A fixed return needs its time (and only it has one).",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=False) | Q(occurrences__isnull=False),
                name="standing_order_has_an_end",
                violation_error_message="Give an end date or a number of occurrences.",
            ),
            models.CheckConstraint(
                condition=Q(occurrences__isnull=True)
                | Q(occurrences__gte=1, occurrences__lte=1000),
                name="standing_order_occurrences_range",
                violation_error_message="A standing order has 1 to 1,000 occurrences.",
            ),
            # Ending an order before its first day is how a future order is called off.
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(end_date__gte=F("start_date"))
                | Q(ended_at__isnull=False),
                name="standing_order_end_after_start",
                violation_error_message="The end date must not be before the start date.",
            ),
            models.CheckConstraint(
                condition=Q(passengers__gte=1) & Q(passengers__lte=8),
                name="standing_order_passengers_range",
                violation_error_message="A trip carries 1 to 8 passengers.",
            ),
        ]
        indexes = [
            # The nightly materialisation and the overview read a company's live orders.
            models.Index(fields=["company", "ended_at"], name="standing_order_company"),
        ]

    def __str__(self) -> str:
        return f"{self.client} from {self.start_date:%Y-%m-%d}"


class StandingOrderException(models.Model):
    """A day skipped, or days paused (a hospital stay), in a standing order."""

    class Kind(models.TextChoices):
        SKIP = "skip", "Skipped day"
        PAUSE = "pause", "Pause"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(StandingOrder, on_delete=models.CASCADE, related_name="exceptions")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    first_day = models.DateField()
    last_day = models.DateField()
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["first_day"]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_day__gte=F("first_day")),
                name="standing_order_exception_ordered",
                violation_error_message="The last day must not be before the first day.",
            ),
        ]

    def __str__(self) -> str:
        if self.first_day == self.last_day:
            return f"{self.get_kind_display()} {self.first_day:%Y-%m-%d}"
        return f"{self.get_kind_display()} {self.first_day:%Y-%m-%d}–{self.last_day:%Y-%m-%d}"


class ReasonCode(models.Model):
    """Why a trip was cancelled or not made: one editable list per company, seeded with the
    standard codes (bookings/reasons.py)."""

    class Kind(models.TextChoices):
        CANCELLATION = "cancellation", "Cancellation"
        NO_SHOW = "no_show", "No-show"
        BOTH = "both", "Cancellation or no-show"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="reason_codes")
    code = models.SlugField(
        max_length=40,
        help_text="Stable name for filters, exports and billing: lower-case letters, digits, "
        "_ and -.",
    )
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.BOTH)
    active = models.BooleanField(
        default=True, help_text="Offered to people when cancelling or reporting a no-show."
    )
    system = models.BooleanField(
        default=False,
        editable=False,
        help_text="Set by the system only (a standing order that ends); never offered to people.",
    )
    ordering = models.PositiveSmallIntegerField(default=100, help_text="Lower comes first.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ordering", "label"]
        constraints = [
            # Also the index of GET /api/reason-codes (one company's codes).
            models.UniqueConstraint(
                fields=["company", "code"],
                name="reasoncode_company_code",
                violation_error_message="The company has a reason code with this code already.",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def fits(self, kind: str) -> bool:
        """May this code explain a `kind` (cancellation or no_show)?"""
        return self.kind in (kind, self.Kind.BOTH)
