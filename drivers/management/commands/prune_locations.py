"""`manage.py prune_locations --older-than 30d`: drop old days of positions (batches on SQLite)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from drivers.locations import PRUNE_BATCH_SIZE, location_prune

_AGE = re.compile(r"^(\d{1,5})([dh])$")
_UNITS = {"d": "days", "h": "hours"}


def parse_age(value: str) -> timedelta:
    """`30d` or `12h` as a timedelta; anything else is a CommandError saying why."""
    match = _AGE.match(value.strip().lower())
    if not match:
        raise CommandError(
            f"--older-than {value!r}: use a whole number of days or hours, like 30d or 12h."
        )
    amount, unit = int(match.group(1)), match.group(2)
    if amount == 0:
        raise CommandError(f"--older-than {value!r}: must be more than zero.")
    return timedelta(**{_UNITS[unit]: amount})


class Command(BaseCommand):
    help = (
        "Remove driver positions recorded longer ago than --older-than: whole day partitions "
        "on PostgreSQL, bounded batches on SQLite."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", default="30d", help="Age like 30d or 12h.")
        parser.add_argument("--batch-size", type=int, default=PRUNE_BATCH_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        age = parse_age(options["older_than"])
        if not 1 <= options["batch_size"] <= 100_000:
            raise CommandError("--batch-size must be between 1 and 100000.")
        pruned = location_prune(older_than=age, batch_size=options["batch_size"])
        self.stdout.write(
            f"Dropped {pruned.days} days and deleted {pruned.rows} positions older than "
            f"{options['older_than']}."
        )
