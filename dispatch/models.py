"""Dispatch runs, their planned assignments, and each company's dispatch settings."""

from __future__ import annotations

import uuid
from typing import NotRequired, TypedDict

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from atmr.accounts.models import Company
from bookings.models import Booking
from drivers.models import Driver, Vehicle


# The shapes of DispatchRun.routes and .unassigned: written by the execution (adapters),
# read by the run page (selectors) and the API (serializers.RouteSerializer documents them).
class RouteStop(TypedDict):
    kind: str  # start, pickup, dropoff, break, end
    booking: str | None  # None for start, break and end
    arrival: str  # ISO 8601 with the company's UTC offset, like the next two
    service_start: str
    departure: str
    seats_load: int
    wheelchair_load: int
    lat: float
    lon: float


class PlannedRoute(TypedDict):
    driver: str
    driver_name: str
    vehicle: str
    stops: list[RouteStop]


class MovedTrip(TypedDict):
    booking: str
    from_driver: str
    to_driver: str


class EtaChange(TypedDict):
    booking: str
    before: str | None  # planned pick-up before the run (ISO 8601), None for a new trip
    after: str
    change_seconds: int | None


class DroppedTrip(TypedDict):
    booking: str
    driver: str  # who had it
    version: str  # the booking's updated_at when the run read it (ISO 8601)


class RunDiff(TypedDict):
    """What a re-plan from now changes (empty lists for a run of a whole day)."""

    moved: list[MovedTrip]
    eta_changes: list[EtaChange]
    unassigned: list[DroppedTrip]


class UnassignedTrip(TypedDict):
    booking: str
    reason: str  # an engine UnassignedReason value
    detail: NotRequired[str]  # the reason in words; runs stored before it have none


class DispatchSettings(models.Model):
    """How a company wants its days planned; created with defaults on first use."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, primary_key=True, related_name="dispatch_settings"
    )
    # Seconds at each stop, by mobility: a wheelchair takes longer to load than a walker.
    service_walks_s = models.PositiveIntegerField(default=120)
    service_wheelchair_s = models.PositiveIntegerField(default=300)
    service_stretcher_s = models.PositiveIntegerField(default=600)
    # Longest ride a patient may sit in the vehicle: direct time × factor + extra minutes.
    max_ride_factor = models.FloatField(
        default=1.5, validators=[MinValueValidator(1.0), MaxValueValidator(10.0)]
    )
    max_ride_extra_minutes = models.PositiveIntegerField(default=15)
    solver_time_limit_s = models.FloatField(
        default=5.0, validators=[MinValueValidator(0.5), MaxValueValidator(120.0)]
    )
    # Re-planning from now: drivers are planned from now plus this lead (minutes), and a trip
    # leaves its driver only when that saves this much lateness or driving (minutes).
    replan_lead_minutes = models.PositiveSmallIntegerField(
        default=5, validators=[MaxValueValidator(120)]
    )
    move_saves_lateness_minutes = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(600)]
    )
    move_saves_drive_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MaxValueValidator(600)]
    )

    class AutoInsert(models.TextChoices):
        OFF = "off", "Off: propose only"
        URGENT = "urgent", "Urgent trips"
        ALL = "all", "All trips"

    # A trip for today that is created, released or unassigned: its best insertion is
    # applied at once (for urgent trips only, or all), or only proposed to the office.
    auto_insert = models.CharField(max_length=10, choices=AutoInsert.choices, default="off")

    class Meta:
        verbose_name_plural = "dispatch settings"

    def __str__(self) -> str:
        return f"Dispatch settings of {self.company}"


class DispatchRun(models.Model):
    class Mode(models.TextChoices):
        AUTO = "auto", "Assign automatically"
        SUGGEST = "suggest", "Suggest for review"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="dispatch_runs")
    service_date = models.DateField()
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.AUTO)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    # Written every few seconds by the process executing the run: a running run whose
    # heartbeat stopped lost its worker (see execution.runs_fail_stale).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Where a running run stands, for pages that show its progress (0..1 and in words).
    progress = models.FloatField(default=0.0)
    progress_detail = models.CharField(max_length=200, blank=True)
    # Milliseconds per phase.
    load_ms = models.PositiveIntegerField(null=True, blank=True)
    matrix_ms = models.PositiveIntegerField(null=True, blank=True)
    solve_ms = models.PositiveIntegerField(null=True, blank=True)
    save_ms = models.PositiveIntegerField(null=True, blank=True)
    bookings_count = models.PositiveIntegerField(default=0)
    drivers_count = models.PositiveIntegerField(default=0)
    assigned_count = models.PositiveIntegerField(default=0)
    unassigned_count = models.PositiveIntegerField(default=0)
    drive_seconds = models.PositiveIntegerField(default=0)
    distance_metres = models.PositiveIntegerField(default=0)
    fallback_share = models.FloatField(default=0.0, help_text="Share of straight-line times.")
    travel_source = models.CharField(max_length=20, blank=True)
    # Per-driver routes (stops with ETAs) and unassigned bookings with reasons; see services.
    routes = models.JSONField(default=list, blank=True)
    unassigned = models.JSONField(default=list, blank=True)
    # Bookings changed by someone while the run was planning: left alone when applying.
    skipped = models.JSONField(default=list, blank=True)
    # Will-call returns of the day the clinic has not released yet: not planned, listed apart
    # ([{"booking": id}], see bookings/will_call.py).
    waiting = models.JSONField(default=list, blank=True)
    # A re-plan of today from now: `from_now` asked for, `planned_from` the moment its
    # drivers were planned from (now plus the lead time, set when it executes), `diff` what
    # it changes (RunDiff).
    from_now = models.BooleanField(default=False)
    planned_from = models.DateTimeField(null=True, blank=True)
    diff = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "service_date"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_run_per_company_day",
            )
        ]
        indexes = [
            # GET /api/dispatch/runs?date=: a company's runs of a day, newest first.
            models.Index(fields=["company", "service_date", "-created_at"], name="run_company_day"),
            # The stale-run sweep looks for running runs (then by heartbeat, few rows).
            models.Index(fields=["status", "started_at"], name="run_status_started"),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.service_date} {self.mode} ({self.status})"


class RunAssignment(models.Model):
    """One booking the run planned for one driver, with its planned times."""

    run = models.ForeignKey(DispatchRun, on_delete=models.CASCADE, related_name="assignments")
    company = models.ForeignKey(Company, on_delete=models.CASCADE)
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="+")
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="+")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.SET_NULL, null=True, related_name="+")
    pickup_eta = models.DateTimeField()
    dropoff_eta = models.DateTimeField()
    # The booking's updated_at when the run loaded it: a later edit means hands off.
    booking_version = models.DateTimeField()
    # False for trips already with this driver before the run (pinned, not re-assigned).
    is_new = models.BooleanField(default=True)
    # A re-plan moved the trip from this driver (is_new then): applied only if still theirs.
    previous_driver = models.ForeignKey(
        Driver, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["driver_id", "pickup_eta"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "booking"], name="one_assignment_per_run_booking"
            )
        ]

    def __str__(self) -> str:
        return f"{self.booking_id} → {self.driver_id}"
