"""The tenant (Company) and its users."""

from __future__ import annotations

import uuid
import zoneinfo
from typing import ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS

# The 26 cantons (ISO 3166-2:CH codes), whose public holidays standing orders may skip.
CANTONS = [
    (code, code)
    for code in "AG AI AR BE BL BS FR GE GL GR JU LU NE NW OW SG SH SO SZ TG TI UR VD VS ZG ZH".split()  # noqa: SIM905, E501
]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


class Company(models.Model):
    """A transport company: the tenant every other row belongs to."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    address = models.CharField(max_length=300, blank=True)
    lat = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    lon = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    phone = models.CharField(max_length=40, blank=True)
    timezone = models.CharField(
        max_length=64, default="Europe/Zurich", validators=[validate_timezone]
    )
    active = models.BooleanField(default=True)
    # Pick-up window around the scheduled time when a booking gives none.
    window_before_minutes = models.PositiveSmallIntegerField(default=10)
    window_after_minutes = models.PositiveSmallIntegerField(default=15)
    # A released will-call return is picked up within this many minutes of the time the clinic
    # gave (bookings/will_call.py).
    will_call_window_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
        help_text="Pick-up window of a released will-call return, in minutes (5 to 240).",
    )
    # Standing orders: public holidays are those of this canton (`holidays` package), and
    # their trips exist as bookings this many days ahead (created at once, then nightly).
    canton = models.CharField(max_length=2, choices=CANTONS, default="VD")
    order_horizon_days = models.PositiveSmallIntegerField(
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(92)],
        help_text="Standing orders' trips are booked this many days ahead.",
    )
    # A cancellation later than this before the pick-up is flagged late (billing charges it).
    cancel_notice_hours = models.PositiveSmallIntegerField(
        default=24,
        db_default=24,
        validators=[MaxValueValidator(720)],
        help_text="A cancellation later than this many hours before the pick-up is late.",
    )
    # The live day: a trip whose ETA leaves less slack than this is at risk (dispatch/eta.py);
    # a driver at the pick-up waits this long before it may report a no-show.
    late_margin_minutes = models.PositiveSmallIntegerField(
        default=5,
        db_default=5,
        validators=[MaxValueValidator(120)],
        help_text="A trip with less slack than this many minutes at its ETA is at risk.",
    )
    no_show_wait_minutes = models.PositiveSmallIntegerField(
        default=5,
        db_default=5,
        validators=[MaxValueValidator(60)],
        help_text="Minutes a driver waits at the pick-up before a no-show may be reported.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(lat__isnull=True) | Q(lat__gte=-90, lat__lte=90),
                name="company_lat_range",
                violation_error_message="The latitude must be between -90 and 90.",
            ),
            models.CheckConstraint(
                condition=Q(lon__isnull=True) | Q(lon__gte=-180, lon__lte=180),
                name="company_lon_range",
                violation_error_message="The longitude must be between -180 and 180.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        if not email:
            raise ValueError("Users need an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Logs in by e-mail; belongs to one company with one role (superusers may have none)."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Company admin"
        DISPATCHER = "dispatcher", "Dispatcher"
        DRIVER = "driver", "Driver"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.DISPATCHER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May log into the back-office.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(company__isnull=False) | Q(is_superuser=True),
                name="user_company_unless_superuser",
                violation_error_message="A user needs a company (only superusers have none).",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def is_office(self) -> bool:
        return self.role in (self.Role.ADMIN, self.Role.DISPATCHER)
