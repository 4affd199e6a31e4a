"""The board page and its token: who may open them, which company they give, what they hold."""

from __future__ import annotations

import pytest
from django.test import Client as WebClient
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.admin_helpers import web_for
from tests.factories import BookingFactory, CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db


def _claims(response) -> AccessToken:
    assert response.status_code == 200, response.content
    return AccessToken(response.json()["access"])


def test_board_sends_anonymous_visitors_to_the_admin_login():
    response = WebClient().get("/board/?date=2026-12-01")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/board/")


def test_board_refuses_users_who_are_not_company_staff(company):
    driver_user = UserFactory(company=company, role="driver", is_staff=True)
    not_staff = UserFactory(company=company, role="dispatcher", is_staff=False)
    for user in (driver_user, not_staff):
        web = web_for(user)
        assert web.get("/board/").status_code == 403
        assert web.post("/board/token").status_code == 403


def test_board_page_is_the_staff_members_company_in_its_zone(company, staff_web):
    company.timezone = "America/New_York"
    company.save(update_fields=["timezone"])
    other = CompanyFactory(name="Someone Else")
    page = staff_web.get(f"/board/?date=2026-12-01&company={other.id}").content.decode()
    assert f'data-company="{company.id}"' in page
    assert 'data-timezone="America/New_York"' in page
    assert 'data-day="2026-12-01"' in page
    assert str(other.id) not in page


@pytest.mark.clock("2026-11-30T23:30:00Z")
def test_board_day_defaults_to_today_in_the_companys_zone(company, staff_web):
    # 23:30 UTC is already 1 December in Zurich.
    assert 'data-day="2026-12-01"' in staff_web.get("/board/?date=nonsense").content.decode()


def test_board_tiles_come_from_the_setting(staff_web, settings):
    settings.MAP_TILES_URL = "https://tiles.example.test/{z}/{x}/{y}.png"
    assert (
        'data-tiles="https://tiles.example.test/{z}/{x}/{y}.png"'
        in staff_web.get("/board/").content.decode()
    )
    settings.MAP_TILES_URL = ""
    assert 'data-tiles=""' in staff_web.get("/board/").content.decode()


def test_superuser_picks_a_company_then_gets_its_board(superuser_web, company):
    picker = superuser_web.get("/board/").content.decode()
    assert f"?company={company.id}" in picker
    page = superuser_web.get(f"/board/?company={company.id}").content.decode()
    assert f'data-company="{company.id}"' in page
    assert superuser_web.get("/board/?company=not-a-uuid").status_code == 200  # the picker


def test_token_is_an_access_token_of_the_staff_members_company(company, staff_web):
    other = CompanyFactory(name="Someone Else")
    claims = _claims(staff_web.post("/board/token", {"company": str(other.id)}))
    assert claims["company_id"] == str(company.id)
    assert claims["role"] == "dispatcher"


def test_token_reads_the_api_of_its_company_only(company, other_company, staff_web):
    mine = BookingFactory(company=company)
    theirs = BookingFactory(company=other_company)
    access = staff_web.post("/board/token").json()["access"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api.get(f"/api/bookings/{mine.id}").status_code == 200
    assert api.get(f"/api/bookings/{theirs.id}").status_code == 404


def test_superuser_token_acts_as_the_picked_companys_admin(superuser_web, company):
    claims = _claims(superuser_web.post("/board/token", {"company": str(company.id)}))
    assert (claims["company_id"], claims["role"], claims["driver_id"]) == (
        str(company.id),
        "admin",
        None,
    )
    missing = superuser_web.post("/board/token")
    assert missing.status_code == 400
    assert missing.json()["field"] == "company"
    unknown = superuser_web.post("/board/token", {"company": "0" * 32})
    assert unknown.status_code == 404
    assert superuser_web.post("/board/token", {"company": "x"}).status_code == 404


def test_token_needs_a_session_a_post_and_the_csrf_token(company):
    assert WebClient().post("/board/token").status_code == 401
    user = UserFactory(company=company, role="dispatcher", is_staff=True)
    strict = WebClient(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.get("/board/token").status_code == 405
    assert strict.post("/board/token").status_code == 403  # no CSRF token
    page = strict.get("/board/").content.decode()
    csrf = page.split('data-csrf="', 1)[1].split('"', 1)[0]
    assert strict.post("/board/token", HTTP_X_CSRFTOKEN=csrf).status_code == 200


def test_suspended_companys_staff_get_no_board(company, staff_web):
    company.active = False
    company.save(update_fields=["active"])
    # The admin's session ends with the suspension: back to the log-in, and no token.
    assert staff_web.get("/board/")["Location"].startswith("/admin/login/")
    assert staff_web.post("/board/token").status_code in (401, 403)


def test_admin_header_links_to_the_board(staff_web, admin_zone):
    page = staff_web.get("/admin/").content.decode()
    assert 'id="board-link" href="/board/"' in page
