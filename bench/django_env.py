"""Django for a bench script: the project's settings with a bench-only secret and eager Celery,
on DATABASE_URL when set, otherwise on a throw-away SQLite file under bench/."""

from __future__ import annotations

import os
from pathlib import Path

import django

BENCH_DIR = Path(__file__).resolve().parent


def django_setup(sqlite_name: str) -> None:
    """Configure and start Django; `sqlite_name` is the file under bench/ used without a
    DATABASE_URL."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmr.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{BENCH_DIR / sqlite_name}"
    django.setup()
