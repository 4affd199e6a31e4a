"""Schemathesis over every API operation: no 5xx, and every answer as the schema documents it.

Run with `make check-api` (CI runs it too); `make test` does not collect it (the name does not
match `test_*.py`): it takes two to three minutes. In-process against the WSGI app, on
PostgreSQL/Redis when configured, with real access tokens of an admin and of a driver of one
company; a fixed number of examples per operation (API_FUZZ_EXAMPLES, default 50), derandomized
so that a run is reproducible.
"""

from __future__ import annotations

import os
import re
from datetime import time
from decimal import Decimal

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from atmr.accounts.tokens import refresh_token_for
from bookings.models import Booking, StandingOrder
from dispatch.models import DispatchRun
from drivers.models import Shift
from tests.factories import BookingFactory, ClientFactory, DriverFactory, UserFactory

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "50"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Not `negative_data_rejection`: DRF reads `0` for a text field as "0" and `0` for a boolean as
# false, on purpose; what matters here is that no input crashes or gets an undocumented answer.


# pytest-django has set Django up before this module is collected.
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = WSGIHandler()
schema.config.generation.update(allow_x00=True, deterministic=True)


@pytest.fixture
def _keep_connection():
    # Like Django's test client: the request must not close the test's (transaction's) connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["admin", "driver"])
def world(request, db, company, _keep_connection):
    """Who calls (an admin, then a driver), and real objects the generated ids may stand for."""
    driver = DriverFactory(company=company)
    client = ClientFactory(company=company)
    assigned = BookingFactory(
        company=company,
        client=client,
        status=Booking.Status.ASSIGNED,
        driver=driver,
        vehicle=driver.default_vehicle,
    )
    pending = BookingFactory(company=company, client=client)
    run = DispatchRun.objects.create(
        company=company, service_date=pending.scheduled_at.date(), status="succeeded"
    )
    order = StandingOrder.objects.create(
        company=company,
        client=client,
        pickup_address=client.address,
        pickup_lat=client.lat,
        pickup_lon=client.lon,
        dropoff_address="HUG",
        dropoff_lat=46.19,
        dropoff_lon=6.15,
        weekdays=[1, 3, 5],
        pickup_time=time(7, 0),
        start_date=pending.scheduled_at.date(),
        occurrences=30,
    )
    draft, issued = _invoices(company, pending)
    user = driver.user if request.param == "driver" else UserFactory(company=company, role="admin")
    ids = {
        "booking_id": [str(assigned.id), str(pending.id)],
        "client_id": [str(client.id)],
        "driver_id": [str(driver.id)],
        "run_id": [str(run.id)],
        "order_id": [str(order.id)],
        "shift_id": [str(s.id) for s in Shift.objects.filter(driver=driver)[:2]],
        "reason_code_id": [str(code.id) for code in company.reason_codes.all()[:2]],
        "invoice_id": [str(draft.id), str(issued.id)],
    }
    return str(refresh_token_for(user).access_token), ids


def _invoices(company, booking):
    """A draft invoice with a line (billing settings complete, so it may be issued) and an
    issued one with its PDF."""
    from billing.models import Invoice, InvoiceDocument, InvoiceLine, Payer
    from billing.tests.helpers import billing_ready

    billing_ready(company)
    payer = Payer.objects.create(company=company, kind="institution", name="CHUV")
    month = booking.scheduled_at.date().replace(day=1)
    draft = Invoice.objects.create(company=company, payer=payer, month=month)
    InvoiceLine.objects.create(
        company=company,
        invoice=draft,
        booking=booking,
        day=booking.scheduled_at.date(),
        patient="P",
        description="A → B",
        amount=Decimal("40.00"),
    )
    issued = Invoice.objects.create(
        company=company,
        payer=payer,
        month=month,
        status="issued",
        number="2026-000999",
        reference="210000000003139471430009017",
        issue_date=month,
        due_date=month,
        total=Decimal("40.00"),
    )
    InvoiceDocument.objects.create(
        company=company, invoice=issued, kind="invoice", amount_due=issued.total, pdf=b"%PDF-1.7"
    )
    return draft, issued


def _use_real_ids(case, ids: dict[str, list[str]]) -> None:
    """Half the valid generated UUIDs become real objects' ids, so that operations answer
    more than 404 (deterministic: by the generated id's first hex digit)."""
    for name, value in (case.path_parameters or {}).items():
        if name in ids and isinstance(value, str) and re.fullmatch(r"[0-7][-0-9a-f]{35}", value):
            case.path_parameters[name] = ids[name][int(value[0], 16) % len(ids[name])]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_operation(case, world):
    token, ids = world
    _use_real_ids(case, ids)
    case.call_and_validate(
        base_url="http://testserver", headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )
