from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from atmr.accounts.models import Company
from atmr.demo import ADMIN_EMAIL, DISPATCHER_EMAIL, driver_email, seed_demo


def _positive(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Build (or top up) the demo company 'Demo Transports' around Lausanne–Geneva."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password", default="demo-atmr", help="Password of every demo log-in."
        )
        parser.add_argument(
            "--days", type=_positive, default=3, help="Days from today (default 3)."
        )
        parser.add_argument(
            "--bookings-per-day",
            type=_positive,
            default=120,
            help="Bookings each day (default 120).",
        )
        parser.add_argument(
            "--completed-days",
            type=_positive,
            default=0,
            help="Also book (where missing) and complete the trips of the last N days, priced "
            "for billing (default 0).",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when any company exists already."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["completed_days"] > 366:
            raise CommandError("--completed-days is at most 366.")
        if options["days"] > 3660 or options["bookings_per_day"] > 100_000:
            raise CommandError("--days is at most 3660 and --bookings-per-day at most 100000.")
        if len(options["password"]) < 6:
            raise CommandError("--password needs at least 6 characters.")
        if options["if_empty"] and Company.objects.exists():
            self.stdout.write("Companies exist already; demo data left as it is.")
            return
        today = timezone.localdate(timezone=ZoneInfo("Europe/Zurich"))
        past = options["completed_days"]
        summary = seed_demo(
            password=options["password"],
            days=options["days"] + past,
            bookings_per_day=options["bookings_per_day"],
            start=today - timedelta(days=past),
            progress=lambda days: tqdm(days, desc="days", unit="day", disable=None),
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary.company.name}: {summary.drivers} drivers, {summary.clients} clients, "
                f"{summary.bookings_created} new bookings over {len(summary.days)} day(s)."
            )
        )
        if past:
            self._complete(summary.company, today - timedelta(days=past), today - timedelta(days=1))
        self.stdout.write(
            f"Log-ins (password {options['password']!r}): {ADMIN_EMAIL} (company admin), "
            f"{DISPATCHER_EMAIL} (dispatcher), {driver_email(1)} … {driver_email(summary.drivers)}"
            " (drivers)."
        )

    def _complete(self, company: Company, first: date, last: date) -> None:
        from billing.demo import demo_billing_seed, demo_trips_complete

        demo_billing_seed(company=company)
        done = demo_trips_complete(company=company, first=first, last=last)
        self.stdout.write(
            f"{first:%Y-%m-%d} to {last:%Y-%m-%d}: {done.completed} trips completed, "
            f"{done.no_shows} no-shows, {done.skipped} left open (priced for billing)."
        )
