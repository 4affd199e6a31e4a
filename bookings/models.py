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
        ON_BOARD = "on_board", "On board"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

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
    price = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    notes = models.TextField(blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
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
        ]
        indexes = [
            # GET /api/bookings?date=: a company's day, in time order.
            models.Index(fields=["company", "scheduled_at"], name="booking_company_time"),
            # A driver's day (driver app, manual-assign conflict check).
            models.Index(fields=["driver", "scheduled_at"], name="booking_driver_time"),
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
