"""Log lines (atmr/logs.py): JSON with the request, company and user ids, and no patient's
name, address or phone, even with SQL debug logging on and a careless log call."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.db import connection

from atmr.logs import ContextFilter, JsonFormatter, RequestContextMiddleware, redact
from tests.factories import GENEVA, LAUSANNE, ClientFactory, at

FIRST, LAST = "Zoeline", "Pattersquare"
PHONE = "+41 79 123 45 67"
HOME = "Chemin des Secrets 42, Pully"
CLINIC = "Clinique du Silence 7, Morges"
PII = [FIRST, LAST, PHONE, "791234567", HOME, "Secrets", CLINIC, "Silence"]


@pytest.fixture
def log_lines():
    """Everything logged at DEBUG (SQL included), as the production console handler writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    sql = logging.getLogger("django.db.backends")
    levels = root.level, sql.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sql.setLevel(logging.DEBUG)
    connection.force_debug_cursor = True
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        connection.force_debug_cursor = False
        root.removeHandler(handler)
        root.setLevel(levels[0])
        sql.setLevel(levels[1])


def test_a_booking_create_logs_ids_and_no_patient_details(
    log_lines, company, dispatcher, dispatcher_client
):
    patient = ClientFactory(company=company, first_name=FIRST, last_name=LAST, phone=PHONE)
    body = {
        "client": str(patient.id),
        "pickup": {"address": HOME, "lat": LAUSANNE[0], "lon": LAUSANNE[1]},
        "dropoff": {"address": CLINIC, "lat": GENEVA[0], "lon": GENEVA[1]},
        "scheduled_at": at(9).isoformat(),
    }
    careless = logging.getLogger("bookings.careless")

    response = dispatcher_client.post("/api/bookings", body, format="json")
    assert response.status_code == 201, response.json()
    # What a careless line around it could say: extra fields, mapping args, free text.
    careless.info("booking created", extra={"client": {"first_name": FIRST, "phone": PHONE}})
    careless.info("pickup at %(address)s", {"address": HOME})
    careless.warning("call the patient back on %s", PHONE)
    careless.info("patient", extra={"patient_name": f"{FIRST} {LAST}", "address": HOME})

    lines = log_lines()
    text = json.dumps(lines, ensure_ascii=False)
    assert [word for word in PII if word in text] == []
    assert any(line["logger"] == "django.db.backends" for line in lines)  # SQL was logged
    assert {line["level"] for line in lines} >= {"DEBUG", "INFO", "WARNING"}
    request_id = response["X-Request-ID"]
    during = [line for line in lines if line.get("request_id") == request_id]
    assert during, "the request's own lines carry its id"
    inserts = [
        line for line in during if line["message"].startswith("(") and "INSERT" in line["message"]
    ]
    assert inserts and all(
        line["company_id"] == str(company.id) and line["user_id"] == str(dispatcher.id)
        for line in inserts
    )
    assert any("[phone]" in line["message"] for line in lines)


def test_request_id_is_taken_from_the_caller_when_it_is_a_short_token(client, db):
    given = client.get("/api/companies/me", HTTP_X_REQUEST_ID="lb-1234.abc")
    assert given["X-Request-ID"] == "lb-1234.abc"
    for bad in ("x" * 65, "two words", "<script>"):
        made = client.get("/api/companies/me", HTTP_X_REQUEST_ID=bad)
        assert made["X-Request-ID"] != bad and len(made["X-Request-ID"]) == 32


def test_redact_reaches_nested_values():
    value = {"booking": {"pickup_address": HOME, "items": [{"phone": PHONE, "n": 1}]}, "id": 7}
    assert redact(value) == {
        "booking": {"pickup_address": "[redacted]", "items": [{"phone": "[redacted]", "n": 1}]},
        "id": 7,
    }


def test_plain_format_in_development_and_json_otherwise(settings):
    assert settings.LOG_FORMAT == "json"  # tests run with DEBUG off, like production
    assert settings.LOGGING["handlers"]["console"]["formatter"] == settings.LOG_FORMAT
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["context"]
    assert RequestContextMiddleware.__module__ == "atmr.logs"


def test_djangos_own_error_lines_carry_the_request_id(log_lines, client, db):
    response = client.get("/api/companies/me")  # 401, logged by Django after the middleware
    assert response.status_code == 401
    (line,) = [line for line in log_lines() if line["logger"] == "django.request"]
    assert line["request_id"] == response["X-Request-ID"]
