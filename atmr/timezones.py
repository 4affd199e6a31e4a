"""The back-office in local time: each request to the admin runs in one company's time zone.

Django shows and reads every datetime of the admin (lists, change forms, filters, date
hierarchy) in the *active* time zone; this middleware activates it per request:

- company staff: their company's zone (`Company.timezone`), always;
- superusers: the zone they chose with the chooser in the admin header (kept in the session);
  without a choice ("automatic"), one object's pages (change, history, delete) use that
  object's company zone, and every other page the superuser's own company's zone, or
  `DEFAULT_ZONE` (the default of `Company.timezone`).

Only the admin: the API writes UTC whatever zone is active elsewhere, and reads offset-less
input in the caller's company zone itself (`atmr.fields.CompanyDateTimeField`).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from atmr.accounts.models import Company
from atmr.accounts.selectors import company_get

DEFAULT_ZONE = "Europe/Zurich"
SESSION_KEY = "admin_timezone"


@cache
def _admin_prefix() -> str:
    return reverse("admin:index")


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


class CompanyTimezoneMiddleware:
    """Activates the admin's time zone for the request (see the module docstring).

    Must come after AuthenticationMiddleware (it reads `request.user`) and SessionMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        zone = admin_zone(request) if request.path.startswith(_admin_prefix()) else None
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        """Superusers without a chosen zone: one object's pages in that object's company zone."""
        if not request.path.startswith(_admin_prefix()):
            return
        user = getattr(request, "user", None)
        if not (user and user.is_superuser and not request.session.get(SESSION_KEY)):
            return
        model_admin = getattr(view_func, "model_admin", None)
        object_id = view_kwargs.get("object_id")
        if model_admin is None or object_id is None:
            return
        zone = _object_zone(model_admin.model, object_id)
        if zone is not None:
            timezone.activate(zone)


def admin_zone(request: HttpRequest) -> ZoneInfo | None:
    """The zone the admin works in for this request, or None for a visitor (log-in page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return None
    if user.is_superuser:
        chosen = request.session.get(SESSION_KEY)
        if chosen in _zone_names():
            return ZoneInfo(chosen)
    if user.company_id:
        return company_get(company_id=user.company_id).tz
    return ZoneInfo(DEFAULT_ZONE)


def _object_zone(model: type[Model], object_id: str) -> ZoneInfo | None:
    """The time zone of the company owning `model`'s row `object_id`, if it has one."""
    rows: QuerySet[Any, str]  # zone names
    if model is Company:
        rows = Company.objects.filter(pk=object_id).values_list("timezone", flat=True)
    elif any(field.name == "company" for field in model._meta.fields):
        rows = model._default_manager.filter(pk=object_id).values_list(
            "company__timezone", flat=True
        )
    else:
        return None
    try:
        name = rows.first()
    except (ValidationError, ValueError):  # a malformed id: the admin answers it
        return None
    return ZoneInfo(name) if name in _zone_names() else None


@staff_member_required
@require_http_methods(["GET", "POST"])
def admin_timezone_choose(request: HttpRequest) -> HttpResponse:
    """A superuser picks the admin's time zone, or "automatic" (see the module docstring).

    Company staff always work in their company's zone: 403.
    """
    if not request.user.is_superuser:
        raise PermissionDenied
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = _admin_prefix()
    error = ""
    if request.method == "POST":
        chosen = request.POST.get("timezone", "")
        if chosen == "":
            request.session.pop(SESSION_KEY, None)
            return HttpResponseRedirect(next_url)
        if chosen in _zone_names():
            request.session[SESSION_KEY] = chosen
            return HttpResponseRedirect(next_url)
        error = f"{chosen!r} is not a known time zone."
    context = {
        **admin.site.each_context(request),
        "title": "Time zone of the back-office",
        "zones": _zone_names(),
        "chosen": request.session.get(SESSION_KEY, ""),
        "next": next_url,
        "error": error,
    }
    return render(request, "admin/timezone_choose.html", context, status=400 if error else 200)
