from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from atmr.accounts.models import Company, User
from bookings.models import Booking, Client
from drivers.models import Driver

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_logs_in():
    out = StringIO()
    call_command("seed_demo", "--days", "2", "--bookings-per-day", "20", stdout=out)
    assert "admin@demo.atmr.test" in out.getvalue()
    counts = (Company.objects.count(), Driver.objects.count(), Client.objects.count())
    assert Booking.objects.count() == 40
    call_command("seed_demo", "--days", "2", "--bookings-per-day", "20", stdout=StringIO())
    assert (Company.objects.count(), Driver.objects.count(), Client.objects.count()) == counts
    assert Booking.objects.count() == 40
    admin = User.objects.get(email="admin@demo.atmr.test")
    assert admin.check_password("demo-atmr") and admin.role == "admin" and admin.is_staff
    assert User.objects.get(email="driver1@demo.atmr.test").driver_profile.default_vehicle
    wheelchair_vans = Driver.objects.filter(default_vehicle__wheelchair_places__gte=1).count()
    assert wheelchair_vans >= 5


def test_seed_demo_tops_up_and_changes_password():
    call_command("seed_demo", "--days", "1", "--bookings-per-day", "10", stdout=StringIO())
    call_command(
        "seed_demo",
        "--days",
        "1",
        "--bookings-per-day",
        "15",
        "--password",
        "other-pass",
        stdout=StringIO(),
    )
    assert Booking.objects.count() == 15
    assert User.objects.get(email="dispatcher@demo.atmr.test").check_password("other-pass")


def test_seed_demo_if_empty_leaves_existing_data(company):
    out = StringIO()
    call_command("seed_demo", "--if-empty", stdout=out)
    assert "left as it is" in out.getvalue()
    assert Booking.objects.count() == 0


@pytest.mark.parametrize("args", [["--days", "-1"], ["--bookings-per-day", "many"]])
def test_seed_demo_rejects_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("seed_demo", *args, stdout=StringIO(), stderr=StringIO())


def test_create_company_with_its_admin():
    call_command(
        "create_company",
        "Gamma Care",
        "--admin-email",
        "Boss@Gamma.test",
        "--password",
        "a-strong-pass-123",
        stdout=StringIO(),
    )
    company = Company.objects.get(name="Gamma Care")
    admin = User.objects.get(email="boss@gamma.test")
    assert admin.company == company and admin.role == "admin" and admin.is_staff


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["Alpha Transports", "--admin-email", "a@b.test", "--password", "x-strong-pass-1"],
            "exists",
        ),
        (["New Co", "--admin-email", "not-an-email", "--password", "x-strong-pass-1"], "e-mail"),
        (["New Co", "--admin-email", "a@b.test", "--password", "123"], "password"),
        (
            [
                "New Co",
                "--admin-email",
                "a@b.test",
                "--password",
                "x-strong-pass-1",
                "--timezone",
                "Mars/Olympus",
            ],
            "time zone",
        ),
    ],
)
def test_create_company_refuses_bad_input(args, message, company):
    with pytest.raises(CommandError, match=message):
        call_command("create_company", *args, stdout=StringIO())
    assert Company.objects.count() == 1


def test_create_company_without_password_or_terminal_fails_clearly():
    result = subprocess.run(
        [sys.executable, "manage.py", "create_company", "X", "--admin-email", "x@y.test"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**__import__("os").environ, "DEBUG": "1"},
    )
    assert result.returncode != 0
    assert "--password is required" in result.stderr
