from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atmr.accounts.services import company_create
from atmr.exceptions import DomainError


class Command(BaseCommand):
    help = "Create a company (tenant) and its first company admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The company's name.")
        parser.add_argument("--admin-email", required=True, help="The first admin's e-mail.")
        parser.add_argument("--password", help="The admin's password (asked for when omitted).")
        parser.add_argument("--timezone", default="Europe/Zurich")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"]
        if password is None:
            if not sys.stdin.isatty():
                raise CommandError("--password is required when there is no terminal to ask.")
            password = getpass.getpass("Password for the company admin: ")
            if password != getpass.getpass("Again: "):
                raise CommandError("The passwords differ.")
        try:
            company = company_create(
                name=options["name"],
                admin_email=options["admin_email"],
                admin_password=password,
                timezone=options["timezone"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field or 'error'}: {exc.detail}") from exc
        except Exception as exc:  # model validation: bad time zone and the like
            if hasattr(exc, "message_dict"):
                raise CommandError(str(exc.message_dict)) from exc
            raise
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {company.name} ({company.id}); admin {options['admin_email']}."
            )
        )
