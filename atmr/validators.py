"""Validators shared by models and serializers."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator

LATITUDE_VALIDATORS = [MinValueValidator(-90.0), MaxValueValidator(90.0)]
LONGITUDE_VALIDATORS = [MinValueValidator(-180.0), MaxValueValidator(180.0)]
