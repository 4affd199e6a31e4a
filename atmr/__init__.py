"""ATMR: dispatch platform for patient-transport companies."""

from __future__ import annotations

from atmr.celery import app as celery_app

__all__ = ["celery_app"]
