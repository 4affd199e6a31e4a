"""Reason codes: why a trip was cancelled or not made, one editable list per company.

Every company starts with the standard list (`STANDARD`: seeded when the company is created,
bookings/signals.py, and for companies that predate codes by migration 0006). Company admins
add their own, rename, reorder and deactivate them; a code in use is never deleted.

Two doors, one rule each:
- people (API, admin, the driver's phone) choose with `reason_code_choose`: an active code of
  their company that fits the cancellation or no-show, never a system code;
- services record any code of the booking's company that fits (`reason_code_get` by code),
  system codes included: `series_ended` is how a standing order that ends cancels its trips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from atmr.exceptions import DomainError
from bookings.models import ReasonCode

Kind = ReasonCode.Kind

# Codes the services fall back on: a cancellation without a code (internal callers), a no-show
# reported without one, a standing order that ends.
OTHER = "other"
NO_SHOW = "no_show"
SERIES_ENDED = "series_ended"


@dataclass(frozen=True)
class StandardCode:
    code: str
    label: str
    kind: str
    ordering: int
    system: bool = False


STANDARD: tuple[StandardCode, ...] = (
    StandardCode("patient_cancelled", "Patient cancelled", Kind.CANCELLATION, 10),
    StandardCode("facility_cancelled", "Facility cancelled", Kind.CANCELLATION, 20),
    StandardCode(NO_SHOW, "No-show", Kind.NO_SHOW, 30),
    StandardCode("patient_hospitalised", "Patient hospitalised", Kind.BOTH, 40),
    StandardCode("weather", "Weather", Kind.CANCELLATION, 50),
    StandardCode("vehicle_breakdown", "Vehicle breakdown", Kind.CANCELLATION, 60),
    StandardCode(OTHER, "Other", Kind.BOTH, 90),
    StandardCode(SERIES_ENDED, "Standing order ended", Kind.CANCELLATION, 100, system=True),
)
_STANDARD_BY_CODE = {standard.code: standard for standard in STANDARD}
_KIND_WORDS: dict[str, str] = {Kind.CANCELLATION: "a cancellation", Kind.NO_SHOW: "a no-show"}


class ReasonCodeInvalid(DomainError):
    code = "invalid_reason_code"


def _standard_row(company_id: Any, standard: StandardCode) -> ReasonCode:
    return ReasonCode(
        company_id=company_id,
        code=standard.code,
        label=standard.label,
        kind=standard.kind,
        ordering=standard.ordering,
        system=standard.system,
    )


# --- writes -----------------------------------------------------------------------------------
def reason_codes_seed(*, company_id: Any) -> None:
    """Give the company every standard code it lacks. Idempotent; edited codes stay edited."""
    ReasonCode.objects.bulk_create(
        [_standard_row(company_id, standard) for standard in STANDARD], ignore_conflicts=True
    )


def _check_unique(company_id: Any, code: str) -> None:
    if ReasonCode.objects.filter(company_id=company_id, code=code).exists():
        raise ReasonCodeInvalid(f"The company has a reason code {code!r} already.", field="code")


@transaction.atomic
def reason_code_create(
    *,
    company_id: Any,
    code: str,
    label: str,
    kind: str = Kind.BOTH,
    active: bool = True,
    ordering: int = 100,
) -> ReasonCode:
    """A company's own code. Its `code` is fixed from now on: exports and filters use it."""
    code = code.strip().lower()
    _check_unique(company_id, code)
    reason = ReasonCode(
        company_id=company_id,
        code=code,
        label=label.strip(),
        kind=kind,
        active=active,
        ordering=ordering,
    )
    reason.full_clean()
    try:
        with transaction.atomic():
            reason.save()
    except IntegrityError:  # the same code added at the same moment
        raise ReasonCodeInvalid(
            f"The company has a reason code {code!r} already.", field="code"
        ) from None
    return reason


# A system code keeps what the system relies on: its kind, and being in use.
_SYSTEM_FIXED = ("kind", "active")
# The services' fallbacks must keep fitting what they fall back for.
_FALLBACK_FITS = {OTHER: Kind.CANCELLATION, NO_SHOW: Kind.NO_SHOW}


def reason_code_check_changes(*, reason: ReasonCode, changes: dict[str, Any]) -> None:
    """Raise ReasonCodeInvalid naming the field when `changes` may not be made to `reason`
    (the API and the admin's form both ask before saving)."""
    if "code" in changes and changes["code"] != reason.code:
        raise ReasonCodeInvalid(
            "A code's name is fixed once created (exports and filters use it); deactivate "
            "it and add another.",
            field="code",
        )
    if reason.system:
        for name in _SYSTEM_FIXED:
            if name in changes and changes[name] != getattr(reason, name):
                raise ReasonCodeInvalid(
                    f"{reason.label!r} is set by the system only: its {name} is fixed.",
                    field=name,
                )
    needed = _FALLBACK_FITS.get(reason.code)
    if needed and changes.get("kind", reason.kind) not in (needed, Kind.BOTH):
        raise ReasonCodeInvalid(
            f"{reason.label!r} is recorded when no code is given for {_KIND_WORDS[needed]}: "
            "it must stay a reason for one.",
            field="kind",
        )


@transaction.atomic
def reason_code_update(*, reason: ReasonCode, changes: dict[str, Any]) -> ReasonCode:
    """Rename, reorder, change the kind or (de)activate a code. The `code` never changes."""
    reason_code_check_changes(reason=reason, changes=changes)
    fields = [name for name in ("label", "kind", "active", "ordering") if name in changes]
    for name in fields:
        value = changes[name]
        setattr(reason, name, value.strip() if name == "label" else value)
    reason.full_clean()
    reason.save(update_fields=[*fields, "updated_at"])
    return reason


# --- reads --------------------------------------------------------------------------------
def reason_code_list(
    *, company_id: Any, kind: str | None = None, active: bool | None = None
) -> QuerySet[ReasonCode]:
    """The company's codes in their order. `kind` keeps the codes that fit it: a
    cancellation's or a no-show's (their own and `both`), or both (`both` only)."""
    qs = ReasonCode.objects.filter(company_id=company_id)
    if kind is not None:
        qs = qs.filter(Q(kind=kind) | Q(kind=Kind.BOTH))  # `both`: the same filter, one term
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("ordering", "label", "id")


def reason_code_choices(*, company_ids: list[Any], kind: str) -> list[tuple[str, str]]:
    """(code, label) a person may choose for `kind` in any of these companies, each code once,
    in order (the admin's bulk cancel: each booking then takes its own company's code)."""
    rows = (
        ReasonCode.objects.filter(company_id__in=company_ids, active=True, system=False)
        .filter(Q(kind=kind) | Q(kind=Kind.BOTH))
        .order_by("ordering", "label", "code")
        .values_list("code", "label")
    )
    first: dict[str, str] = {}
    for code, label in rows:
        first.setdefault(code, label)
    return list(first.items())


def _lookup(company_id: Any, value: str | UUID) -> ReasonCode | None:
    """By id (a UUID) or by code, in the company only: another company's is unknown."""
    qs = ReasonCode.objects.filter(company_id=company_id)
    if isinstance(value, UUID):
        return qs.filter(id=value).first()
    if "\x00" in value or len(value) > 100:  # never a code; PostgreSQL refuses NUL in text
        return None
    try:
        return qs.filter(id=UUID(value)).first()
    except ValueError:
        return qs.filter(code=value.strip().lower()).first()


def reason_code_get(*, company_id: Any, code: str) -> ReasonCode:
    """The company's code named `code`, system codes included (for services).

    A standard code the company lacks (deleted by a superuser) is put back: the services' own
    fallbacks (`other`, `no_show`, `series_ended`) always exist.
    """
    reason = _lookup(company_id, code)
    if reason is None and code in _STANDARD_BY_CODE:
        reason_codes_seed(company_id=company_id)
        reason = _lookup(company_id, code)
    if reason is None:
        raise ReasonCodeInvalid(f"Unknown reason code {code!r}.", field="code")
    return reason


def reason_code_choose(
    *, company_id: Any, value: str | UUID, kind: str, field: str = "code"
) -> ReasonCode:
    """The code a person chose (by id or by code) for `kind` (cancellation or no_show).

    Refused, naming `field`: unknown in the company (another company's included), inactive,
    a system code, or one that does not fit `kind`.
    """
    if isinstance(value, str) and not value.strip():
        raise ReasonCodeInvalid("Choose a reason code.", field=field)
    reason = _lookup(company_id, value)
    if reason is None or reason.system:
        raise ReasonCodeInvalid(f"Unknown reason code {str(value)[:60]!r}.", field=field)
    if not reason.active:
        raise ReasonCodeInvalid(f"The reason code {reason.code!r} is not in use.", field=field)
    reason_code_check_fits(reason=reason, kind=kind, field=field)
    return reason


def reason_code_check_fits(*, reason: ReasonCode, kind: str, field: str = "code") -> None:
    if not reason.fits(kind):
        raise ReasonCodeInvalid(
            f"{reason.label!r} is not a reason for {_KIND_WORDS.get(kind, kind)}.", field=field
        )
