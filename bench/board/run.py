"""The dispatch board bench: a day of 400 trips and 60 drivers, measured in Debian's chromium.

Figures: Lighthouse performance and accessibility (lighthouse@12.2.3 from this folder's
package.json, desktop preset: a dispatcher's screen), the board's first meaningful render (the
`board-rendered` performance mark: data loaded and map, timeline and lists drawn, from the
start of navigation), the time from a `driver_position` frame's arrival to the frame that drew
it (`pos-*` measures), and the weight of the page's JavaScript and CSS as served compressed.

Production-shaped: DEBUG off, static files collected with WhiteNoise's compressed manifest
storage, uvicorn serving HTTP and sockets on one loopback port, no map tiles (offline).

    cd bench/board && npm ci && cd ../..
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/atmr_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        CHROME_PATH=/usr/bin/chromium .venv/bin/python bench/board/run.py --port 8140

It builds (and rebuilds on every run) its own company "Board Bench" in DATABASE_URL, which must
be PostgreSQL (the server is another process); writes bench/results/board-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
os.environ.pop("ATMR_TESTING", None)  # the production storage: compressed, hashed files
os.environ.setdefault("DEBUG", "0")

from bench.django_env import django_setup  # noqa: E402

django_setup("unused.sqlite3")

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from atmr.accounts.models import Company, User  # noqa: E402
from atmr.accounts.tokens import refresh_token_for  # noqa: E402
from bookings.models import Booking, Client  # noqa: E402
from drivers.models import Driver, Vehicle  # noqa: E402
from drivers.rosters import RosterEntryInput, roster_set  # noqa: E402

COMPANY = "Board Bench"


def _noon_zone() -> str:
    """A zone where it is now about noon, so that the bench's day is under way whenever it
    runs: some trips done or late, most ahead (as board/tests/test_browser.py does)."""
    offset = 12 - datetime.now(UTC).hour  # hours east of UTC; Etc/GMT signs are reversed
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}" if offset else "Etc/GMT"


ZONE = _noon_zone()
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]  # fmt: skip
# What the page loads besides itself (board/templates/board/board.html).
ASSETS = [
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet/leaflet.css",
    "board/board.css",
    "board/board.js",
    "board/api.js",
    "board/time.js",
    "board/map.js",
    "board/timeline.js",
]
CENTRE = (46.52, 6.63)


def build_day(trips: int, drivers: int, day: date) -> tuple[User, list[Driver]]:
    """The bench company from scratch: drivers on shift 07:00-19:00 with a position, trips
    spread over the day (two in three assigned), one staff dispatcher."""
    for old in Company.objects.filter(name=COMPANY):
        # Protected references first (trips hold clients and drivers; users hold the company).
        for model in (Booking, Driver, Client, Vehicle, User):
            model.objects.filter(company=old).delete()
        old.delete()
    company = Company.objects.create(name=COMPANY, timezone=ZONE, lat=CENTRE[0], lon=CENTRE[1])
    rng = random.Random(13)
    dispatcher = User.objects.create_user(
        email="dispatcher@board-bench.test", password=None, company=company,
        role=User.Role.DISPATCHER, is_staff=True, first_name="Bench",
    )  # fmt: skip
    crew = []
    for n in range(drivers):
        user = User.objects.create_user(
            email=f"driver{n}@board-bench.test", password=None, company=company,
            role=User.Role.DRIVER, first_name=f"Driver{n}", last_name=rng.choice("ABCDEFGH"),
        )  # fmt: skip
        vehicle = Vehicle.objects.create(company=company, plate=f"BB {n:04d}", seats=4)
        driver = Driver.objects.create(
            company=company, user=user, default_vehicle=vehicle, phone="+41 79 000 00 00",
            home_lat=CENTRE[0], home_lon=CENTRE[1], last_lat=CENTRE[0] + rng.uniform(-0.2, 0.2),
            last_lon=CENTRE[1] + rng.uniform(-0.3, 0.3), last_seen_at=timezone.now(),
        )  # fmt: skip
        week = [RosterEntryInput(weekday=d, start=clock(7), end=clock(19)) for d in range(1, 8)]
        roster_set(driver=driver, entries=week)
        crew.append(driver)
    clients = Client.objects.bulk_create(
        Client(company=company, first_name=f"Patient{n}", last_name="Bench", phone=f"+41 21 {n}",
               address="Rue du Lac 5, Lausanne", lat=CENTRE[0], lon=CENTRE[1])
        for n in range(trips)
    )  # fmt: skip
    start = timezone.make_aware(datetime.combine(day, clock(7)), company.tz)
    now = timezone.now()

    def status(driver: Driver | None, at: datetime) -> str:
        if driver is None:
            return "pending"
        return "completed" if at < now - timedelta(hours=1) else "assigned"

    rows = []
    for n in range(trips):
        at = start + timedelta(minutes=rng.randrange(0, 11 * 60, 5))
        assigned: Driver | None = crew[n % drivers] if n % 3 else None
        pick = (CENTRE[0] + rng.uniform(-0.2, 0.2), CENTRE[1] + rng.uniform(-0.3, 0.3))
        drop = (CENTRE[0] + rng.uniform(-0.2, 0.2), CENTRE[1] + rng.uniform(-0.3, 0.3))
        rows.append(Booking(
            company=company, client=clients[n], status=status(assigned, at),
            driver=assigned, vehicle=assigned.default_vehicle if assigned else None,
            pickup_address=f"Pick-up {n}", pickup_lat=pick[0], pickup_lon=pick[1],
            dropoff_address=f"Drop-off {n}", dropoff_lat=drop[0], dropoff_lon=drop[1],
            scheduled_at=at, pickup_earliest=at - timedelta(minutes=10),
            pickup_latest=at + timedelta(minutes=15), passengers=1,
        ))  # fmt: skip
    Booking.objects.bulk_create(rows)
    return dispatcher, crew


def session_cookie(user: User) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    assert session.session_key is not None
    return session.session_key


@contextmanager
def server(port: int) -> Iterator[str]:
    env = {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1", "SECURE_COOKIES": "0",
           "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0", "MAP_TILES_URL": ""}  # fmt: skip
    with tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False) as log_file:
        log = Path(log_file.name)
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "atmr.asgi:application", "--host=127.0.0.1",
             f"--port={port}", "--lifespan=off", "--no-access-log", "--log-level=warning",
             "--ws-max-size=65536", "--ws-per-message-deflate=false"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start within 60 s") from None
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.unlink(missing_ok=True)


def lighthouse(url: str, cookie: str, runs: int) -> list[dict[str, float]]:
    binary = HERE / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        raise SystemExit("Install Lighthouse first: cd bench/board && npm ci")
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "report.json"
            headers = Path(tmp) / "headers.json"
            headers.write_text(json.dumps({"Cookie": f"sessionid={cookie}"}))
            subprocess.run(
                [str(binary), url, "--preset=desktop", "--quiet",
                 "--only-categories=performance,accessibility", "--output=json",
                 f"--output-path={out}", f"--extra-headers={headers}",
                 f"--chrome-flags=--headless=new {' '.join(CHROME_FLAGS)}"],
                check=True, env={**os.environ, "CHROME_PATH": CHROMIUM}, timeout=300,
            )  # fmt: skip
            report = json.loads(out.read_text())
        final = report.get("finalDisplayedUrl") or report.get("finalUrl")
        if final != url:  # e.g. sent to the log-in page: the figures would be of that page
            raise SystemExit(f"Lighthouse measured {final}, not {url}")
        audits, cats = report["audits"], report["categories"]
        results.append({
            "performance": cats["performance"]["score"] * 100,
            "accessibility": cats["accessibility"]["score"] * 100,
            "fcp_ms": audits["first-contentful-paint"]["numericValue"],
            "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
            "tbt_ms": audits["total-blocking-time"]["numericValue"],
            "cls": audits["cumulative-layout-shift"]["numericValue"],
        })  # fmt: skip
    return results


async def _send_positions(host: str, tokens: list[str], rounds: int, every_s: float) -> None:
    from websockets.asyncio.client import connect

    sockets = [
        await connect(
            f"ws://{host}/ws/driver/", additional_headers={"Authorization": f"Bearer {t}"}
        )
        for t in tokens
    ]
    try:
        for n in range(rounds):
            for i, ws in enumerate(sockets):
                fix = {"lat": CENTRE[0] + n / 1000, "lon": CENTRE[1] + i / 100,
                       "ts": datetime.now(UTC).isoformat()}  # fmt: skip
                await ws.send(json.dumps({"type": "location_batch", "positions": [fix]}))
            await asyncio.sleep(every_s)
        await asyncio.sleep(1.0)
    finally:
        for ws in sockets:
            await ws.close()


def browser_timings(host: str, cookie: str, crew: list[Driver], loads: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    tokens = [str(refresh_token_for(d.user).access_token) for d in crew[:20]]
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_FLAGS)
        context = chromium.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": f"http://{host}/"}])
        renders = []
        problems: list[str] = []

        def failed(response: Any) -> None:
            if response.status >= 400:
                problems.append(f"{response.status} {response.url}")

        context.on("response", failed)
        for _ in range(loads):
            page = context.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"http://{host}/board/")
            try:
                page.wait_for_selector("#board[data-ready='1']", timeout=60_000)
            except Exception:
                flash = page.url
                raise SystemExit(f"the board did not load: {problems} {flash}") from None
            renders.append(page.evaluate(
                "performance.getEntriesByName('board-rendered')[0].startTime"))  # fmt: skip
            page.close()
        page = context.new_page()
        page.goto(f"http://{host}/board/")
        page.wait_for_selector("#conn.live", timeout=60_000)
        bars = page.locator(".bar-trip").count()
        sender = threading.Thread(
            target=asyncio.run, args=(_send_positions(host, tokens, 25, 0.4),)
        )
        sender.start()
        while sender.is_alive():
            page.wait_for_timeout(200)  # keeps the page's event loop turning meanwhile
        draws = page.evaluate("window.board.positions")
        small_png(page.screenshot(), ROOT / "docs" / "board.png")
        chromium.close()
    return {"renders": renders, "draws": draws, "bars": bars}


def small_png(png: bytes, path: Path) -> None:
    """The README's screenshot, in 128 colours when Pillow is there (a quarter of the bytes)."""
    try:
        from PIL import Image
    except ImportError:
        path.write_bytes(png)
        return
    import io

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
    image.save(path, optimize=True)


def weight() -> dict[str, int]:
    """Bytes of each asset gzipped (WhiteNoise serves the .gz, or brotli when smaller)."""
    sizes = {}
    for name in ASSETS:
        raw = (Path(settings.STATIC_ROOT) / name).read_bytes()
        sizes[name] = len(gzip.compress(raw, 9))
    return sizes


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8140)
    parser.add_argument("--trips", type=int, default=400)
    parser.add_argument("--drivers", type=int, default=60)
    parser.add_argument("--lighthouse-runs", type=int, default=3)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to PostgreSQL: the server runs in another process.")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    today = timezone.now().astimezone(Company(timezone=ZONE).tz).date()
    dispatcher, crew = build_day(args.trips, args.drivers, today)
    cookie = session_cookie(dispatcher)
    with server(args.port) as host:
        url = f"http://{host}/board/"
        scores = lighthouse(url, cookie, args.lighthouse_runs)
        timings = browser_timings(host, cookie, crew, args.loads)
    sizes = weight()
    report(args, scores, timings, sizes)


def report(
    args: Any, scores: list[dict[str, float]], timings: dict[str, Any], sizes: dict[str, int]
) -> None:
    median = {k: statistics.median(s[k] for s in scores) for k in scores[0]}
    draws = timings["draws"] or [float("nan")]
    each = ", ".join(f"{s['performance']:.0f}" for s in scores)
    lines = [
        f"# Dispatch board bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{args.trips} trips, {args.drivers} drivers; DEBUG off, uvicorn on loopback, "
        f"load average {os.getloadavg()[0]:.1f}.",
        "",
        "| Figure | Value |",
        "|---|---|",
        f"| Lighthouse performance (desktop, median of {len(scores)}) | "
        f"{median['performance']:.0f} ({each}) |",
        f"| Lighthouse accessibility | {median['accessibility']:.0f} |",
        f"| FCP / LCP / TBT / CLS (Lighthouse, median) | {median['fcp_ms']:.0f} ms / "
        f"{median['lcp_ms']:.0f} ms / {median['tbt_ms']:.0f} ms / {median['cls']:.3f} |",
        f"| First meaningful render (`board-rendered`, median of {len(timings['renders'])}) | "
        f"{statistics.median(timings['renders']):.0f} ms (max {max(timings['renders']):.0f}) |",
        f"| Trip bars drawn | {timings['bars']} |",
        f"| Position arrival → drawn ({len(timings['draws'])} events) | p50 "
        f"{pct(draws, 0.5):.1f} ms, p95 {pct(draws, 0.95):.1f} ms, max {max(draws):.1f} ms |",
        f"| JS + CSS gzipped | {sum(sizes.values()) / 1024:.1f} KB |",
        "",
        "| Asset | gzipped bytes |",
        "|---|---|",
        *(f"| {name} | {size} |" for name, size in sizes.items()),
    ]
    text = "\n".join(lines) + "\n"
    out = ROOT / "bench" / "results" / f"board-{datetime.now(UTC):%Y-%m-%d}.md"
    out.write_text(text)
    print(text)
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
