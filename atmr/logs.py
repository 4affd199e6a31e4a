"""Log lines: JSON in production, plain text in development, never a patient's details.

`LOG_FORMAT=json|plain` picks the format; unset: plain with DEBUG (`make run`), JSON otherwise
(`make serve`, containers). Every line carries `request_id` (the caller's X-Request-ID when
it is a short token, else a new one; echoed in the response), `trace_id` when tracing is on
(atmr/tracing.py), `task_id` inside a Celery task, and the `company_id` and `user_id` of the
authenticated caller. `ContextFilter` (on the console handler, so on every line) also
redacts what identifies a patient: values under known keys (name, address, phone, ...) in
a record's extra fields or mapping arguments, phone-number-like digit runs anywhere in the
message, and the SQL text and parameters of `django.db.backends` debug lines (they hold
the values written).
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

REDACTED = "[redacted]"
# Keys whose values identify a patient (or any person) wherever they appear in a record.
PII_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "client_name",
        "patient",
        "patient_name",
        "address",
        "pickup_address",
        "dropoff_address",
        "street",
        "phone",
        "phone_number",
        "mobile",
        "email",
        "notes",
        "birth_date",
        "date_of_birth",
    }
)
# International or national phone numbers: a + / 00 / 0 prefix and 8 or more further digits,
# spaces, dots, dashes or slashes between them. Dates (2026-12-01) and ids do not match.
_PHONE = re.compile(r"(?<![\w+])(?:\+|00|0)\d(?:[ ./-]?\d){7,}(?!\w)")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A record's own attributes ("name" is the logger's): only the extra fields are redacted.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "atmr_log_request", default=None
)


class RequestContextMiddleware:
    """Gives the request an id (`request.request_id`, X-Request-ID) and the log lines of its
    handling the caller's ids (read when a line is written: after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex  # type: ignore[attr-defined]
        token = _current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _current_request.reset(token)
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response


def redact(value: Any) -> Any:
    """`value` with every PII key's value replaced, in nested dicts and lists too."""
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in PII_KEYS else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


def _caller_ids(record: logging.LogRecord) -> None:
    # Django logs a 4xx/5xx ("Not Found: ...") once the middleware has returned; it passes
    # the request along.
    request = _current_request.get() or getattr(record, "request", None)
    record.request_id = getattr(request, "request_id", None)
    user = getattr(request, "user", None)
    authenticated = bool(getattr(user, "is_authenticated", False))
    record.user_id = str(user.id) if authenticated and user is not None else None
    company_id = getattr(user, "company_id", None) if authenticated else None
    record.company_id = str(company_id) if company_id else None
    from atmr.tracing import current_trace_id

    record.trace_id = current_trace_id()
    record.task_id = _celery_task_id()


def _celery_task_id() -> str | None:
    from celery._state import get_current_task

    task = get_current_task()
    return getattr(task.request, "id", None) if task is not None else None


class ContextFilter(logging.Filter):
    """Adds the caller's ids and redacts PII (see the module docstring). Never drops a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        _caller_ids(record)
        if record.name.startswith("django.db.backends") and hasattr(record, "sql"):
            # "(0.002) SELECT ... 'Jane Doe' ...; args=(...)": keep the timing and the verb.
            verb = str(record.sql).split(None, 1)[0] if record.sql else "?"
            record.msg, record.args = (
                "(%.3f) %s; alias=%s",
                (
                    getattr(record, "duration", 0.0) or 0.0,
                    verb,
                    getattr(record, "alias", "?"),
                ),
            )
            record.sql, record.params = verb, REDACTED
        for key, value in list(record.__dict__.items()):
            if key in _RECORD_ATTRS:
                continue
            if key.lower() in PII_KEYS:
                setattr(record, key, REDACTED)
            elif isinstance(value, dict | list):
                setattr(record, key, redact(value))
        if isinstance(record.args, dict):
            record.args = redact(record.args)
        message = record.getMessage()
        cleaned = _PHONE.sub("[phone]", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, the ids, any extra fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault(
            "rename_fields", {"levelname": "level", "name": "logger", "exc_info": "error"}
        )
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        for key in ("request_id", "trace_id", "task_id", "company_id", "user_id"):
            if log_data.get(key) is None:
                log_data.pop(key, None)
