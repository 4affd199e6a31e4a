"""Places trips go to again and again: hospitals, clinics, dialysis centres, care homes."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable

from django.db import models
from django.db.models import Q

from atmr.accounts.models import Company
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS

MAX_EXTRA_SERVICE_MINUTES = 120
MAX_ALIASES = 20


def search_normalise(text: str) -> str:
    """Lower case, accents stripped, anything but letters and digits one space.

    The same on every database: "Hôpital  Cantonal-Genève" -> "hopital cantonal geneve".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", " ", plain).strip()


def place_search_text(name: str, aliases: Iterable[str]) -> str:
    # " | " keeps a word from running into the next name: "hug" must not match "...hu" + "g...".
    return " | ".join(search_normalise(n) for n in [name, *aliases] if search_normalise(n))


class Place(models.Model):
    class Kind(models.TextChoices):
        HOSPITAL = "hospital", "Hospital"
        CLINIC = "clinic", "Clinic"
        DIALYSIS = "dialysis", "Dialysis centre"
        CARE_HOME = "care_home", "Care home"
        PRACTICE = "practice", "Practice"
        OTHER = "other", "Other"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="places",
        help_text="Empty: a global place every company sees (superusers edit those).",
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    address = models.CharField(max_length=300)
    lat = models.FloatField(validators=LATITUDE_VALIDATORS)
    lon = models.FloatField(validators=LONGITUDE_VALIDATORS)
    aliases = models.JSONField(
        default=list, blank=True, help_text="Other names people search for (HUG, CHUV…)."
    )
    entrance_notes = models.TextField(
        blank=True, help_text="Where to stop and go in (for the driver)."
    )
    extra_service_minutes = models.PositiveSmallIntegerField(
        default=0,
        help_text="Minutes added to each stop here (long corridors, reception desk).",
    )
    # Kept by the services on every save (`place_search_text`): name and aliases normalised,
    # so `?search=` is one LIKE on any database (trigram-indexed on PostgreSQL, 0002).
    search_text = models.TextField(editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(lat__gte=-90, lat__lte=90),
                name="place_lat_range",
                violation_error_message="The latitude must be between -90 and 90.",
            ),
            models.CheckConstraint(
                condition=Q(lon__gte=-180, lon__lte=180),
                name="place_lon_range",
                violation_error_message="The longitude must be between -180 and 180.",
            ),
            models.CheckConstraint(
                condition=Q(extra_service_minutes__lte=MAX_EXTRA_SERVICE_MINUTES),
                name="place_extra_service_range",
                violation_error_message="Extra service time is at most 120 minutes.",
            ),
            # One name per company, and one among the global places (NULLs are distinct in
            # a plain unique constraint): the demo seeding finds its places by name.
            models.UniqueConstraint(
                fields=["company", "name"],
                condition=Q(company__isnull=False),
                name="place_company_name_unique",
                violation_error_message="The company already has a place with this name.",
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(company__isnull=True),
                name="place_global_name_unique",
                violation_error_message="A global place already has this name.",
            ),
        ]
        indexes = [
            # GET /api/places: a company's own places (the global ones: the partial unique).
            models.Index(fields=["company", "name"], name="place_company_name"),
        ]

    def __str__(self) -> str:
        return self.name
