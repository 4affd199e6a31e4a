"""Schemathesis over every API operation: no 5xx, and every answer as the schema documents it.

Run with `make check-api` (CI runs it too). Not collected by `make test` (the file name does not
match `test_*.py`): it takes about a minute on its own. In-process against the WSGI app, with
a real access token of an admin of one company, on PostgreSQL/Redis when configured; bounded by
a fixed number of examples per operation, derandomized so a run is reproducible.
Set API_FUZZ_EXAMPLES for more (or fewer) examples per operation.
"""

from __future__ import annotations

import os

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
from tests.factories import ClientFactory, DriverFactory, UserFactory

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


@pytest.fixture
def token(db, company, _keep_connection):
    admin = UserFactory(company=company, role="admin")
    # Objects the generated ids and filters may happen to hit.
    DriverFactory(company=company)
    ClientFactory(company=company)
    return str(refresh_token_for(admin).access_token)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_operation(case, token):
    case.call_and_validate(
        base_url="http://testserver", headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )
