from __future__ import annotations

from django.apps import AppConfig


class AtmrConfig(AppConfig):
    """Project-level app: management commands and system checks."""

    name = "atmr"

    def ready(self) -> None:
        from atmr import checks, schema  # noqa: F401  (registers checks and schema extensions)
        from atmr.tracing import tracing_setup

        tracing_setup()  # only with OTEL_EXPORTER_OTLP_ENDPOINT (atmr/tracing.py)
