"""The issue's "Done when" demo of the live day, measured (bounded: --max-seconds).

On the demo company (seed_demo; PostgreSQL and Redis: DATABASE_URL, REDIS_URL; DEBUG=1 for
the demo clock): a dispatch run (auto, from now) at simulated 06:00, then simulate_day's
phones from 06:00 to --until at --speed with --delays and --seed, the in-process server on the
demo clock. Meanwhile an office listener on the real channel layer records `eta_updated`,
`late_risk` and `insertion_proposed`; at --release-at a will-call return is released (latency
to its `insertion_proposed`), at --replan-at a re-plan from now is suggested (its diff).

    DEBUG=1 DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/live_day_demo.py \\
        --speed 60 --until 08:00 --seed 3
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.django_env import django_setup


class Office:
    """The office group's events over the real channel layer: (real monotonic, sim now, body)."""

    def __init__(self, group: str) -> None:
        self.group, self.events = group, []  # type: ignore[var-annotated]
        self.stop, self.ready = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)

    async def _listen(self) -> None:
        from channels.layers import get_channel_layer
        from django.utils import timezone

        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        self.ready.set()
        while not self.stop.is_set():
            try:
                message = await asyncio.wait_for(layer.receive(channel), 0.5)
            except TimeoutError:
                continue
            body = message.get("event", message)
            if body.get("type") in ("eta_updated", "late_risk", "insertion_proposed"):
                self.events.append((time.monotonic(), timezone.now(), body))
        await layer.group_discard(self.group, channel)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--until", default="08:00")
    parser.add_argument("--release-at", default="07:00")
    parser.add_argument("--replan-at", default="07:30")
    parser.add_argument("--delays", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--max-seconds", type=int, default=600)
    args = parser.parse_args()
    django_setup("live_day_demo.sqlite3")
    from django.core.management import call_command
    from django.db import close_old_connections
    from django.utils import timezone

    from atmr.accounts.models import Company
    from atmr.demo import DEMO_COMPANY
    from bookings.models import Booking
    from bookings.will_call import booking_release
    from dispatch import execution, services
    from dispatch.models import DispatchRun
    from dispatch.simulator import simulate, simulation_prepare
    from dispatch.simulator.democlock import demo_clock, demo_clock_active
    from realtime.groups import group_for_company_dispatch

    if not Company.objects.filter(name=DEMO_COMPANY).exists():
        call_command("seed_demo", days=1)
    company = Company.objects.get(name=DEMO_COMPANY)
    day = timezone.now().astimezone(company.tz).date()

    def at(hhmm: str) -> datetime:
        return datetime.combine(day, dtime.fromisoformat(hhmm), tzinfo=company.tz)

    start, until = at("06:00"), at(args.until)
    release_at, replan_at = at(args.release_at), at(args.replan_at)
    DispatchRun.objects.filter(company=company, service_date=day, applied_at__isnull=True).exclude(
        status__in=["succeeded", "failed"]
    ).update(status="failed", error="superseded by live_day_demo")
    began = time.monotonic()
    with demo_clock(start, args.speed):  # standing at 06:00: the morning's run
        run = services.run_start(
            company=company, service_date=day, mode="auto", enqueue=False, from_now=True
        )
        run = execution.run_execute(str(run.id))
        run.refresh_from_db()
    print(
        f"06:00 run {run.status}: {run.bookings_count} trips, {run.drivers_count} drivers, "
        f"{time.monotonic() - began:.1f} s"
    )
    setup = simulation_prepare(
        company=company, day=day, delays=args.delays, seed=args.seed, start=start, until=until
    )
    will_call_return = _will_call_return(company, day, at("09:30"))
    delayed = [(s, step) for s in setup.scripts for step in s.steps if step.delay]
    actions: dict[str, Any] = {}

    def act() -> None:
        """At simulated --release-at a will-call return is released; at --replan-at a
        re-plan from now is suggested."""
        try:
            while not demo_clock_active() and not office.stop.is_set():
                time.sleep(0.02)
            while timezone.now() < release_at and not office.stop.is_set():
                time.sleep(0.05)
            ret = Booking.objects.filter(id=will_call_return or uuid.uuid4()).first()
            if ret is not None:
                actions["release_sim"] = timezone.now()
                actions["release_real"] = time.monotonic()
                booking_release(booking=ret, in_minutes=15)
                actions["release_booking"] = str(ret.id)
            while timezone.now() < replan_at and not office.stop.is_set():
                time.sleep(0.05)
            t0 = time.monotonic()
            suggest = services.run_start(
                company=company, service_date=day, mode="suggest", enqueue=False, from_now=True
            )
            suggest = execution.run_execute(str(suggest.id))
            suggest.refresh_from_db()
            actions["replan"] = (suggest, time.monotonic() - t0, timezone.now())
        except Exception as exc:  # reported, the day plays on
            actions["error"] = repr(exc)
        finally:
            close_old_connections()

    office = Office(group_for_company_dispatch(company.id))
    office.thread.start()
    office.ready.wait(10)
    actor = threading.Thread(target=act, daemon=True)
    log: list[str] = []
    actor.start()
    summary = simulate(
        setup,
        company=company,
        speed=args.speed,
        until=until,
        max_seconds=args.max_seconds,
        password="demo-atmr",  # noqa: S106  # the demo's drivers
        url=None,
        log=log.append,
    )
    office.stop.set()
    actor.join(120)
    office.thread.join(10)
    report(args, setup, summary, office.events, delayed, actions, company)


def _will_call_return(company: Any, day: Any, after: datetime) -> str | None:
    """A will-call return not yet released (the seed books none): the way back of the first
    trip after `after`, waiting for its patient, unassigned."""

    from bookings.models import Booking
    from bookings.services import booking_will_call_window

    src = (
        Booking.objects.filter(company=company, scheduled_at__gte=after, will_call=False)
        .filter(scheduled_at__date=day)
        .order_by("scheduled_at")
        .first()
    )
    if src is None:
        return None
    back = Booking.objects.get(pk=src.pk)
    back.pk, back._state.adding = uuid.uuid4(), True
    for a, b in (("pickup", "dropoff"),):
        for part in ("lat", "lon", "address"):
            one, two = f"{a}_{part}", f"{b}_{part}"
            if hasattr(back, one) and hasattr(back, two):
                x, y = getattr(back, one), getattr(back, two)
                setattr(back, one, y)
                setattr(back, two, x)
    back.scheduled_at, back.pickup_earliest, back.pickup_latest = booking_will_call_window(
        company=company, after=src.scheduled_at + timedelta(hours=1)
    )
    back.appointment_at, back.driver, back.vehicle = None, None, None
    back.will_call, back.released_at, back.status = True, None, Booking.Status.PENDING
    back.save()
    return str(back.id)


def report(args, setup, summary, events, delayed, actions, company) -> None:
    tz = company.tz
    kinds = Counter(body["type"] for _, _, body in events)
    per_driver: dict[str, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
    for real, _, body in events:
        if body["type"] == "eta_updated":
            per_driver[body["driver_id"]].append((real, body))
    moving, gaps, from_position = 0, [], 0
    for updates in per_driver.values():
        firsts = {u["stops"][0]["eta"] for _, u in updates if u["stops"]}
        moving += len(firsts) > 1
        from_position += sum(u.get("start") == "position" for _, u in updates)
        gaps += [b[0] - a[0] for a, b in itertools.pairwise(updates)]
    print(
        f"\nsimulated 06:00 → {args.until} at ×{args.speed:g}: {summary.stopped}, "
        f"{summary.real_seconds:.0f} s real, {summary.positions} positions, "
        f"statuses {dict(summary.statuses)}, errors {len(summary.errors)}"
    )
    print(f"office events: {dict(kinds)}")
    counts = [len(u) for u in per_driver.values()]
    print(
        f"ETAs follow drivers: {len(per_driver)} drivers got eta_updated "
        f"(per driver min {min(counts, default=0)}, median "
        f"{statistics.median(counts) if counts else 0}), first-stop ETA moved for {moving}; "
        f"{from_position} of {sum(counts)} from the driver's position; real seconds between a "
        f"driver's updates: median {statistics.median(gaps) if gaps else 0:.1f}"
    )
    print("delay → late_risk (first late_risk on the delayed trip or a later trip of its driver):")
    for script, step in delayed:
        mine = {s.booking for s in script.steps if s.booking}
        hits = [
            (sim, body)
            for _, sim, body in events
            if body["type"] == "late_risk"
            and body["lateness"] in ("at_risk", "late")
            and body["booking"]["id"] in mine
            and sim >= step.at
        ]
        if hits:
            sim, body = hits[0]
            lag = (sim - step.at).total_seconds()
            print(
                f"  {step.at.astimezone(tz):%H:%M} {script.day.name}: {step.text} → "
                f"{body['lateness']} ({body['reason']}, slack {body['slack_seconds']} s) after "
                f"{lag / 60:.1f} simulated min = {lag / args.speed:.2f} s real"
            )
        else:
            print(f"  {step.at.astimezone(tz):%H:%M} {script.day.name}: {step.text} → no late_risk")
    released = actions.get("release_booking")
    if released:
        got = [
            real
            for real, _, body in events
            if body["type"] == "insertion_proposed" and body["booking"]["id"] == released
        ]
        lat = f"{(got[0] - actions['release_real']) * 1000:.0f} ms" if got else "none received"
        print(
            f"will-call return released at {actions['release_sim'].astimezone(tz):%H:%M}: "
            f"insertion_proposed after {lat} (real, release call included)"
        )
    else:
        print("will-call return: none left to release")
    if "replan" in actions:
        run, seconds, sim = actions["replan"]
        diff = run.diff or {}
        moved = diff.get("moved", [])
        changes = diff.get("eta_changes", diff.get("changes", []))
        dropped = diff.get("unassigned", [])
        print(
            f"re-plan from now at {sim.astimezone(tz):%H:%M} (suggest): {run.status} in "
            f"{seconds:.1f} s, {run.bookings_count} trips; moved {len(moved)}, "
            f"time changes {len(changes)}, newly unassigned {len(dropped)}; diff keys "
            f"{sorted(diff)}"
        )
    if "error" in actions:
        print(f"actions error: {actions['error']}")
    for error in summary.errors[:5]:
        print(f"  error: {error}")


if __name__ == "__main__":
    main()
