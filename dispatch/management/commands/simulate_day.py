from __future__ import annotations

import argparse
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.accounts.selectors import company_find
from atmr.demo import DEMO_COMPANY
from dispatch.simulator import SimulationSetup, simulate, simulation_prepare
from dispatch.simulator.democlock import DemoClockRefused

MAX_SPEED = 3600.0  # an hour a second; faster and a phone's fixes are kilometres apart
MAX_DELAYS = 100
MAX_SECONDS = 24 * 3600


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _speed(value: str) -> float:
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.1 <= speed <= MAX_SPEED:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{value} is outside 0.1..{MAX_SPEED:g}")
    return speed


def _bounded_int(low: int, high: int) -> Any:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is outside {low}..{high}")
        return number

    return parse


def _clock(value: str) -> time | str:
    if value == "now":
        return value
    try:
        return time.fromisoformat(value) if len(value) == 5 else _bad_clock(value)
    except ValueError:
        return _bad_clock(value)


def _hhmm(value: str) -> time:
    found = _clock(value)
    if not isinstance(found, time):
        raise argparse.ArgumentTypeError(f"{value!r} is not a time of day (HH:MM)")
    return found


def _bad_clock(value: str) -> time:
    raise argparse.ArgumentTypeError(f"{value!r} is not a time of day (HH:MM)")


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a server address like http://host:8000")
    return f"{parts.scheme}://{parts.netloc}"


class Command(BaseCommand):
    help = (
        "Drive a company's day (the applied dispatch plan, else the assigned trips by time) with "
        "simulated driver phones over the real API and sockets, in accelerated time, with "
        "delays injected at random. Ctrl-C stops it cleanly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", type=_day, metavar="YYYY-MM-DD", help="The day (default: today in its zone)."
        )
        parser.add_argument(
            "--speed", type=_speed, default=60.0, help="Simulated seconds per real second (60)."
        )
        parser.add_argument(
            "--delays",
            type=_bounded_int(0, MAX_DELAYS),
            default=2,
            help="Delays to inject at random: traffic, a patient not ready, a no-show (2).",
        )
        parser.add_argument(
            "--seed", type=_bounded_int(0, 2**31), default=1, help="Picks the delays (1)."
        )
        parser.add_argument(
            "--from",
            dest="start",
            type=_clock,
            metavar="HH:MM|now",
            help="HH:MM or 'now': simulated start; earlier statuses are sent at once "
            "(default: when the first driver sets off).",
        )
        parser.add_argument(
            "--until", type=_hhmm, metavar="HH:MM", help="HH:MM: stop at this simulated time."
        )
        parser.add_argument(
            "--max-seconds",
            type=_bounded_int(1, MAX_SECONDS),
            default=600,
            help="Stop after this many real seconds (600).",
        )
        parser.add_argument(
            "--url",
            type=_url,
            help="A running server (http://127.0.0.1:8000) on the same database; default: "
            "one started in this process on a free loopback port.",
        )
        parser.add_argument(
            "--real-clock",
            action="store_true",
            help="Keep the in-process server in real time (default: its clock follows the "
            "simulated time, so ETAs and lateness are meaningful at any speed). A server at "
            "--url always keeps its own time.",
        )
        parser.add_argument(
            "--company", default=DEMO_COMPANY, help=f"Id or exact name ({DEMO_COMPANY!r})."
        )
        parser.add_argument(
            "--password", default="demo-atmr", help="The drivers' password (the demo's)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = self._company(options["company"])
        today = timezone.now().astimezone(company.tz).date()
        day = options["date"] or today
        if day != today:
            raise CommandError(
                f"--date: {day} is not today ({today} in {company.tz}); the server takes trip "
                "statuses on the trip's day only, so only today can be simulated."
            )
        start = self._moment(options["start"], day, company, "--from")
        until = self._moment(options["until"], day, company, "--until")
        try:
            setup = simulation_prepare(
                company=company,
                day=day,
                delays=options["delays"],
                seed=options["seed"],
                start=start,
                until=until,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if until is not None and until <= setup.start:
            raise CommandError(
                f"--until: {until.astimezone(company.tz):%H:%M} is not after the start "
                f"({setup.start.astimezone(company.tz):%H:%M})."
            )
        self._intro(setup, company, options)
        try:
            summary = simulate(
                setup,
                company=company,
                speed=options["speed"],
                until=until,
                max_seconds=options["max_seconds"],
                password=options["password"],
                url=options["url"],
                log=self.stdout.write,
                demo_clock_on=not options["real_clock"],
            )
        except DemoClockRefused as exc:
            raise CommandError(f"{exc} Use --real-clock or DEBUG=1.") from exc
        except ConnectionError as exc:
            raise CommandError(f"--url: {exc}") from exc
        self.stdout.write("")
        for line in summary.lines(company.tz):
            self.stdout.write(line)

    def _company(self, key: str) -> Company:
        found = company_find(key=key)
        if found is None:
            hint = " (python manage.py seed_demo creates it)" if key == DEMO_COMPANY else ""
            raise CommandError(f"--company: no company with id or name {key!r}{hint}.")
        return found

    def _moment(
        self, value: time | str | None, day: date, company: Company, option: str
    ) -> datetime | None:
        if value is None:
            return None
        if value == "now":
            return timezone.now()
        assert isinstance(value, time)
        return datetime.combine(day, value, tzinfo=company.tz)

    def _intro(self, setup: SimulationSetup, company: Company, options: dict[str, Any]) -> None:
        plan = f"applied run {setup.run_id}" if setup.run_id else "assigned trips by time"
        if options["url"] or options["real_clock"]:
            clock = "The server keeps real time (ETAs and lateness meaningful at ×1 only)."
        else:
            clock = "The in-process server's clock follows the simulated time (demo clock)."
        self.stdout.write(
            f"{company.name}, {len(setup.scripts)} drivers ({plan}), {len(setup.delays)} delays, "
            f"from {setup.start.astimezone(company.tz):%H:%M} at ×{options['speed']:g}, "
            f"routes: {setup.router}. {clock}"
        )
