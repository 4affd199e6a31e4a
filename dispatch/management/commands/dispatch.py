from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atmr.accounts.models import Company
from atmr.accounts.selectors import company_find
from atmr.exceptions import DomainError
from dispatch import execution, services
from dispatch.models import DispatchRun


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(value) from None


class Command(BaseCommand):
    help = "Dispatch a company's day now (in this process) and print a summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, help="Company id (UUID) or exact name.")
        parser.add_argument("--date", required=True, type=_day, help="YYYY-MM-DD")
        parser.add_argument("--mode", choices=DispatchRun.Mode.values, default="auto")
        parser.add_argument(
            "--from-now",
            action="store_true",
            help="Re-plan today from now (required for today): what is under way stays.",
        )

    def _company(self, key: str) -> Company:
        found = company_find(key=key)
        if found is None:
            raise CommandError(f"--company: no company with id or name {key!r}.")
        return found

    def handle(self, *args: Any, **options: Any) -> None:
        company = self._company(options["company"])
        try:
            run = services.run_start(
                company=company,
                service_date=options["date"],
                mode=options["mode"],
                enqueue=False,
                from_now=options["from_now"],
            )
        except DomainError as exc:
            active = f" (run {exc.extra['run']})" if exc.extra.get("run") else ""
            raise CommandError(f"{exc.detail}{active}") from exc
        run = execution.run_execute(
            str(run.id), progress=lambda line: self.stdout.write(f"  {line}")
        )
        run.refresh_from_db()
        self._summary(run)
        if run.status == DispatchRun.Status.FAILED:
            raise CommandError(f"Run {run.id} failed: {run.error}")

    def _summary(self, run: DispatchRun) -> None:
        rows = [
            ("run", str(run.id)),
            ("status", run.status),
            ("bookings / drivers", f"{run.bookings_count} / {run.drivers_count}"),
            ("assigned / unassigned", f"{run.assigned_count} / {run.unassigned_count}"),
            ("skipped (changed meanwhile)", str(len(run.skipped))),
            ("drive time", f"{run.drive_seconds // 60} min"),
            ("distance", f"{run.distance_metres / 1000:.1f} km"),
            ("travel times", f"{run.travel_source}, {run.fallback_share:.0%} estimated"),
            (
                "phases (ms)",
                f"load {run.load_ms}, matrix {run.matrix_ms}, solve {run.solve_ms}, "
                f"save {run.save_ms}",
            ),
        ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            self.stdout.write(f"{key.ljust(width)}  {value}")
        reasons: dict[str, int] = {}
        for item in run.unassigned:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        for reason, count in sorted(reasons.items()):
            self.stdout.write(f"{'unassigned: ' + reason:<{width}}  {count}")
        if run.from_now:
            diff = run.diff or {}
            for m in diff.get("moved", []):
                self.stdout.write(f"moved {m['booking']}: {m['from_driver']} -> {m['to_driver']}")
            for d in diff.get("unassigned", []):
                self.stdout.write(f"no place any more {d['booking']} (had {d['driver']})")
