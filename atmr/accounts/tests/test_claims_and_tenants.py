"""Refresh re-reads the user; a suspended company loses log-in, refresh and API access."""

from __future__ import annotations

import jwt
import pytest
from rest_framework.test import APIClient

from tests.factories import DriverFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-correct-horse"


def _login(user) -> dict:
    response = APIClient().post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _refresh(refresh: str):
    return APIClient().post("/api/auth/refresh", {"refresh": refresh}, format="json")


def _claims(access: str) -> dict:
    return jwt.decode(access, options={"verify_signature": False})


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_refresh_issues_the_role_the_user_has_now(company):
    admin = UserFactory(company=company, role="admin")
    tokens = _login(admin)
    admin.role = "dispatcher"
    admin.save(update_fields=["role"])
    response = _refresh(tokens["refresh"])
    assert response.status_code == 200
    assert _claims(response.json()["access"])["role"] == "dispatcher"


def test_a_demoted_dispatcher_loses_office_endpoints_at_refresh(company):
    user = UserFactory(company=company, role="dispatcher")
    tokens = _login(user)
    assert _bearer(tokens["access"]).get("/api/clients").status_code == 200
    user.role = "driver"
    user.save(update_fields=["role"])
    access = _refresh(tokens["refresh"]).json()["access"]
    assert _claims(access)["role"] == "driver"
    assert _bearer(access).get("/api/clients").status_code == 403


def test_refresh_follows_a_company_move_and_a_new_driver_record(company, other_company):
    user = UserFactory(company=company, role="driver")
    tokens = _login(user)
    assert _claims(tokens["access"])["driver_id"] is None
    user.company = other_company
    user.save(update_fields=["company"])
    driver = DriverFactory(company=other_company, user=user)
    claims = _claims(_refresh(tokens["refresh"]).json()["access"])
    assert claims["company_id"] == str(other_company.id)
    assert claims["driver_id"] == str(driver.id)


def test_refresh_of_a_deleted_user_is_401(company):
    user = UserFactory(company=company)
    tokens = _login(user)
    user.delete()
    response = _refresh(tokens["refresh"])
    assert response.status_code == 401
    assert response.json()["detail"]


def test_suspended_company_cannot_log_in(company):
    user = UserFactory(company=company)
    company.active = False
    company.save()
    response = APIClient().post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401
    assert "suspended" in response.json()["detail"]


def test_suspended_company_cannot_refresh(company):
    tokens = _login(UserFactory(company=company))
    company.active = False
    company.save()
    assert _refresh(tokens["refresh"]).status_code == 401


def test_suspended_company_loses_api_access_with_a_valid_access_token(company):
    tokens = _login(UserFactory(company=company))
    client = _bearer(tokens["access"])
    assert client.get("/api/companies/me").status_code == 200  # remembered from now on
    from atmr.accounts import authentication

    # The admin (a model save, so the signal) suspends the company; a remembered token is
    # re-checked within RECHECK_S: here, at once.
    company.active = False
    company.save()
    for raw, entry in list(authentication._VERIFIED.items()):
        authentication._VERIFIED[raw] = (entry[0], 0.0, *entry[2:])
    assert client.get("/api/companies/me").status_code == 401
    assert client.get("/api/bookings").status_code == 401
    company.active = True
    company.save()
    assert client.get("/api/companies/me").status_code == 200


def test_other_companies_keep_access_while_one_is_suspended(company, other_company):
    other = _bearer(_login(UserFactory(company=other_company))["access"])
    company.active = False
    company.save()
    assert other.get("/api/companies/me").status_code == 200


def test_login_user_carries_driver_id(driver):
    body = _login(driver.user)
    assert body["user"]["driver_id"] == str(driver.id)
    assert body["user"]["role"] == "driver"


def test_login_schema_documents_driver_id(db):
    schema = APIClient().get("/api/schema/?format=json").json()
    user = schema["components"]["schemas"]["LoginUser"]
    assert "driver_id" in user["required"]
    assert user["properties"]["driver_id"]["nullable"] is True


def test_suspended_company_staff_cannot_log_into_the_back_office(company):
    from django.test import Client as WebClient

    staff = UserFactory(company=company, role="admin", is_staff=True)
    web = WebClient()
    form = {"username": staff.email, "password": PASSWORD, "next": "/admin/"}
    assert web.post("/admin/login/", form).status_code == 302  # logged in
    assert web.get("/admin/").status_code == 200
    company.active = False
    company.save()
    # The open session stops working, and a new log-in is refused.
    assert web.get("/admin/").status_code == 302
    response = WebClient().post("/admin/login/", form)
    assert response.status_code == 200 and response.context["form"].errors


def test_wrong_password_of_a_suspended_company_says_nothing_about_it(company):
    user = UserFactory(company=company)
    company.active = False
    company.save()
    response = APIClient().post(
        "/api/auth/login", {"email": user.email, "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "E-mail or password is wrong."
