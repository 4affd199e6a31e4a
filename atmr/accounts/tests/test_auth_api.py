from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-correct-horse"


def login(client: APIClient, email: str, password: str = PASSWORD, **extra):
    return client.post(
        "/api/auth/login", {"email": email, "password": password}, format="json", **extra
    )


def test_login_returns_tokens_and_user(dispatcher):
    response = login(APIClient(), dispatcher.email.upper())
    assert response.status_code == 200
    body = response.json()
    assert body["access"] and body["refresh"]
    assert body["user"] == {
        "id": str(dispatcher.id),
        "email": dispatcher.email,
        "role": "dispatcher",
        "company": str(dispatcher.company_id),
        "driver_id": None,
    }
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.get("/api/companies/me").json()["name"] == "Alpha Transports"


def test_login_with_wrong_password_is_401(dispatcher):
    response = login(APIClient(), dispatcher.email, "wrong")
    assert response.status_code == 401
    assert "access" not in response.json()


def test_login_of_inactive_user_is_401(company):
    user = UserFactory(company=company, is_active=False)
    assert login(APIClient(), user.email).status_code == 401


def test_superuser_without_company_cannot_use_the_api(db):
    user = UserFactory(company=None, is_superuser=True, is_staff=True)
    response = login(APIClient(), user.email)
    assert response.status_code == 401
    assert "no company" in response.json()["detail"]


def test_login_validates_fields():
    response = APIClient().post("/api/auth/login", {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"email", "password"}


def test_login_is_throttled_per_email(dispatcher, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login_ip": "1000/min", "login_email": "3/min"},
    }
    from atmr.accounts.throttles import LoginEmailThrottle, LoginIpThrottle

    LoginEmailThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    LoginIpThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    try:
        client = APIClient()
        codes = [login(client, dispatcher.email, "wrong").status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        # The same address typed with other case and spaces is the same address.
        assert login(client, f"  {dispatcher.email.upper()} ", "wrong").status_code == 429
        # Another address from the same IP is not locked out by the first one's failures.
        assert login(client, "someone@else.test", "x").status_code == 401
        # Not an address at all: a 400 for the field, never a shared "[None, None]" bucket.
        for _ in range(4):
            response = client.post("/api/auth/login", {"email": [None, None]}, format="json")
            assert response.status_code == 400 and "email" in response.json()
    finally:
        from rest_framework.settings import api_settings

        LoginEmailThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        LoginIpThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_login_is_throttled_per_ip(dispatcher):
    from atmr.accounts.throttles import LoginEmailThrottle, LoginIpThrottle

    saved = LoginIpThrottle.THROTTLE_RATES
    LoginIpThrottle.THROTTLE_RATES = {**saved, "login_ip": "2/min"}
    LoginEmailThrottle.THROTTLE_RATES = LoginIpThrottle.THROTTLE_RATES
    try:
        client = APIClient()
        codes = [login(client, f"u{n}@x.test", "x").status_code for n in range(3)]
        assert codes == [401, 401, 429]
        other_ip = login(client, "u9@x.test", "x", REMOTE_ADDR="10.9.9.9")
        assert other_ip.status_code == 401
    finally:
        LoginIpThrottle.THROTTLE_RATES = saved
        LoginEmailThrottle.THROTTLE_RATES = saved


def test_refresh_gives_a_new_access_token(dispatcher):
    tokens = login(APIClient(), dispatcher.email).json()
    response = APIClient().post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200
    access = response.json()["access"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.get("/api/companies/me").status_code == 200


def test_logout_blacklists_the_refresh_token(dispatcher):
    tokens = login(APIClient(), dispatcher.email).json()
    api = APIClient()
    assert (
        api.post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json").status_code
        == 205
    )
    again = api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401


def test_refresh_with_garbage_is_401():
    response = APIClient().post("/api/auth/refresh", {"refresh": "garbage"}, format="json")
    assert response.status_code == 401


def test_api_needs_a_token(db):
    assert APIClient().get("/api/bookings").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert bad.get("/api/bookings").status_code == 401


def test_company_me_answers_from_token_claims(dispatcher_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):  # company (then cached)
        response = dispatcher_client.get("/api/companies/me")
    assert response.status_code == 200
    assert response.json()["timezone"] == "Europe/Zurich"
    with django_assert_max_num_queries(0):
        assert dispatcher_client.get("/api/companies/me").status_code == 200


def test_company_cache_is_invalidated_on_save(dispatcher_client, company):
    dispatcher_client.get("/api/companies/me")
    company.name = "Alpha Renamed"
    company.save()
    assert dispatcher_client.get("/api/companies/me").json()["name"] == "Alpha Renamed"


def test_refresh_of_a_deactivated_user_is_401(dispatcher):
    tokens = login(APIClient(), dispatcher.email).json()
    dispatcher.is_active = False
    dispatcher.save(update_fields=["is_active"])
    response = APIClient().post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401


def test_a_remembered_access_token_still_expires(dispatcher):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from atmr.accounts.tokens import refresh_token_for

    # The clock stands still until moved: a loaded machine cannot expire the token between
    # the first two requests (it did, with a 1 s token and real time).
    with time_machine.travel(timezone.now(), tick=False) as clock:
        access = refresh_token_for(dispatcher).access_token
        access.set_exp(lifetime=timedelta(seconds=60))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        assert client.get("/api/companies/me").status_code == 200
        assert client.get("/api/companies/me").status_code == 200  # from the verified tokens
        clock.shift(timedelta(seconds=61))
        response = client.get("/api/companies/me")
    assert response.status_code == 401


def test_a_tampered_token_is_refused_after_its_original_was_remembered(dispatcher_client):
    assert dispatcher_client.get("/api/companies/me").status_code == 200
    header = dispatcher_client._credentials["HTTP_AUTHORIZATION"]
    head, payload, signature = header.removeprefix("Bearer ").split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert client.get("/api/companies/me").status_code == 401


@pytest.fixture
def two_logins_per_ip():
    from atmr.accounts.throttles import LoginEmailThrottle, LoginIpThrottle

    saved = LoginIpThrottle.THROTTLE_RATES
    LoginIpThrottle.THROTTLE_RATES = {**saved, "login_ip": "2/min", "login_email": "100/min"}
    LoginEmailThrottle.THROTTLE_RATES = LoginIpThrottle.THROTTLE_RATES
    yield
    LoginIpThrottle.THROTTLE_RATES = saved
    LoginEmailThrottle.THROTTLE_RATES = saved


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(db, two_logins_per_ip):
    client = APIClient()
    codes = [
        login(client, f"u{n}@x.test", "x", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(3)
    ]
    assert codes == [401, 401, 429]


def test_forwarded_for_from_a_trusted_proxy_names_the_client(db, two_logins_per_ip, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client = APIClient()

    def attempt(forwarded: str, peer: str = "10.1.2.3") -> int:
        return login(
            client, "a@x.test", "x", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    # The client's own (spoofable) first entry is skipped: the proxy appended the real one.
    assert [attempt(f"1.1.1.{n}, 198.51.100.7") for n in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.8, 10.9.9.9") == 401  # another client behind two proxies
    # A peer outside the trusted range is its own client, whatever it forwards.
    assert [attempt("198.51.100.9", peer="192.0.2.1") for _ in range(3)] == [401, 401, 429]


def test_num_proxies_takes_the_address_that_many_hops_from_the_right(settings):
    from django.test import RequestFactory

    from atmr.accounts.throttles import client_ip

    settings.TRUSTED_PROXIES, settings.NUM_PROXIES = [], 1
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7"
    )
    assert client_ip(request) == "198.51.100.7"
    settings.NUM_PROXIES = 0
    assert client_ip(request) == "10.0.0.1"
    bad = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="not-an-ip")
    settings.NUM_PROXIES = 1
    assert client_ip(bad) == "10.0.0.1"
