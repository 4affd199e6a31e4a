"""The issue's "Done when" demo of the live day, measured (bounded: --max-seconds).

On the demo company (seed_demo; PostgreSQL and Redis: DATABASE_URL, REDIS_URL; DEBUG=1 for
the demo clock): a dispatch run (auto, from now) at simulated 06:00, then simulate_day's
phones from 06:00 to --until at --speed, the in-process server on the demo clock, with two
delays chosen the same way every run, each long enough to make its trip late: a driver stuck
in traffic (the first pick-up from --traffic-from reached by a drive of 10 minutes or more:
that drive takes the window's slack + 8 minutes longer) and a patient not ready (the first
pick-up of another driver from --not-ready-from: the patient boards the slack + 8 minutes
late). Meanwhile an office listener on the real channel layer records `eta_updated`,
`late_risk` and `insertion_proposed`; at --release-at a will-call return is released (latency
to its `insertion_proposed`), at --replan-at a re-plan from now is suggested (its diff).

Each delay's latency runs from the message after which the trip's ETA is past its window's end
(the phones record every batch and status they send, `Summary.sent`: a position batch whose
last fix, at that moment, puts the pick-up's ETA past the window's end by the server's own
travel times; for a driver waiting at the door, the first message sent once now is past it) to
the `late_risk` `late` the office socket receives.

    DEBUG=1 DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/live_day_demo.py \\
        --speed 60 --until 10:00
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
    parser.add_argument("--until", default="10:00")
    parser.add_argument("--release-at", default="07:00,09:00")
    parser.add_argument("--replan-at", default="08:30")
    parser.add_argument("--traffic-from", default="07:00")
    parser.add_argument("--not-ready-from", default="07:30")
    parser.add_argument("--max-seconds", type=int, default=900)
    args = parser.parse_args()
    django_setup("live_day_demo.sqlite3")
    from django.core.management import call_command
    from django.db import close_old_connections
    from django.utils import timezone

    from atmr.accounts.models import Company
    from atmr.demo import DEMO_COMPANY
    from bookings.models import Booking
    from bookings.will_call import booking_release
    from dispatch import execution, insertion, services
    from dispatch.models import DispatchRun
    from dispatch.simulator import simulate, simulation_prepare
    from dispatch.simulator.day import day_load
    from dispatch.simulator.democlock import demo_clock, demo_clock_active
    from realtime.groups import group_for_company_dispatch

    if not Company.objects.filter(name=DEMO_COMPANY).exists():
        call_command("seed_demo", days=1)
    company = Company.objects.get(name=DEMO_COMPANY)
    day = timezone.now().astimezone(company.tz).date()

    def at(hhmm: str) -> datetime:
        return datetime.combine(day, dtime.fromisoformat(hhmm), tzinfo=company.tz)

    start, until = at("06:00"), at(args.until)
    replan_at = at(args.replan_at)
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
    days, _ = day_load(company=company, day=day)
    chosen = delays_pick(days, at(args.traffic_from), at(args.not_ready_from))
    setup = simulation_prepare(
        company=company,
        day=day,
        delays=0,
        seed=0,
        start=start,
        until=until,
        explicit_delays=[c[0] for c in chosen],
    )
    release_times = [at(t) for t in args.release_at.split(",")]
    returns = [
        _will_call_return(company, day, at("09:30"), skip=i) for i in range(len(release_times))
    ]
    actions: dict[str, Any] = {"releases": [], "proposal_s": []}
    # The proposals' own time inside each release (the call also commits and publishes).
    propose = insertion.booking_insertions

    def timed_insertions(**kwargs: Any) -> Any:
        began = time.monotonic()
        try:
            return propose(**kwargs)
        finally:
            actions["proposal_s"].append(time.monotonic() - began)

    insertion.booking_insertions = timed_insertions
    plan = sorted(
        [(t, "release", r) for t, r in zip(release_times, returns, strict=True)]
        + [(replan_at, "replan", None)],
        key=lambda item: item[0],
    )

    def act() -> None:
        """At each simulated --release-at a will-call return is released; at --replan-at a
        re-plan from now is suggested."""
        try:
            while not demo_clock_active() and not office.stop.is_set():
                time.sleep(0.02)
            for moment, what, booking_id in plan:
                while timezone.now() < moment and not office.stop.is_set():
                    time.sleep(0.05)
                if office.stop.is_set():
                    return
                if what == "release":
                    ret = Booking.objects.filter(id=booking_id or uuid.uuid4()).first()
                    if ret is None:
                        continue
                    sim, real = timezone.now(), time.monotonic()
                    booking_release(booking=ret, in_minutes=15)
                    actions["releases"].append((str(ret.id), sim, real, time.monotonic() - real))
                    continue
                t0, began_sim = time.monotonic(), timezone.now()
                suggest = services.run_start(
                    company=company, service_date=day, mode="suggest", enqueue=False, from_now=True
                )
                suggest = execution.run_execute(str(suggest.id))
                suggest.refresh_from_db()
                actions["replan"] = (suggest, time.monotonic() - t0, began_sim)
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
    report(args, setup, summary, office.events, actions, company, chosen)


def delays_pick(days: list[Any], traffic_from: datetime, not_ready_from: datetime) -> list[Any]:
    """Two delays, the same every run on the same plan, each long enough to make its trip
    late: (Delay, the pick-up's stop, its window's end, the driver's day). Traffic: the first
    pick-up from `traffic_from` reached by a drive of 10 minutes or more; not ready: the
    first pick-up of another driver from `not_ready_from`. Each lasts the window's slack
    (its end minus the planned pick-up) + 8 minutes."""
    from bookings.models import Booking
    from dispatch.simulator.script import NOT_READY, TRAFFIC, Delay

    pickups = sorted(
        (stop.service_start, stop.booking, stop, day)
        for day in days
        for stop in day.stops
        if stop.kind == "pickup" and stop.booking and stop.service_start is not None
    )
    latest = dict(
        Booking.objects.filter(id__in=[b for _, b, _, _ in pickups]).values_list(
            "id", "pickup_latest"
        )
    )
    chosen: list[Any] = []
    for kind, after in ((TRAFFIC, traffic_from), (NOT_READY, not_ready_from)):
        taken = {c[3].driver_id for c in chosen}
        for begin, booking, stop, day in pickups:
            drive = stop.planned_leg_s or 0
            if begin < after or day.driver_id in taken or (kind == TRAFFIC and drive < 600):
                continue
            end = latest[uuid.UUID(booking)]
            minutes = int((end - begin).total_seconds() // 60) + 8
            chosen.append((Delay(booking, kind, minutes), stop, end, day))
            break
    return chosen


def crossing(sent: list[Any], email: str, booking: str, stop: Any, end: datetime) -> Any:
    """The first message `email`'s phone sent after which `booking`'s pick-up ETA is past
    `end`: a batch whose last fix + the server's travel time to the pick-up lands after it,
    or, once the driver is `arrived` (the patient boards no earlier than now), the first
    message sent after `end`. None when it never was."""
    from dispatch.engine.geo import Location
    from dispatch.travel import travel_pairs_provider

    provider, arrived = travel_pairs_provider(), False
    for message in sent:
        if message.email != email:
            continue
        if message.booking == booking and message.kind in ("on_board", "no_show"):
            return None
        arrived = arrived or (message.booking == booking and message.kind == "arrived")
        if arrived:
            if message.sim > end:
                return message
            continue
        if message.kind == "positions" and message.where is not None:
            points = [Location(*message.where), stop.location]
            leg = provider.pairs(points, [(0, 1)]).seconds[0, 1]
            if message.sim + timedelta(seconds=leg) > end:
                return message
    return None


def _will_call_return(company: Any, day: Any, after: datetime, skip: int = 0) -> str | None:
    """A will-call return not yet released (the seed books none): the way back of the first
    trip after `after` (the `skip`+1-th), waiting for its patient, unassigned."""

    from bookings.models import Booking
    from bookings.services import booking_will_call_window

    rows = list(
        Booking.objects.filter(company=company, scheduled_at__gte=after, will_call=False)
        .filter(scheduled_at__date=day)
        .order_by("scheduled_at")[skip : skip + 1]
    )
    if not rows:
        return None
    src = rows[0]
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


def report(args, setup, summary, events, actions, company, chosen) -> None:
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
    from drivers.models import Driver

    names = {
        str(d.id): f"{d.user.full_name} ({d.user.email.split('@')[0]})"
        for d in Driver.objects.filter(company=company).select_related("user")
    }
    print(
        "eta_updated per driver: "
        + ", ".join(
            f"{names.get(d, d[:8])} {len(u)}"
            for d, u in sorted(per_driver.items(), key=lambda kv: -len(kv[1]))
        )
    )
    print("delays → late_risk `late` on the office socket (real seconds):")
    for delay, stop, end, day in chosen:
        steps = [
            st
            for sc in setup.scripts
            for st in sc.steps
            if st.delay and sc.day.driver_id == day.driver_id
        ]
        began = f"{steps[0].at.astimezone(tz):%H:%M}" if steps else "?"
        trip = day.labels.get(delay.booking, "")
        label = f"{began} {day.name}: {delay.kind} {delay.minutes} min on {trip}"
        flags = [
            (real, sim, body)
            for real, sim, body in events
            if body["type"] == "late_risk" and body["booking"]["id"] == delay.booking
        ]
        late = next(((r, sm, b) for r, sm, b in flags if b["lateness"] == "late"), None)
        risk = next(((r, sm, b) for r, sm, b in flags if b["lateness"] == "at_risk"), None)
        data = crossing(summary.sent, day.email, delay.booking, stop, end)
        print(f"  {label}; window ends {end.astimezone(tz):%H:%M}")
        if risk:
            print(
                f"    at_risk ({risk[2]['reason']}, slack {risk[2]['slack_seconds']} s) at "
                f"simulated {risk[1].astimezone(tz):%H:%M:%S}"
            )
        if late is None or data is None:
            print(f"    no late_risk `late` received (crossing message: {data})")
            continue
        real, sim, body = late
        source = data
        if real < data.real:  # a refresh in between crossed on the clock alone
            source = max(
                (m for m in summary.sent if m.email == day.email and m.real <= real),
                key=lambda m: m.real,
            )
        print(
            f"    crossing data: {source.kind} sent at simulated "
            f"{source.sim.astimezone(tz):%H:%M:%S}"
            f" → late_risk late (slack {body['slack_seconds']} s, {body['reason']}) at "
            f"{sim.astimezone(tz):%H:%M:%S}: latency {real - source.real:.2f} s real"
        )
    for (released, sim, real, call), computed in itertools.zip_longest(
        actions["releases"], actions["proposal_s"]
    ):
        got = [
            r
            for r, _, body in events
            if body["type"] == "insertion_proposed" and body["booking"]["id"] == released
        ]
        lat = f"{(got[0] - real) * 1000:.0f} ms" if got else "none received"
        print(
            f"will-call return released at {sim.astimezone(tz):%H:%M}: insertion_proposed "
            f"after {lat} (real, from the release call), the call {call * 1000:.0f} ms, of "
            f"which the proposals {computed * 1000 if computed else 0:.0f} ms"
        )
    if not actions["releases"]:
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
        shifted = [c for c in changes if abs(c.get("change_seconds") or 0) >= 300]
        print(f"  pick-ups planned 5 min or more from before: {len(shifted)}")
        labels = {
            b: f"{d.labels.get(b, b[:8])}"
            for sc in setup.scripts
            for b in sc.day.labels
            for d in [sc.day]
        }
        for move in moved:
            print(
                f"  moved {labels.get(move['booking'], move['booking'][:8])}: "
                f"{names.get(move['from_driver'], '?')} → {names.get(move['to_driver'], '?')}"
            )
    if "error" in actions:
        print(f"actions error: {actions['error']}")
    for error in summary.errors[:5]:
        print(f"  error: {error}")


if __name__ == "__main__":
    main()
