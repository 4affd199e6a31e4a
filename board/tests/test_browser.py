"""The board in a real browser (Debian's chromium through Playwright) against a real server.

The server is uvicorn in a subprocess on the test database (so PostgreSQL), with the channel
layer of REDIS_URL when set. Drivers are real websocket clients. Skipped, with the reason, when
chromium or Playwright is missing locally; CI installs both (.ci/run, requirements-dev.txt).
Screenshots (1440×900) go to .artifacts/screenshots/ (git-ignored), for CI to keep.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from atmr.accounts.tokens import refresh_token_for
from bookings.models import Booking
from drivers.models import Driver, Shift
from realtime.events import build_late_risk
from realtime.groups import group_for_company_dispatch
from realtime.publish import publish
from tests.factories import (
    GENEVA,
    LAUSANNE,
    BookingFactory,
    CompanyFactory,
    DriverFactory,
    UserFactory,
)
from tests.processes import child_database_url, free_port

CHROMIUM = "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
pytestmark = [
    pytest.mark.real_clock,  # other processes run on the machine's clock
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"
    ),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the server process needs the PostgreSQL test database (DATABASE_URL)",
    ),
]

BASE_DIR = Path(settings.BASE_DIR)
SHOTS = BASE_DIR / ".artifacts" / "screenshots"
PASSWORD = "pw-correct-horse"  # UserFactory's
WAIT_MS = 30_000  # for what must happen: generous on a loaded machine, never a sleep
START_S = 60.0


def _noon_zone() -> str:
    """A zone where it is now about noon: the day's trips, shifts and will-call releases all
    fall on today whatever hour the tests run at (tests cannot pin the server's clock)."""
    offset = 12 - datetime.now(UTC).hour  # hours east of UTC; Etc/GMT signs are reversed
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}" if offset else "Etc/GMT"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker) -> Iterator[str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": child_database_url(),
        "CONN_MAX_AGE": "0",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
        "SECURE_SSL_REDIRECT": "0",
        "MAP_TILES_URL": "",  # offline: the map draws on a blank ground
        # Runs, ETAs and proposals in the server's own threads: the tests start no worker.
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
    with tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "atmr.asgi:application", "--host=127.0.0.1",
             f"--port={port}", "--lifespan=off", "--log-level=warning"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for(port, process, Path(log.name))
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        Path(log.name).unlink(missing_ok=True)


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server did not listen within {START_S} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Playwright's sync API keeps an event loop running in this thread, which Django takes
    # for async code; the ORM calls here are the test's own, sequential, so they are safe.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _chromium()
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


def _chromium() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def day() -> dict[str, Any]:
    """Company A (zone where it is about noon): two drivers with positions, one trip each
    way; company B with its own dispatcher."""
    company = CompanyFactory(name="Alpha Board", timezone=_noon_zone())
    first, second = (DriverFactory(company=company) for _ in range(2))
    for n, driver in enumerate((first, second)):
        Driver.objects.filter(pk=driver.pk).update(last_lat=46.45 + n / 10, last_lon=6.5)
    soon = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=1)
    busy = BookingFactory(company=company, driver=first, status="assigned", scheduled_at=soon)
    open_trip = BookingFactory(
        company=company,
        scheduled_at=soon + timedelta(minutes=5),
        pickup_lat=GENEVA[0],
        pickup_lon=GENEVA[1],
        dropoff_lat=LAUSANNE[0],
        dropoff_lon=LAUSANNE[1],
    )
    other = CompanyFactory(name="Beta Board", timezone=_noon_zone())
    return {
        "company": company,
        "first": first,
        "second": second,
        "busy": busy,
        "open": open_trip,
        "soon": soon,
        "dispatcher": UserFactory(company=company, role="dispatcher", is_staff=True),
        "other_dispatcher": UserFactory(company=other, role="dispatcher", is_staff=True),
    }


def _board(browser: Any, server: str, user: Any) -> Any:
    """A 1440×900 page logged in as `user` on the board, loaded and live."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"http://{server}/admin/login/?next=/board/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#board[data-ready='1']")
    page.wait_for_selector("#conn.live")
    return page


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


@contextmanager
def _driver_socket(server: str, driver: Driver) -> Iterator[Any]:
    from websockets.sync.client import connect

    token = refresh_token_for(driver.user).access_token
    with connect(
        f"ws://{server}/ws/driver/",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=WAIT_MS / 1000,
    ) as ws:
        assert json.loads(ws.recv(timeout=WAIT_MS / 1000))["type"] == "hello"
        yield ws


def _next(ws: Any, kind: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        message = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
        if message["type"] == kind:
            return message


def _until(check: Any) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not check():
        assert time.monotonic() < deadline, "the database did not change in time"
        time.sleep(0.1)


def test_dispatcher_sees_trips_routes_a_driver_moving_and_resyncs(browser, server, day):
    page = _board(browser, server, day["dispatcher"])
    assert page.locator(".bar-trip").count() == 2
    assert page.locator(f".tl-row[data-driver='{day['first'].id}'] .bar-trip").count() == 1
    assert page.locator(".tl-row[data-lane='unassigned'] .bar-trip").count() == 1
    assert page.locator("path.route").count() == 1  # the first driver's route of the day
    assert page.locator(".drv-marker").count() == 2
    _shot(page, "board-day")

    with _driver_socket(server, day["first"]) as ws:
        fix = {"lat": 46.7123, "lon": 6.9876, "ts": datetime.now(UTC).isoformat()}
        ws.send(json.dumps({"type": "location_batch", "id": 1, "positions": [fix]}))
        assert _next(ws, "ack")["accepted"] == 1
    page.wait_for_function(
        "([id, lat, lon]) => { const at = window.board.map.driverAt(id);"
        " return at && Math.abs(at.lat - lat) < 1e-6 && Math.abs(at.lng - lon) < 1e-6; }",
        arg=[str(day["first"].id), fix["lat"], fix["lon"]],
    )
    _shot(page, "board-moved")

    # A trip written straight to the database sends no event: the page learns of it from the
    # re-read that follows every reconnect.
    late_comer = BookingFactory(company=day["company"], scheduled_at=day["soon"])
    assert page.locator(f".bar-trip[data-booking='{late_comer.id}']").count() == 0
    page.evaluate("window.board.live.ws.close()")
    page.wait_for_selector(f".bar-trip[data-booking='{late_comer.id}']")
    page.wait_for_selector("#conn.live")
    page.close()


def test_drag_reassigns_the_driver_gets_its_assignment_and_a_message(browser, server, day):
    page = _board(browser, server, day["dispatcher"])
    busy, second = day["busy"], day["second"]
    with _driver_socket(server, second) as ws:
        page.locator(f".bar-trip[data-booking='{busy.id}']").drag_to(
            page.locator(f".tl-row[data-driver='{second.id}']")
        )
        assignment = _next(ws, "assignment")
        assert (assignment["action"], assignment["booking"]["id"]) == ("assigned", str(busy.id))
        # ... and the dispatcher tells that driver (only) about it.
        page.click("#chat-box summary")
        page.select_option("#chat-to", str(second.id))
        page.fill("#chat-text", "New trip for you")
        page.click("#chat-form button[type=submit]")
        chat = _next(ws, "chat_message")["message"]
    assert (chat["text"], chat["to_driver"]) == ("New trip for you", str(second.id))
    _until(lambda: Booking.objects.get(pk=busy.pk).driver_id == second.id)
    page.wait_for_selector(f".tl-row[data-driver='{second.id}'] [data-booking='{busy.id}']")
    _shot(page, "board-reassigned")
    page.close()


def test_a_conflicting_reassignment_shows_the_409_and_changes_nothing(browser, server, day):
    page = _board(browser, server, day["dispatcher"])
    clash, first = day["open"], day["first"]
    page.click(f".bar-trip[data-booking='{clash.id}']")
    page.select_option("#pick-driver", str(first.id))
    with page.expect_response(lambda r: r.url.endswith(f"/{clash.id}/assign")) as answer:
        page.click("#trip-actions [data-act='assign']")
    assert answer.value.status == 409
    error = page.locator("#trip-error")
    error.wait_for(state="visible")
    assert error.inner_text() == answer.value.json()["detail"]
    _shot(page, "board-conflict")
    clash.refresh_from_db()
    assert (clash.driver_id, clash.status) == (None, "pending")
    page.close()


def test_a_will_call_return_is_released_from_the_board(browser, server, day):
    waiting = BookingFactory(company=day["company"], will_call=True, scheduled_at=day["soon"])
    page = _board(browser, server, day["dispatcher"])
    page.click(f"#waiting [data-ready='{waiting.id}']")
    _until(lambda: Booking.objects.get(pk=waiting.pk).released_at is not None)
    page.wait_for_selector(f"#waiting [data-ready='{waiting.id}']", state="detached")
    page.close()


def test_another_companys_dispatcher_sees_none_of_it(browser, server, day):
    page = _board(browser, server, day["other_dispatcher"])
    page.evaluate("window.seen = []; window.board.positions.length = 0")
    with _driver_socket(server, day["first"]) as ws:
        fix = {"lat": 46.6, "lon": 6.6, "ts": datetime.now(UTC).isoformat()}
        ws.send(json.dumps({"type": "location_batch", "id": 1, "positions": [fix]}))
        assert _next(ws, "ack")["accepted"] == 1
    # The position reached company A's group; give it time to arrive if it wrongly could.
    page.wait_for_timeout(1000)
    assert page.locator(".bar-trip").count() == 0
    assert page.locator(".drv-marker").count() == 0
    assert page.evaluate("window.board.positions.length") == 0
    html = page.content()
    for leak in (str(day["busy"].id), str(day["first"].id), "Alpha Board"):
        assert leak not in html
    _shot(page, "board-other-company")
    page.close()


def test_a_new_trip_is_fitted_in_from_its_proposals(browser, server, day):
    page = _board(browser, server, day["dispatcher"])
    new = day["open"]
    page.click(f".bar-trip[data-booking='{new.id}']")
    insert = page.locator("#insertions [data-insert='0']")
    insert.wait_for()
    cells = page.locator("#insertions tbody tr").first.locator("td").all_inner_texts()
    # driver, stop, pick-up, extra driving, lateness caused
    assert cells[0] and cells[1].isdigit() and ":" in cells[2] and cells[3].endswith(" min")
    _shot(page, "board-insertions")
    with (
        _driver_socket(server, day["first"]) as first,
        _driver_socket(server, day["second"]) as second,
    ):
        with page.expect_response(lambda r: r.url.endswith(f"/{new.id}/insert")) as answer:
            insert.click()
        assert answer.value.status == 200
        chosen = answer.value.json()["insertion"]["driver"]
        ws = first if chosen == str(day["first"].id) else second
        assignment = _next(ws, "assignment")
    assert (assignment["action"], assignment["booking"]["id"]) == ("assigned", str(new.id))
    new.refresh_from_db()
    assert (str(new.driver_id), new.status) == (chosen, "assigned")
    page.wait_for_selector(f".tl-row[data-driver='{chosen}'] [data-booking='{new.id}']")
    page.close()


def test_an_insertion_that_no_longer_fits_shows_the_409_in_place(browser, server, day):
    page = _board(browser, server, day["dispatcher"])
    new = day["open"]
    page.click(f".bar-trip[data-booking='{new.id}']")
    page.locator("#insertions [data-insert='0']").wait_for()
    # Meanwhile someone else cancels it: the insert is refused and the dialog says why.
    Booking.objects.filter(pk=new.pk).update(status="cancelled")
    with page.expect_response(lambda r: r.url.endswith(f"/{new.id}/insert")) as answer:
        page.click("#insertions [data-insert='0']")
    assert answer.value.status == 409
    error = page.locator("#trip-error")
    error.wait_for(state="visible")
    assert error.inner_text() == answer.value.json()["detail"]
    assert Booking.objects.get(pk=new.pk).driver_id is None
    page.close()


def test_a_replan_from_now_shows_its_diff_before_it_is_applied(browser, server, day):
    page = _board(browser, server, day["dispatcher"])
    new = day["open"]
    assert page.inner_text("#run-start") == "Re-plan from now"
    page.select_option("#run-mode", "suggest")
    with page.expect_request(lambda r: r.url.endswith("/api/dispatch/run")) as sent:
        page.click("#run-start")
    assert sent.value.post_data_json["from"] == "now"
    page.wait_for_selector("#run [data-apply]", timeout=120_000)
    summary = page.locator("#run .run-diff p").first.inner_text()
    assert summary.startswith("Re-plan from ") and "newly unassigned" in summary
    # The new trip had no plan: its pick-up change reads "new" before, a time after.
    row = page.locator(f"#run table.diff-pick-up tr:has([data-open='{new.id}'])")
    assert row.locator("td").nth(1).inner_text() == "new"
    assert Booking.objects.get(pk=new.pk).driver_id is None  # nothing changed before Apply
    _shot(page, "board-replan-diff")
    page.click("#run [data-apply]")
    page.wait_for_selector("#run :text('Applied at')")
    _until(lambda: Booking.objects.get(pk=new.pk).driver_id is not None)
    page.close()


def test_lateness_comes_from_the_server_and_follows_late_risk(browser, server, day):
    busy, new = day["busy"], day["open"]
    # The server says `busy` (window hours away) is late and `past` (window over) is on time:
    # the board shows what the server says, not a guess from the clock.
    past = BookingFactory(
        company=day["company"], driver=day["second"], status="assigned",
        scheduled_at=day["soon"] - timedelta(hours=3), lateness="on_time",
    )  # fmt: skip
    Booking.objects.filter(pk=busy.pk).update(
        lateness="late", eta_pickup=day["soon"] + timedelta(minutes=40)
    )
    page = _board(browser, server, day["dispatcher"])
    late = page.locator("#late li")
    assert late.count() == 1 and late.first.get_attribute("class") == "late"
    assert page.locator(f"#late [data-open='{busy.id}']").count() == 1
    bar = page.locator(f".bar-trip[data-booking='{busy.id}']")
    assert "late" in bar.get_attribute("class").split()
    assert bar.inner_text().startswith("ETA ")
    assert (
        "late"
        not in page.locator(f".bar-trip[data-booking='{past.id}']").get_attribute("class").split()
    )
    # A `late_risk` event moves the unassigned trip to at risk, live.
    new.lateness = "at_risk"
    publish(group_for_company_dispatch(day["company"].id), build_late_risk(
        new, previous="on_time", reason="pickup_window", slack_seconds=120,
        eta_pickup=None, eta_dropoff=None,
    ))  # fmt: skip
    page.wait_for_selector(f"#late li.at_risk [data-open='{new.id}']")
    assert (
        "at_risk"
        in page.locator(f".bar-trip[data-booking='{new.id}']").get_attribute("class").split()
    )
    _shot(page, "board-lateness")
    page.close()


def test_a_new_trip_is_created_with_errors_in_place_then_proposed(browser, server, day):
    from places.models import Place
    from tests.factories import ClientFactory

    patient = ClientFactory(company=day["company"], last_name="Zeller")
    Place.objects.create(
        name="Hôpital Test", address="Rue du Test 1, Genève", lat=GENEVA[0], lon=GENEVA[1]
    )
    local = day["soon"].astimezone(day["company"].tz).strftime("%H:%M")
    page = _board(browser, server, day["dispatcher"])
    page.click("#new-trip-box summary")
    page.wait_for_selector(f"#nt-client option[value='{patient.id}']", state="attached")
    page.select_option("#nt-client", str(patient.id))
    page.fill("#nt-to", "Chemin Inconnu 99")  # no geocoder here: 400 coordinates_required
    page.fill("#nt-time", local)
    with page.expect_response(lambda r: r.url.endswith("/api/bookings")) as answer:
        page.click("#nt-submit")
    assert answer.value.status == 400
    error = page.locator("#nt-to + .field-error")
    error.wait_for()
    assert error.inner_text() == answer.value.json()["detail"]
    assert not Booking.objects.filter(client=patient).exists()

    page.fill("#nt-to", "Hôpital Test")
    with page.expect_response(lambda r: r.url.endswith("/api/bookings")) as answer:
        page.click("#nt-submit")
    assert answer.value.status == 201
    created = Booking.objects.get(client=patient)
    assert (created.scheduled_at, created.dropoff_lat) == (day["soon"], GENEVA[0])
    assert page.locator(".field-error").count() == 0
    page.wait_for_selector(f".tl-row[data-lane='unassigned'] [data-booking='{created.id}']")
    # The server's `insertion_proposed` follows: the board says so and offers to open it.
    page.wait_for_selector(f"#flash:has-text('to fit it in') [data-open='{created.id}']")
    page.click(f"#flash [data-open='{created.id}']")
    page.locator("#insertions [data-insert='0']").wait_for()
    _shot(page, "board-new-trip")
    page.close()


def test_an_arrived_driver_shows_its_wait_until_the_no_show_time(browser, server, day):
    now = datetime.now(UTC)
    Booking.objects.filter(pk=day["busy"].pk).update(
        status="arrived", arrived_at=now, no_show_after=now + timedelta(minutes=7, seconds=30)
    )
    page = _board(browser, server, day["dispatcher"])
    bar = page.locator(f".bar-trip[data-booking='{day['busy'].id}']")
    assert "s-arrived" in bar.get_attribute("class").split()
    assert "no-show possible in " in bar.get_attribute("title")
    waiting = page.locator("#arrived li")
    assert waiting.count() == 1
    assert re.search(r"no-show possible in [5-8] min", waiting.inner_text())
    page.close()


def test_a_night_driver_shows_last_nights_tail_and_tonights_start(browser, server, day):
    """Two shifts on today (the one from yesterday evening, the one starting tonight), each
    drawn within the day."""
    company = day["company"]
    night = DriverFactory(company=company, roster=False)
    tz = company.tz
    today = datetime.now(tz).date()
    for date_, start in ((today - timedelta(days=1), 22), (today, 22)):
        begins = datetime.combine(date_, datetime.min.time(), tz).replace(hour=start)
        Shift.objects.create(
            company=company,
            driver=night,
            date=date_,
            start=begins,
            end=begins + timedelta(hours=8),
            vehicle=night.default_vehicle,
        )
    page = _board(browser, server, day["dispatcher"])
    shifts = page.locator(f".tl-row[data-driver='{night.id}'] .tl-shift")
    assert shifts.count() == 2
    head = page.locator(".tl-head").bounding_box()
    for n in range(2):  # within the timeline, not stretched to yesterday or tomorrow
        box = shifts.nth(n).bounding_box()
        assert box["x"] >= head["x"] and box["x"] + box["width"] <= head["x"] + head["width"] + 1
    page.close()
