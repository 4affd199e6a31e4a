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
    # Legacy, kept for the API's old fields: the roster (RosterEntry, Shift) decides dispatch.
    # Migration 0004 copied them into every weekday of the roster; a new driver created with
    # them gets that week too (drivers/rosters.py roster_seed).
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
    """One GPS fix from a driver's phone. Written in bulk; see drivers/locations.py.

    On PostgreSQL the table is partitioned by UTC day of `recorded_at` (drivers/partitions.py):
    its primary key there is `driver_location_once` (company, driver, recorded_at), and `id`
    is a sequence-filled surrogate the ORM needs, neither indexed nor enforced unique. Nothing
    looks a fix up by id or points at one. SQLite keeps a plain table.
    """

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the key's second column. Deleting a driver with stored positions
    # scans them (drivers are deactivated, not deleted, in the product).
    driver = models.ForeignKey(
        Driver, on_delete=models.CASCADE, related_name="locations", db_index=False
    )
    # No index of its own: the key's first column.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", db_index=False)
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
            # Also serves a driver's track ordered by time (location_list), and holds the
            # partition key, as a partitioned table's unique keys must.
            models.UniqueConstraint(
                fields=["company", "driver", "recorded_at"],
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

    def __str__(self) -> str:
        return f"{self.driver_id} {self.recorded_at:%Y-%m-%d %H:%M:%S}"


# --- rosters ----------------------------------------------------------------------------------
# A roster is a driver's week (`RosterEntry`, one per weekday at most), turned into one `Shift`
# per day (drivers/rosters.py) for the company's horizon. Wall-clock times are in the company's
# zone; a shift whose end is not after its start ends on the next day (a night shift).
class RosterEntry(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="roster")
    weekday = models.PositiveSmallIntegerField(help_text="ISO weekday: 1 Monday .. 7 Sunday.")
    start = models.TimeField(help_text="Local time.")
    end = models.TimeField(help_text="Local time; at or before the start: the next day.")
    vehicle = models.ForeignKey(
        Vehicle,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: the driver's default vehicle.",
    )
    break_earliest = models.TimeField(null=True, blank=True, help_text="Break starts from.")
    break_latest = models.TimeField(null=True, blank=True, help_text="Break is over by.")
    break_minutes = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["driver", "weekday"]
        constraints = [
            models.UniqueConstraint(
                fields=["driver", "weekday"],
                name="roster_entry_once_per_weekday",
                violation_error_message="The driver's week already has a shift on this weekday.",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=1, weekday__lte=7),
                name="roster_entry_weekday_iso",
                violation_error_message="The weekday must be 1 (Monday) to 7 (Sunday).",
            ),
            models.CheckConstraint(
                condition=~Q(start=F("end")),
                name="roster_entry_not_empty",
                violation_error_message="The shift must not end when it starts.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def get_weekday_display(self) -> str:
        return WEEKDAYS.get(self.weekday, str(self.weekday))


WEEKDAYS = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}


class Shift(models.Model):
    """One driver's working time on one day: what dispatch plans with.

    `date` is the local day the shift starts; `start`/`end` are the moments (UTC). Generated
    from the roster unless `edited` (the office changed it; regeneration leaves it alone).
    `off` keeps a shift the office removed, so regeneration does not bring it back.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="shifts")
    date = models.DateField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    vehicle = models.ForeignKey(
        Vehicle, on_delete=models.SET_NULL, null=True, blank=True, related_name="shifts"
    )
    break_earliest = models.DateTimeField(null=True, blank=True)
    break_latest = models.DateTimeField(null=True, blank=True)
    break_minutes = models.PositiveSmallIntegerField(default=0)
    edited = models.BooleanField(default=False, help_text="Changed by the office: kept as is.")
    off = models.BooleanField(default=False, help_text="Removed by the office.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "start"]
        constraints = [
            # Also serves shift_list / shifts of a day: (company, date) is covered below.
            models.UniqueConstraint(
                fields=["driver", "date"],
                name="shift_once_per_driver_day",
                violation_error_message="The driver already has a shift on this day.",
            ),
            models.CheckConstraint(
                condition=Q(start__lt=F("end")),
                name="shift_ordered",
                violation_error_message="The shift must end after it starts.",
            ),
        ]
        indexes = [
            # shift_list and dispatch's shifts of a day: one company, one date.
            models.Index(fields=["company", "date"], name="shift_company_date"),
        ]

    def __str__(self) -> str:
        return f"{self.driver_id} {self.date}"


class Absence(models.Model):
    class Kind(models.TextChoices):
        VACATION = "vacation", "Vacation"
        SICKNESS = "sickness", "Sickness"
        TRAINING = "training", "Training"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="absences")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")),
                name="absence_ordered",
                violation_error_message="The absence must end after it starts.",
            ),
        ]
        indexes = [
            # absence_list (newest first) and the absences over a generation range.
            models.Index(fields=["company", "starts_at"], name="absence_company_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d}"
