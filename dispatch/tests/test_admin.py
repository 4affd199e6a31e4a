"""The back-office pages of dispatch runs: dispatch a day, follow it, read it, apply it."""

from __future__ import annotations

import threading
from datetime import datetime, time

import pytest
from django.contrib.messages import get_messages
from django.test import Client as WebClient

from bookings.models import Booking
from dispatch import execution, services
from dispatch.models import DispatchRun
from tests.factories import BookingFactory, ClientFactory, DriverFactory, UserFactory, at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eve_of_test_day")]
DAY = datetime(2026, 12, 1).date()
RUNS = "/admin/dispatch/dispatchrun/"


@pytest.fixture
def day(company):
    """One driver 08:00-12:00; a trip at 09:00 it can do, one at 17:00 it cannot."""
    driver = DriverFactory(company=company, shift_start=time(8, 0), shift_end=time(12, 0))
    patient = ClientFactory(company=company, first_name="Anna", last_name="Muster")
    fits = BookingFactory(
        company=company,
        client=patient,
        scheduled_at=at(9),
        pickup_address="Rue du Bugnon 46, Lausanne",
        dropoff_address="Avenue de Rumine 2, Lausanne",
    )
    late = BookingFactory(company=company, scheduled_at=at(17))
    return driver, fits, late


def _suggested(company, django_capture_on_commit_callbacks) -> DispatchRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_start(company=company, service_date=DAY, mode="suggest")
    run.refresh_from_db()
    assert run.status == "succeeded"
    return run


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_run_page_shows_routes_as_a_table_in_local_time(
    company, day, staff_web, django_capture_on_commit_callbacks
):
    driver, fits, _ = day
    run = _suggested(company, django_capture_on_commit_callbacks)
    page = staff_web.get(f"{RUNS}{run.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    routes = html[html.index('id="run-routes"') : html.index('id="run-unassigned"')]
    assert driver.user.full_name in routes and driver.default_vehicle.plate in routes
    pickup = next(s for s in run.routes[0]["stops"] if s["kind"] == "pickup")
    local = datetime.fromisoformat(pickup["service_start"]).astimezone(company.tz)
    assert f"<td>{local:%H:%M}</td>" in routes  # the company's clock, not UTC
    assert "Pick-up" in routes and "Drop-off" in routes
    assert "Muster Anna" in routes and "Rue du Bugnon 46, Lausanne" in routes
    assert f"/admin/bookings/booking/{fits.id}/change/" in routes
    assert '"stops"' not in html and "service_start" not in html  # no JSON blob
    assert 'id="apply-run"' in html
    assert 'http-equiv="refresh"' not in html  # done: nothing to follow


def test_unassigned_trips_link_to_their_booking_with_the_reason_in_words(
    company, day, staff_web, django_capture_on_commit_callbacks
):
    _, _, late = day
    run = _suggested(company, django_capture_on_commit_callbacks)
    html = staff_web.get(f"{RUNS}{run.id}/change/").content.decode()
    left_out = html[html.index('id="run-unassigned"') :]
    assert f"/admin/bookings/booking/{late.id}/change/" in left_out
    assert "No driver is on shift for a pick-up between 16:50 and 17:15." in left_out
    assert "no_driver_on_shift" not in left_out


def test_apply_from_the_admin_gives_the_trips_to_drivers_once(
    company, day, staff_web, django_capture_on_commit_callbacks
):
    driver, fits, _ = day
    run = _suggested(company, django_capture_on_commit_callbacks)
    response = staff_web.post(f"{RUNS}{run.id}/apply/")
    assert response.status_code == 302 and response.url == f"{RUNS}{run.id}/change/"
    assert _messages(response) == ["Plan applied: trips given to their drivers."]
    fits.refresh_from_db()
    assert fits.status == "assigned" and fits.driver_id == driver.id
    # The page no longer offers it; a second POST is refused by the service, in words.
    assert 'id="apply-run"' not in staff_web.get(f"{RUNS}{run.id}/change/").content.decode()
    again = staff_web.post(f"{RUNS}{run.id}/apply/")
    assert "Only a succeeded run that was not applied yet" in _messages(again)[0]


def test_apply_from_the_admin_keeps_the_superseded_rule(
    company, day, staff_web, django_capture_on_commit_callbacks
):
    older = _suggested(company, django_capture_on_commit_callbacks)
    newer = _suggested(company, django_capture_on_commit_callbacks)
    response = staff_web.post(f"{RUNS}{older.id}/apply/")
    assert response.status_code == 302
    (message,) = _messages(response)
    assert str(newer.id) in message and "out of date" in message
    assert not Booking.objects.filter(status="assigned").exists()
    assert DispatchRun.objects.get(id=older.id).applied_at is None


def test_apply_is_a_post_and_another_companys_run_is_not_found(
    company, other_company, day, staff_web, django_capture_on_commit_callbacks
):
    DriverFactory(company=other_company)
    BookingFactory(company=other_company)
    foreign = _suggested(other_company, django_capture_on_commit_callbacks)
    assert staff_web.get(f"{RUNS}{foreign.id}/change/").status_code == 302  # "doesn't exist"
    response = staff_web.post(f"{RUNS}{foreign.id}/apply/")
    assert response.status_code == 302 and response.url == "/admin/"
    assert staff_web.get(f"{RUNS}{foreign.id}/progress/").status_code == 404
    assert not Booking.objects.filter(status="assigned").exists()
    mine = _suggested(company, django_capture_on_commit_callbacks)
    assert staff_web.get(f"{RUNS}{mine.id}/apply/").status_code == 302  # GET changes nothing
    assert not Booking.objects.filter(status="assigned").exists()


def test_a_running_run_page_refreshes_and_shows_its_progress(company, staff_web):
    run = services.run_start(company=company, service_date=DAY, mode="auto", enqueue=False)
    DispatchRun.objects.filter(id=run.id).update(
        status="running", progress=0.4, progress_detail="travel matrix 6x6, 100% estimated"
    )
    html = staff_web.get(f"{RUNS}{run.id}/change/").content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html
    assert 'value="40"' in html and "travel matrix 6x6, 100% estimated" in html
    assert 'id="apply-run"' not in html
    progress = staff_web.get(f"{RUNS}{run.id}/progress/").json()
    assert progress == {
        "id": str(run.id),
        "status": "running",
        "progress": 0.4,
        "detail": "travel matrix 6x6, 100% estimated",
    }


def test_dispatch_a_day_queues_and_returns_before_the_run_executes(
    company, day, staff_web, settings, monkeypatch, django_capture_on_commit_callbacks
):
    # Embedded defaults (eager tasks, no test exemption): the run must execute off the request.
    settings.DISPATCH_EAGER_IN_THREAD = True
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    ran_in: list[str] = []

    def slow_execute(run_id, **_):
        ran_in.append(threading.current_thread().name)
        started.set()
        if threading.current_thread() is not threading.main_thread():
            release.wait(timeout=60)
        finished.set()

    monkeypatch.setattr(execution, "run_execute", slow_execute)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_web.post(
            f"{RUNS}dispatch-day/", {"service_date": "2026-12-01", "mode": "suggest"}
        )
    # The request (and its on-commit enqueue) is over while the run is still executing.
    assert not finished.is_set()
    run = DispatchRun.objects.get()
    assert response.status_code == 302 and response.url == f"{RUNS}{run.id}/change/"
    assert started.wait(timeout=60)
    release.set()
    assert finished.wait(timeout=60)
    assert ran_in == [f"dispatch-run-{run.id}"]


def test_dispatch_a_day_then_the_run_page_shows_the_result(
    company, day, staff_web, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_web.post(
            f"{RUNS}dispatch-day/", {"service_date": "2026-12-01", "mode": "auto"}
        )
    run = DispatchRun.objects.get()
    assert response.url == f"{RUNS}{run.id}/change/"
    page = staff_web.get(response.url)
    assert page.context["run"].status == "succeeded" and page.context["routes"]


def test_dispatch_a_day_refuses_a_past_day_on_the_field(company, staff_web):
    response = staff_web.post(
        f"{RUNS}dispatch-day/", {"service_date": "2026-11-29", "mode": "auto"}
    )
    assert response.status_code == 200
    assert "is in the past" in response.context["form"].errors["service_date"][0]
    assert not DispatchRun.objects.exists()


def test_dispatch_a_day_names_the_active_run(company, staff_web):
    active = services.run_start(company=company, service_date=DAY, mode="auto", enqueue=False)
    response = staff_web.post(
        f"{RUNS}dispatch-day/", {"service_date": "2026-12-01", "mode": "auto"}
    )
    assert response.status_code == 200
    (message,) = _messages(response)
    assert "already active" in message and f"{RUNS}{active.id}/change/" in message
    assert DispatchRun.objects.count() == 1


def test_dispatch_a_day_proposes_today_in_the_company_zone(company, staff_web):
    form = staff_web.get(f"{RUNS}dispatch-day/").context["form"]
    assert form.initial["service_date"] == datetime(2026, 11, 30).date()


def test_a_superuser_dispatches_and_applies_for_a_chosen_company(
    company, day, superuser_web, django_capture_on_commit_callbacks
):
    form = {"service_date": "2026-12-01", "mode": "suggest", "company": company.id}
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_web.post(f"{RUNS}dispatch-day/", form)
    run = DispatchRun.objects.get(company=company)
    assert response.url == f"{RUNS}{run.id}/change/"
    assert superuser_web.post(f"{RUNS}{run.id}/apply/").status_code == 302
    assert Booking.objects.filter(company=company, status="assigned").count() == 1


def test_company_staff_of_another_role_cannot_dispatch(company, day):
    web = WebClient()
    web.force_login(UserFactory(company=company, role="driver", is_staff=True))
    response = web.post(f"{RUNS}dispatch-day/", {"service_date": "2026-12-01", "mode": "auto"})
    assert response.status_code == 302 and not DispatchRun.objects.exists()
