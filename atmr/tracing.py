"""OpenTelemetry traces: Django requests, psycopg queries, Redis calls and Celery tasks.

On when OTEL_EXPORTER_OTLP_ENDPOINT is set (spans go there over OTLP/HTTP, batched; the
exporter also reads the other standard OTEL_EXPORTER_OTLP_* variables, and OTEL_SERVICE_NAME
names the process, `atmr` by default). Off otherwise: nothing is imported or patched, so
tracing costs nothing. `tracing_setup()` runs in every process from AtmrConfig.ready (web
workers, uvicorn, Celery workers, commands), before Django builds its middleware chain.

One trace per request, through its task: the Celery instrumentation carries the context in
the task message's headers to a worker; an eager task runs inside the request's span; a
run executed in a background thread (eager tasks without a worker, dispatch/tasks.py) starts
in a copy of the caller's context.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"

_instrumentors: list[Any] = []


def tracing_enabled() -> bool:
    return bool(os.environ.get(ENDPOINT_ENV))


def tracing_setup(provider: Any = None) -> bool:
    """Instrument this process; True if it did. Idempotent.

    `provider` (a TracerProvider) is for tests, e.g. with an in-memory exporter; without
    one, tracing is on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
    """
    if _instrumentors or (provider is None and not tracing_enabled()):
        return False
    if provider is None:
        provider = _otlp_provider()
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    # Django's probes are not worth a trace each.
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls="api/health")
    _instrumentors.append(DjangoInstrumentor())
    for instrumentor in (PsycopgInstrumentor(), RedisInstrumentor(), CeleryInstrumentor()):
        instrumentor.instrument(tracer_provider=provider)
        _instrumentors.append(instrumentor)
    logger.info("Tracing on: spans exported to %s", os.environ.get(ENDPOINT_ENV, "a test exporter"))
    return True


def tracing_teardown() -> None:
    """Undo tracing_setup (tests)."""
    while _instrumentors:
        _instrumentors.pop().uninstrument()


def _otlp_provider() -> Any:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = os.environ.get("OTEL_SERVICE_NAME", "atmr")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits) when tracing is on and a span is active."""
    if not _instrumentors:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
