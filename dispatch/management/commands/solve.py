"""`manage.py solve FILE [--time-limit S]`: the engine's CLI inside the Django project."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dispatch.engine import cli


class Command(BaseCommand):
    help = "Solve a dispatch problem given in VROOM's JSON format and print VROOM's output."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        code = cli.run(
            options["file"],
            time_limit_s=options["time_limit"],
            seed=options["seed"],
            indent=options["indent"],
            out=self.stdout,
        )
        if code:
            # cli.run already printed the reason on stderr.
            raise CommandError("solve failed", returncode=code)
