"""A taken e-mail gets one answer, whether the caller's company or another one holds it."""

from __future__ import annotations

import pytest
from django.test import Client as WebClient

from atmr.accounts.models import User
from drivers.models import Driver
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _create_driver(api, email: str):
    return api.post(
        "/api/drivers", {"email": email, "first_name": "A", "last_name": "B"}, format="json"
    )


def test_taken_email_answers_the_same_for_own_and_other_company(
    company, other_company, dispatcher_client
):
    own = UserFactory(company=company, email="own@example.test")
    foreign = UserFactory(company=other_company, email="foreign@example.test")
    same = _create_driver(dispatcher_client, own.email)
    other = _create_driver(dispatcher_client, foreign.email.upper())
    assert same.status_code == other.status_code == 400
    assert same.content == other.content
    assert same.json() == {
        "code": "email_unavailable",
        "detail": "This e-mail address cannot be used; choose another one.",
        "field": "email",
    }
    assert "exist" not in other.content.decode()
    assert Driver.objects.count() == 0


def test_a_free_email_is_still_accepted_and_an_invalid_one_is_a_different_400(
    company, dispatcher_client
):
    assert _create_driver(dispatcher_client, "free@example.test").status_code == 201
    invalid = _create_driver(dispatcher_client, "not-an-email")
    assert invalid.status_code == 400
    assert invalid.json()["email"] != ["This e-mail address cannot be used; choose another one."]


def _admin_add_user(web, email: str):
    return web.post(
        "/admin/accounts/user/add/",
        {
            "email": email,
            "password1": "a-long-password-42",
            "password2": "a-long-password-42",
            "usable_password": "true",
            "role": "dispatcher",
            "first_name": "",
            "last_name": "",
        },
    )


def test_admin_add_user_answers_the_same_for_own_and_other_company(company, other_company):
    UserFactory(company=company, email="own@example.test")
    UserFactory(company=other_company, email="foreign@example.test")
    web = WebClient()
    web.force_login(UserFactory(company=company, role="admin", is_staff=True))
    same = _admin_add_user(web, "own@example.test")
    other = _admin_add_user(web, "foreign@example.test")
    assert same.status_code == other.status_code == 200  # the form again, with its error
    assert same.context["adminform"].form.errors == other.context["adminform"].form.errors
    assert other.context["adminform"].form.errors == {
        "email": ["This e-mail address cannot be used; choose another one."]
    }
    assert _admin_add_user(web, "new@example.test").status_code == 302
    assert User.objects.get(email="new@example.test").company == company
