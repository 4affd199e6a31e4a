"""ETA bench: drivers' position batches in, stored ETAs out.

    DATABASE_URL=postgres://... REDIS_URL=redis://... \\
        .venv/bin/python bench/eta/run.py [--drivers 2000] [--stops 10] [--every 15] \\
        [--duration 90] [--travel osrm|straight_line] [--osrm-port 8110]

One company, `--drivers` drivers each with `--stops` stops left today (half as many trips,
assigned, in an applied run's routes), each sending a position batch every `--every` seconds
(phases spread evenly). The main thread plays the socket servers' positions writer: it stores
the batches that are due (`drivers.locations.location_batches_store`, as
`realtime/positions.py` does a few ms at a time) and hands the moved drivers to
`dispatch.eta_schedule.etas_positions_schedule`, exactly as the writer does; the minute's beat
(`dispatch.tasks.refresh_etas`) runs too. Without a Celery worker (eager tasks), the ETA work
runs on this process's two ETA threads (coalescing and refreshing), which is what is measured:

- latency: from a batch that made its driver due (the first after 30 s) to that driver's ETAs
  committed (p50 / p95 / p99);
- CPU: the two ETA threads' CPU time over the run, in % of one core (PostgreSQL's, Redis's and
  osrm-routed's own CPU are other processes and not in it).

With `--travel osrm` a local osrm-routed (the synthetic FULL_MAP) is started on
`--osrm-port`. Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL). Bounded: setup, then
`--duration` seconds of load, then a report.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench" / "eta"]
sys.path.insert(0, str(ROOT))

from bench.django_env import django_setup  # noqa: E402

django_setup(".eta_bench.sqlite3")

import psutil  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from atmr.accounts.models import Company, User  # noqa: E402
from bookings.models import Booking, Client  # noqa: E402
from dispatch import eta, eta_schedule  # noqa: E402
from dispatch.local_osrm.synthetic_map import land_points  # noqa: E402
from dispatch.models import DispatchRun  # noqa: E402
from dispatch.tasks import refresh_etas  # noqa: E402
from drivers.locations import DriverBatch, Position, location_batches_store  # noqa: E402
from drivers.models import Driver  # noqa: E402

NAME = "ETA bench"
# Zones tried for the company, so that "today" in it still has the hours the trips need.
ZONES = (
    "Pacific/Kiritimati",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Zurich",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
)
FLUSH_S = 0.02


def pick_zone(now: datetime) -> str:
    """A zone where it is between 05:00 and 12:00: the trips of the day fit before midnight."""
    for name in ZONES:
        if 5 <= now.astimezone(ZoneInfo(name)).hour < 12:
            return name
    return min(ZONES, key=lambda z: abs(now.astimezone(ZoneInfo(z)).hour - 8))


def build(drivers: int, stops: int, seed: int = 3) -> tuple[Company, list[Driver]]:
    old = Company.objects.filter(name=NAME).first()
    if old is not None:
        Booking.objects.filter(company=old).delete()
        DispatchRun.objects.filter(company=old).delete()
        Client.objects.filter(company=old).delete()
        User.objects.filter(company=old).delete()  # and their drivers, positions
        old.delete()
    now = datetime.now(UTC)
    company = Company.objects.create(name=NAME, lat=46.52, lon=6.63, timezone=pick_zone(now))
    rng = random.Random(seed)
    places = land_points(1500, seed=seed)
    users = User.objects.bulk_create(
        User(
            email=f"eta-bench-{i}-{uuid.uuid4().hex[:8]}@example.test",
            company=company,
            role=User.Role.DRIVER,
            password="!",  # noqa: S106 - an unusable password
        )
        for i in range(drivers)
    )
    homes = [rng.choice(places) for _ in range(drivers)]
    fleet = Driver.objects.bulk_create(
        Driver(company=company, user=u, home_lat=h.lat, home_lon=h.lon)
        for u, h in zip(users, homes, strict=True)
    )
    clients = Client.objects.bulk_create(
        Client(company=company, first_name=f"P{i}", last_name="Bench") for i in range(50)
    )
    trips = []
    for d in fleet:
        for k in range(stops // 2):
            start = now + timedelta(minutes=20 + 40 * k)
            a, b = rng.choice(places), rng.choice(places)
            trips.append(
                Booking(
                    company=company,
                    client=rng.choice(clients),
                    driver=d,
                    status=Booking.Status.ASSIGNED,
                    pickup_address="bench",
                    pickup_lat=a.lat,
                    pickup_lon=a.lon,
                    dropoff_address="bench",
                    dropoff_lat=b.lat,
                    dropoff_lon=b.lon,
                    scheduled_at=start,
                    pickup_earliest=start - timedelta(minutes=10),
                    pickup_latest=start + timedelta(minutes=15),
                    appointment_at=start + timedelta(minutes=50),
                )
            )
    Booking.objects.bulk_create(trips, batch_size=2000)
    _applied_run(company, fleet, trips, now)
    return company, fleet


def _applied_run(
    company: Company, fleet: list[Driver], trips: list[Booking], now: datetime
) -> None:
    """The day's plan as a run applied it: each driver's trips one after the other."""
    by_driver: dict[Any, list[Booking]] = {}
    for trip in trips:
        by_driver.setdefault(trip.driver_id, []).append(trip)

    def stop(kind: str, booking: Booking | None, when: datetime, lat: float, lon: float) -> Any:
        moment = when.isoformat()
        return {
            "kind": kind,
            "booking": str(booking.id) if booking else None,
            "arrival": moment,
            "service_start": moment,
            "departure": moment,
            "seats_load": 0,
            "wheelchair_load": 0,
            "lat": lat,
            "lon": lon,
        }

    routes = []
    for d in fleet:
        stops = [stop("start", None, now - timedelta(hours=1), d.home_lat or 0, d.home_lon or 0)]
        for t in by_driver[d.id]:
            stops.append(stop("pickup", t, t.scheduled_at, t.pickup_lat, t.pickup_lon))
            done = t.scheduled_at + timedelta(minutes=30)
            stops.append(stop("dropoff", t, done, t.dropoff_lat, t.dropoff_lon))
        routes.append({"driver": str(d.id), "driver_name": "", "vehicle": "", "stops": stops})
    DispatchRun.objects.create(
        company=company,
        service_date=now.astimezone(company.tz).date(),
        status=DispatchRun.Status.SUCCEEDED,
        routes=routes,
        applied_at=now,
    )


class Probe:
    """Batch-to-stored latency of the batches that made their driver due."""

    def __init__(self) -> None:
        self.last_sent: dict[str, float] = {}
        self.due_sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self.refreshes: list[int] = []
        self.store_s: list[float] = []  # wall time of each refresh's compute and write

    def install(self) -> None:
        enqueue, store = eta_schedule.etas_refresh_enqueue, eta.etas_store

        def enqueue_probe(
            company_id: str, driver_ids: list[str] | None, *, why: str = "change"
        ) -> None:
            for d in driver_ids if why == "position" and driver_ids else ():
                self.due_sent.setdefault(d, self.last_sent[d])
            enqueue(company_id, driver_ids, why=why)

        def store_probe(**kwargs: Any) -> Any:
            began = time.monotonic()
            results = store(**kwargs)
            done = time.monotonic()
            self.refreshes.append(len(results))
            self.store_s.append(done - began)
            for r in results:
                sent = self.due_sent.pop(r.driver_id, None)
                if sent is not None:
                    self.latencies.append(done - sent)
            return results

        eta_schedule.etas_refresh_enqueue = enqueue_probe
        eta.etas_store = store_probe


def eta_threads_cpu() -> float:
    """CPU seconds used so far by the ETA threads (coalescing and refreshing)."""
    ids = {t.native_id for t in threading.enumerate() if t.name.startswith("eta-")}
    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in ids)


def load(
    company: Company, fleet: list[Driver], every: float, duration: float, probe: Probe
) -> dict[str, Any]:
    rng = random.Random(5)
    ids = [str(d.id) for d in fleet]
    company_id = str(company.id)
    start = time.monotonic()
    due = {d: start + every * i / len(ids) for i, d in enumerate(ids)}
    where = {str(d.id): (d.home_lat or 46.5, d.home_lon or 6.6) for d in fleet}
    batches_sent = 0
    next_beat = start + 5.0
    cpu0 = eta_threads_cpu()
    while (now := time.monotonic()) < start + duration:
        if now >= next_beat:
            refresh_etas()  # the beat: queues every company with trips under way
            next_beat += 60.0
        ready = [d for d, t in due.items() if t <= now]
        batches = []
        for d in ready:
            due[d] += every
            lat, lon = where[d]
            lat, lon = lat + rng.uniform(-0.002, 0.002), lon + rng.uniform(-0.002, 0.002)
            where[d] = (lat, lon)
            fix = Position(lat, lon, datetime.now(UTC), speed=10.0)
            batches.append(DriverBatch(company_id, d, [fix]))
            probe.last_sent[d] = now
        if batches:
            results = location_batches_store(batches=batches)
            moved = [
                (b.company_id, b.driver_id)
                for b, r in zip(batches, results, strict=True)
                if isinstance(r, Position)
            ]
            batches_sent += len(batches)
            if moved:
                eta_schedule.etas_positions_schedule(moved)
        time.sleep(max(0.0, FLUSH_S - (time.monotonic() - now)))
    wall = time.monotonic() - start
    # Let the last refreshes land (their latencies count; the CPU share is per load second).
    settle = time.monotonic() + 60
    while time.monotonic() < settle and (eta_schedule._drains or eta_schedule._pending):
        time.sleep(0.1)
    return {"batches": batches_sent, "wall": wall, "cpu": eta_threads_cpu() - cpu0}


def report(args: argparse.Namespace, result: dict[str, Any], probe: Probe) -> None:
    lat = sorted(probe.latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    cpu_share = 100 * result["cpu"] / result["wall"]
    refreshes = probe.refreshes
    print(
        f"travel: {args.travel}; drivers: {args.drivers}; stops left each: {args.stops}; "
        f"a batch every {args.every:g} s; {result['wall']:.0f} s of load"
    )
    print(f"batches stored: {result['batches']} ({result['batches'] / result['wall']:.0f}/s)")
    print(
        f"refreshes: {len(refreshes)} (drivers each: mean "
        f"{statistics.fmean(refreshes or [0]):.1f}, max {max(refreshes or [0])}); "
        f"drivers' ETAs after a due batch: {len(lat)}"
    )
    stores = sorted(probe.store_s) or [0.0]
    print(
        f"one refresh (compute, write, commit): mean {1000 * statistics.fmean(stores):.0f} ms, "
        f"p95 {1000 * stores[int(0.95 * (len(stores) - 1))]:.0f} ms"
    )
    print(
        f"batch -> stored ETAs: p50 {pct(0.5):.0f} ms, p95 {pct(0.95):.0f} ms, "
        f"p99 {pct(0.99):.0f} ms (target p95 < 2000 ms)"
    )
    print(
        f"ETA work CPU: {result['cpu']:.1f} s over {result['wall']:.0f} s = "
        f"{cpu_share:.1f} % of one core (target < 25 %)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drivers", type=int, default=2000)
    parser.add_argument("--stops", type=int, default=10)
    parser.add_argument("--every", type=float, default=15.0)
    parser.add_argument("--duration", type=float, default=90.0)
    parser.add_argument("--travel", choices=["osrm", "straight_line"], default="osrm")
    parser.add_argument("--osrm-port", type=int, default=8110)
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        sys.exit("The ETA bench needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL.")
    server = None
    if args.travel == "osrm":
        from dispatch.local_osrm.server import start_osrm

        server = start_osrm(port=args.osrm_port)
        settings.OSRM_URL = server.url
    else:
        settings.OSRM_URL = ""
    try:
        t0 = time.monotonic()
        company, fleet = build(args.drivers, args.stops)
        # Steady state: the stops' legs are in the travel cache (the day's run asked for them).
        eta.company_etas_refresh(company_id=company.id)
        print(f"setup {time.monotonic() - t0:.0f} s (trips and a first refresh of every driver)")
        probe = Probe()
        probe.install()
        result = load(company, fleet, args.every, args.duration, probe)
        report(args, result, probe)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
