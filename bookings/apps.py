from __future__ import annotations

from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Clients and bookings"

    def ready(self) -> None:
        from bookings import signals  # noqa: F401  (connects the receivers)
