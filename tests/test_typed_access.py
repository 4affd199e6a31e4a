"""The typed ways to the caller and to a lazy page of rows keep what the untyped code did."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from atmr.accounts.authentication import ClaimsUser, request_claims_user
from atmr.accounts.models import Company
from atmr.admin_scoping import company_staff, staff_company_id
from atmr.api import _LazyRows
from atmr.demo import _home
from atmr.permissions import CompanyRolePermission
from bookings.models import Client
from tests.factories import CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db


def _claims(role: str = "dispatcher") -> ClaimsUser:
    return ClaimsUser(id="u1", email="a@x.test", role=role, company_id="c1", driver_id=None)


def _api_request(user: object) -> Request:
    django_request = APIRequestFactory().get("/api/anything")
    force_authenticate(django_request, user=user)
    return APIView().initialize_request(django_request)


def test_the_api_caller_is_the_token_s_claims_and_nothing_else():
    claims = _claims()
    assert request_claims_user(_api_request(claims)) is claims
    # Only ClaimsJWTAuthentication authenticates the API: any other user is no caller.
    assert request_claims_user(_api_request(UserFactory())) is None
    assert request_claims_user(_api_request(None)) is None


def test_the_role_check_takes_the_claims_role():
    view = APIView()
    permission = CompanyRolePermission()
    assert permission.has_permission(_api_request(_claims("dispatcher")), view)
    assert not permission.has_permission(_api_request(_claims("driver")), view)
    assert not permission.has_permission(_api_request(None), view)


def test_company_staff_is_an_active_office_user_of_a_company():
    company = CompanyFactory()
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(company=company, role="dispatcher", is_staff=True)
    assert company_staff(request) is request.user
    assert staff_company_id(request) == company.id
    for user in (
        UserFactory(company=company, role="driver", is_staff=True),
        UserFactory(company=company, role="admin", is_staff=False),
        UserFactory(company=company, role="admin", is_staff=True, is_active=False),
        AnonymousUser(),
    ):
        request.user = user
        assert company_staff(request) is None
        with pytest.raises(PermissionDenied):
            staff_company_id(request)


def test_lazy_rows_are_a_sequence_the_paginator_pages():
    for name in ("a", "b", "c", "d", "e"):
        CompanyFactory(name=name)
    queryset = Company.objects.filter(name__in=list("abcde")).order_by("name")
    rows = _LazyRows(queryset, lambda qs: [{"name": n} for n in qs.values_list("name", flat=True)])
    assert len(rows) == 5
    assert rows[1] == {"name": "b"}
    assert rows[1:3] == [{"name": "b"}, {"name": "c"}]
    assert [row["name"] for row in rows] == ["a", "b", "c", "d", "e"]
    page = Paginator(rows, 2).page(3)
    assert list(page) == [{"name": "e"}]


def test_a_demo_client_without_coordinates_is_named():
    with pytest.raises(ValueError, match="\\+41 21 0000007"):
        _home(Client(phone="+41 21 0000007", lat=None, lon=None))
