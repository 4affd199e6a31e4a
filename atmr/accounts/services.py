"""Every write to companies and users."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from atmr.accounts.models import Company, User
from atmr.exceptions import DomainError

# One answer for an address taken in the caller's company or in any other: e-mails are unique
# across the deployment, and telling "exists elsewhere" apart would reveal another tenant's
# staff and patients' drivers to whoever probes the create forms.
EMAIL_UNAVAILABLE = "This e-mail address cannot be used; choose another one."


class EmailUnavailable(DomainError):
    code = "email_unavailable"


def user_email_check_available(*, email: str, field: str = "email") -> str:
    """The normalized address, or EmailUnavailable (same words whoever holds it)."""
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise EmailUnavailable(EMAIL_UNAVAILABLE, field=field)
    return email


@transaction.atomic
def company_create(*, name: str, admin_email: str, admin_password: str, **fields: Any) -> Company:
    """A new tenant with its first company admin (who may log into the back-office).

    The standard reason codes come with it (bookings/signals.py, on any company's creation).
    """
    name = name.strip()
    email = admin_email.strip().lower()
    if not name:
        raise DomainError("The company needs a name.", field="name")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError(f"{email!r} is not an e-mail address.", field="admin_email") from exc
    if Company.objects.filter(name__iexact=name).exists():
        raise DomainError(f"A company named {name!r} exists already.", field="name")
    if User.objects.filter(email=email).exists():
        raise DomainError(f"A user {email} exists already.", field="admin_email")
    try:
        validate_password(admin_password)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from exc
    company = Company(name=name, **fields)
    company.full_clean()
    company.save()
    User.objects.create_user(
        email, admin_password, company=company, role=User.Role.ADMIN, is_staff=True
    )
    return company
