"""Vehicles and the drivers who drive them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from atmr.accounts.models import Company
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS


class Vehicle(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="vehicles")
    plate = models.CharField(max_length=20)
    label = models.CharField(max_length=100, blank=True)
    seats = models.PositiveSmallIntegerField(default=4, help_text="Seated passengers.")
    wheelchair_places = models.PositiveSmallIntegerField(default=0)
    stretcher = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plate"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "plate"],
                name="vehicle_plate_per_company",
                violation_error_message="The company already has a vehicle with this plate.",
            ),
            models.CheckConstraint(
                condition=Q(seats__gte=1) | Q(wheelchair_places__gte=1) | Q(stretcher=True),
                name="vehicle_carries_someone",
                violation_error_message="A vehicle needs at least one seat, wheelchair place "
                "or stretcher.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plate} {self.label}".strip()


class Driver(models.Model):
    class Status(models.TextChoices):
        OFF_DUTY = "off_duty", "Off duty"
        AVAILABLE = "available", "Available"
        ON_JOB = "on_job", "On a job"
        ON_BREAK = "on_break", "On break"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="drivers")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="driver_profile"
    )
    default_vehicle = models.ForeignKey(
        Vehicle, on_delete=models.SET_NULL, null=True, blank=True, related_name="default_drivers"
    )
    phone = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OFF_DUTY)
    # Local wall-clock times in the company's time zone; a shift may not cross midnight.
    shift_start = models.TimeField(null=True, blank=True)
    shift_end = models.TimeField(null=True, blank=True)
    home_lat = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    home_lon = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    last_lat = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    last_lon = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(shift_start__isnull=True)
                | Q(shift_end__isnull=True)
                | Q(shift_start__lt=F("shift_end")),
                name="driver_shift_ordered",
                violation_error_message="The shift must end after it starts, on the same day.",
            ),
            models.CheckConstraint(
                condition=Q(home_lat__isnull=True) | Q(home_lat__gte=-90, home_lat__lte=90),
                name="driver_home_lat_range",
                violation_error_message="The home latitude must be between -90 and 90.",
            ),
            models.CheckConstraint(
                condition=Q(home_lon__isnull=True) | Q(home_lon__gte=-180, home_lon__lte=180),
                name="driver_home_lon_range",
                violation_error_message="The home longitude must be between -180 and 180.",
            ),
        ]

    def __str__(self) -> str:
        return self.user.full_name


class DriverLocation(models.Model):
    """One GPS fix from a driver's phone. Written in bulk; see drivers/locations.py."""

    id = models.BigAutoField(primary_key=True)
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="locations")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    lat = models.FloatField(validators=LATITUDE_VALIDATORS)
    lon = models.FloatField(validators=LONGITUDE_VALIDATORS)
    speed = models.FloatField(null=True, blank=True, help_text="Metres per second.")
    heading = models.FloatField(null=True, blank=True, help_text="Degrees clockwise from north.")
    accuracy = models.FloatField(null=True, blank=True, help_text="Radius in metres.")
    recorded_at = models.DateTimeField(help_text="When the phone took the fix (its clock).")
    received_at = models.DateTimeField(help_text="When the server stored it.")

    class Meta:
        constraints = [
            # A phone re-sends unacknowledged batches after a reconnect: store each fix once.
            # Also serves a driver's track ordered by time.
            models.UniqueConstraint(
                fields=["driver", "recorded_at"],
                name="driver_location_once",
                violation_error_message="This position fix is stored already.",
            ),
            models.CheckConstraint(
                condition=Q(lat__gte=-90, lat__lte=90) & Q(lon__gte=-180, lon__lte=180),
                name="driver_location_in_range",
                violation_error_message="A position needs a latitude between -90 and 90 and a "
                "longitude between -180 and 180.",
            ),
        ]
        indexes = [
            # location_prune: delete everything recorded before a cutoff, oldest first.
            models.Index(fields=["recorded_at"], name="driver_location_recorded"),
        ]

    def __str__(self) -> str:
        return f"{self.driver_id} {self.recorded_at:%Y-%m-%d %H:%M:%S}"
