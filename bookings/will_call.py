"""Will-call returns: a return trip with no time until the clinic says the patient is ready.

A will-call return is created with a placeholder window (`services.booking_will_call_window`)
and `released_at` empty: dispatch runs leave it out and list it as waiting
(`WAITING`, dispatch/selectors.py). Releasing it (`booking_release`: the office through the API
or the admin, or the ward through its ready link) sets the real pick-up window and tells the
office.

The ready link is `/r/<token>`: the token signs the booking's id and `ready_link_version` with
the project's secret key (django.core.signing, its own salt), so it cannot be guessed or
altered; raising the version (`booking_ready_link_revoke`) revokes every link handed out so
far. A link opens its booking until the end of the booking's service day in the company's
zone (`ready_link_booking`); past that, revoked or tampered, it opens nothing (a plain 404).
"""

from __future__ import annotations

import io
import uuid
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal, TypeVar

import segno
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from atmr.accounts.selectors import company_get
from atmr.exceptions import Conflict, DomainError
from atmr.list_cache import lists_changed
from atmr.localtime import format_local
from bookings.errors import BookingNotEditable
from bookings.models import Booking
from bookings.services import booking_check_times
from bookings.transitions import EDITABLE
from realtime.events import build_assignment, build_booking_ready, build_booking_updated
from realtime.groups import group_for_company_dispatch, group_for_driver
from realtime.publish import publish_on_commit

_Row = TypeVar("_Row")

DEFAULT_READY_IN_MINUTES = 15
MAX_READY_IN_MINUTES = 240
# Requests to ready pages per client address and minute: a whole hospital may share one
# address, so generous; the tokens cannot be guessed anyway, this only stops hammering.
PAGE_RATE_PER_MINUTE = 60
_SALT = "bookings.will_call.ready_link"

# Will-call returns that still wait for the clinic: not planned by dispatch runs.
WAITING = Q(will_call=True, released_at__isnull=True)

WillCallState = Literal["waiting", "released", "all"]
ReleasedVia = Literal["office", "link"]


class NotWillCall(Conflict):
    code = "not_will_call"


class WillCallNotYet(Conflict):
    code = "will_call_not_yet"


# --- selectors ------------------------------------------------------------------------------
def will_call_filter(qs: QuerySet[Booking, _Row], state: WillCallState) -> QuerySet[Booking, _Row]:
    """Will-call returns of `qs`: `waiting` (not released, not started or ended), `released`,
    or `all`."""
    qs = qs.filter(will_call=True)
    if state == "waiting":
        return qs.filter(released_at__isnull=True, status__in=list(EDITABLE))
    if state == "released":
        return qs.filter(released_at__isnull=False)
    return qs


def booking_service_day(booking: Booking, tz: tzinfo) -> date:
    """The local day a will-call return belongs to (its link expires at that day's end)."""
    return booking.scheduled_at.astimezone(tz).date()


def initials(client: Any) -> str:
    """ "M. P.": what the ward's page and sheet show of the patient, and nothing more."""
    names = (client.first_name.strip(), client.last_name.strip())
    return " ".join(f"{name[0].upper()}." for name in names if name)


# --- the ready link -------------------------------------------------------------------------
def ready_link_token(*, booking_id: Any, version: int) -> str:
    """The signed token of a booking's ready link: unguessable, and bound to `version`."""
    return signing.Signer(salt=_SALT).sign(f"{uuid.UUID(str(booking_id)).hex}.{version}")


def ready_link_url(*, booking_id: Any, version: int, request: Any = None) -> str:
    """The link, absolute when `request` says which host the caller reached us by."""
    path = reverse(
        "booking-ready-page", args=[ready_link_token(booking_id=booking_id, version=version)]
    )
    return request.build_absolute_uri(path) if request is not None else path


QR_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


def qr_image(link: str, kind: str = "svg") -> bytes:
    """`link` as a QR code to print: SVG (sharp at any size) or PNG."""
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind=kind, scale=8, border=4)
    return out.getvalue()


def ready_link_booking(*, token: str, now: datetime | None = None) -> Booking | None:
    """The will-call return a ready link opens, or None: tampered, revoked (an older version),
    past the end of its service day, or its company suspended."""
    try:
        value = signing.Signer(salt=_SALT).unsign(token)
    except signing.BadSignature:
        return None
    hex_id, _, version = value.partition(".")
    try:
        booking_id = uuid.UUID(hex_id)
    except ValueError:  # only we sign tokens, so never; but a 404 all the same
        return None
    booking = (
        Booking.objects.select_related("company", "client", "return_of")
        .filter(id=booking_id, will_call=True)
        .first()
    )
    if booking is None or str(booking.ready_link_version) != version:
        return None
    tz = booking.company.tz
    today = (now or timezone.now()).astimezone(tz).date()
    if not booking.company.active or today > booking_service_day(booking, tz):
        return None
    return booking


def ready_page_limited(*, client_ip: str) -> bool:
    """Count one ready-page request from `client_ip`; True past `PAGE_RATE_PER_MINUTE`.

    Fails open: with the cache down (it answers 0), pages are served unlimited."""
    key = f"ready-page:{client_ip}"
    cache.add(key, 0, 60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between the two calls
        count = 1
    return count > PAGE_RATE_PER_MINUTE


# --- services -------------------------------------------------------------------------------
@transaction.atomic
def booking_release(
    *,
    booking: Booking,
    in_minutes: int = DEFAULT_READY_IN_MINUTES,
    via: ReleasedVia = "office",
    now: datetime | None = None,
) -> Booking:
    """The patient is ready (in `in_minutes`, 0 to 240): pick up between then and the
    company's will-call window later, and tell the office (`booking_ready`).

    Idempotent: an already released return is returned unchanged, and nothing is sent.
    Locks the booking's row. Refuses (409) a booking that is not a will-call return
    (`not_will_call`), one already under way or ended, and one of a later day
    (`will_call_not_yet`). The window never starts before the placeholder's start (the
    outbound trip's time).
    """
    if not 0 <= in_minutes <= MAX_READY_IN_MINUTES:
        raise DomainError(
            f"Give a delay from 0 to {MAX_READY_IN_MINUTES} minutes.", field="in_minutes"
        )
    locked = Booking.objects.select_for_update(of=("self",)).get(pk=booking.pk)
    _check_releasable(locked)
    if locked.released_at is not None:
        return locked
    company = company_get(company_id=locked.company_id)
    now = now or timezone.now()
    day = booking_service_day(locked, company.tz)
    if now.astimezone(company.tz).date() < day:
        raise WillCallNotYet(
            f"This return is planned for {day.isoformat()}; it can be released on that day."
        )
    start = max(now + timedelta(minutes=in_minutes), locked.pickup_earliest)
    if locked.appointment_at is not None and locked.appointment_at <= start:
        raise DomainError(
            f"The return has an appointment at {format_local(locked.appointment_at, company.tz)}"
            ", before that pick-up: change the booking first.",
            field="in_minutes",
        )
    locked.scheduled_at = locked.pickup_earliest = start
    locked.pickup_latest = start + timedelta(minutes=company.will_call_window_minutes)
    locked.released_at = now
    booking_check_times(booking=locked, fields=("scheduled_at", "pickup_latest"))
    locked.save(
        update_fields=[
            "scheduled_at",
            "pickup_earliest",
            "pickup_latest",
            "released_at",
            "updated_at",
        ]
    )
    group = group_for_company_dispatch(locked.company_id)
    publish_on_commit(group, build_booking_ready(locked, via))
    publish_on_commit(group, build_booking_updated(locked))
    if locked.driver_id:
        publish_on_commit(group_for_driver(locked.driver_id), build_assignment(locked, "changed"))
    else:
        from dispatch.tasks import insertions_on_commit  # dispatch builds on bookings

        insertions_on_commit(locked)
    return locked


def _check_releasable(booking: Booking) -> None:
    if not booking.will_call:
        raise NotWillCall("This booking is not a will-call return: it has a fixed pick-up time.")
    if booking.released_at is None and booking.status not in EDITABLE:
        raise BookingNotEditable(
            f"A {booking.get_status_display().lower()} return cannot be released."
        )


@transaction.atomic
def booking_ready_link_revoke(*, booking: Booking) -> Booking:
    """Revoke every ready link of this will-call return handed out so far; the booking's
    `ready_link` becomes a new one. Refuses (409 `not_will_call`) any other booking."""
    if not booking.will_call:
        raise NotWillCall("This booking is not a will-call return: it has no ready link.")
    now = timezone.now()
    Booking.objects.filter(pk=booking.pk).update(
        ready_link_version=F("ready_link_version") + 1, updated_at=now
    )
    lists_changed(booking.company_id)  # update() sends no signal
    booking.refresh_from_db(fields=["ready_link_version", "updated_at"])
    return booking
