"""Every write to drivers and vehicles."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from atmr.accounts.models import Company, User
from atmr.accounts.services import EMAIL_UNAVAILABLE, EmailUnavailable, user_email_check_available
from atmr.exceptions import DomainError, NotFound
from drivers.models import Driver, Vehicle
from drivers.rosters import roster_seed


def _check_vehicle(company: Company, vehicle: Vehicle | None) -> None:
    if vehicle is not None and vehicle.company_id != company.id:
        raise NotFound("Unknown vehicle.", field="default_vehicle")


@transaction.atomic
def vehicle_create(*, company: Company, **fields: Any) -> Vehicle:
    vehicle = Vehicle(company=company, **fields)
    vehicle.full_clean()
    vehicle.save()
    return vehicle


@transaction.atomic
def driver_create(
    *,
    company: Company,
    email: str,
    first_name: str,
    last_name: str,
    password: str | None = None,
    **fields: Any,
) -> Driver:
    """Create the driver's log-in (role driver) and its driver record together."""
    _check_vehicle(company, fields.get("default_vehicle"))
    email = user_email_check_available(email=email)
    try:
        with transaction.atomic():  # a concurrent create of the same address loses here
            user = User.objects.create_user(
                email,
                password,
                first_name=first_name,
                last_name=last_name,
                company=company,
                role=User.Role.DRIVER,
            )
    except IntegrityError:
        raise EmailUnavailable(EMAIL_UNAVAILABLE, field="email") from None
    driver = Driver(company=company, user=user, **fields)
    driver.full_clean()
    try:
        driver.save()
    except IntegrityError as exc:
        raise DomainError("The driver could not be saved.", detail_db=str(exc)) from exc
    roster_seed(driver=driver)  # the shift given, every weekday, until the office sets a week
    return driver


@transaction.atomic
def driver_update(*, driver: Driver, changes: dict[str, Any]) -> Driver:
    _check_vehicle(driver.company, changes.get("default_vehicle"))
    user_fields = {k: changes.pop(k) for k in ("first_name", "last_name") if k in changes}
    for name, value in user_fields.items():
        setattr(driver.user, name, value)
    if user_fields:
        driver.user.save(update_fields=list(user_fields))
    for name, value in changes.items():
        setattr(driver, name, value)
    driver.full_clean(exclude=["user"])
    driver.save(update_fields=[*changes, "updated_at"])
    return driver
