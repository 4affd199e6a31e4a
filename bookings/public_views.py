"""The clinic's "patient ready" page, opened from a ready link without a log-in.

It shows what the ward needs to recognise the trip and nothing personal: the patient's
initials, where and when the outbound trip took them, and one button that releases the
return through the same service as the API (`bookings.will_call.booking_release`). A link
that is tampered, revoked or past its day is a plain 404, like any unknown page. Requests are
counted per client address (through the cache, which fails open).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from atmr.accounts.throttles import client_ip
from atmr.exceptions import DomainError
from atmr.localtime import format_local
from bookings import will_call
from bookings.models import Booking
from bookings.transitions import EDITABLE

DELAYS = [(0, "now"), (15, "in 15 minutes"), (30, "in 30 minutes"), (45, "in 45 minutes")]
DELAYS += [(60, "in 1 hour"), (90, "in 1 hour 30"), (120, "in 2 hours")]


class ReadyForm(forms.Form):
    in_minutes = forms.TypedChoiceField(
        choices=DELAYS, coerce=int, initial=0, label="The patient is ready"
    )


@never_cache
@require_http_methods(["GET", "POST"])
def ready_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the trip and the button; POST (CSRF-protected) releases the return."""
    if will_call.ready_page_limited(client_ip=client_ip(request)):
        return HttpResponse(
            "Too many requests; try again in a minute.",
            status=429,
            content_type="text/plain; charset=utf-8",
            headers={"Retry-After": "60"},
        )
    booking = will_call.ready_link_booking(token=token)
    if booking is None:
        raise Http404
    form = ReadyForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                will_call.booking_release(
                    booking=booking, in_minutes=form.cleaned_data["in_minutes"], via="link"
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = exc.http_status
            else:
                return redirect(request.path)  # a reload must not post again
        else:
            status = 400
    response = render(request, "public/ready.html", _context(booking, form), status=status)
    response["Referrer-Policy"] = "no-referrer"  # the link is the key: never pass it on
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _context(booking: Booking, form: ReadyForm) -> dict[str, Any]:
    booking.refresh_from_db()  # after a refused release, show what is stored now
    tz = booking.company.tz
    outbound = booking.return_of
    client = booking.client
    return {
        "company": booking.company.name,
        "company_phone": booking.company.phone,
        "initials": will_call.initials(client),
        "destination": outbound.dropoff_address if outbound else booking.pickup_address,
        "outbound_at": format_local(
            outbound.scheduled_at if outbound else booking.scheduled_at, tz, with_date=True
        ),
        "released_at": format_local(booking.released_at, tz, with_date=True)
        if booking.released_at
        else None,
        "window": f"{format_local(booking.pickup_earliest, tz)}–"
        f"{format_local(booking.pickup_latest, tz)}",
        "closed": booking.released_at is None and booking.status not in EDITABLE,
        "status": booking.get_status_display().lower(),
        "form": form,
    }
