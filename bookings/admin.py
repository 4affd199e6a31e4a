"""The back-office for clients and bookings.

Every booking change goes through the services the API uses (`bookings.services`,
`dispatch.manual.booking_assign_checked`): the same rules, the same conflict check, the same
events to drivers and dispatchers. A refusal is shown as a form error and nothing is saved.
"""

from __future__ import annotations

from typing import Any

import segno
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from atmr.accounts.selectors import company_get
from atmr.admin_scoping import CompanyScopedAdmin
from atmr.exceptions import DomainError
from atmr.localtime import format_local
from bookings import services, will_call
from bookings.models import Booking, Client
from bookings.transitions import ALLOWED, EDITABLE, FINAL
from dispatch.manual import booking_assign_checked


@admin.register(Client)
class ClientAdmin(CompanyScopedAdmin):
    list_display = ["last_name", "first_name", "phone", "address", "mobility", "company"]
    list_filter = ["mobility"]
    list_select_related = ["company"]
    search_fields = ["last_name", "first_name", "phone", "address"]


S = Booking.Status
PICKUP = ["pickup_address", "pickup_lat", "pickup_lon"]
DROPOFF = ["dropoff_address", "dropoff_lat", "dropoff_lon"]
TIMES = ["scheduled_at", "pickup_earliest", "pickup_latest", "appointment_at"]
TRIP = ["passengers", "mobility", "urgent", "price", "notes"]
PLAN = [*PICKUP, *DROPOFF, *TIMES, *TRIP]
PLACES = {"pickup": PICKUP, "dropoff": DROPOFF}
# Reached by choosing or clearing the driver, never by picking the status.
DRIVER_STATUSES = frozenset({S.PENDING, S.ASSIGNED})


def _place(data: dict[str, Any], fields: list[str]) -> services.Place:
    address, lat, lon = (data[name] for name in fields)
    return services.Place(address=address, lat=lat, lon=lon)


class BookingAdminForm(forms.ModelForm):
    """Validates like a model form, then saves through the services (see `full_clean`).

    Company staff get `scoped_company_id` from `CompanyScopedAdmin.get_form`.
    """

    scoped_company_id: Any = None

    record_past = forms.BooleanField(
        required=False,
        label="Record a past trip",
        help_text="Tick to record a trip whose pick-up was more than 24 hours ago.",
    )

    class Meta:
        model = Booking
        fields = "__all__"  # noqa: DJ007  (the admin decides which fields it shows)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.booking: Booking | None = None
        adding = self.instance._state.adding
        if adding:
            for name in ("pickup_earliest", "pickup_latest"):
                if name in self.fields:
                    self.fields[name].required = False
                    self.fields[name].help_text = "Empty: the company's usual window."
        if "status" in self.fields:
            current = self.instance.status
            targets = {current} | (ALLOWED[current] - DRIVER_STATUSES)
            status = self.fields["status"]
            assert isinstance(status, forms.ChoiceField)
            status.choices = [c for c in S.choices if c[0] in targets]
            self.fields[
                "status"
            ].help_text = "Choose a driver to assign the booking; clear the driver to unassign it."
        if "cancel_reason" in self.fields:
            self.fields["cancel_reason"].help_text = "Required to cancel."

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # The driver decides between pending and assigned; the status field stays as shown.
        if "driver" in self.changed_data and "status" not in self.changed_data and "status" in data:
            data["status"] = S.ASSIGNED if data.get("driver") else S.PENDING
        cancelling = data.get("status") == S.CANCELLED and "status" in self.changed_data
        if cancelling and not (data.get("cancel_reason") or "").strip():
            self.add_error("cancel_reason", "Give a reason to cancel the booking.")
        return data

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self.errors:
            return
        try:
            # One savepoint: a later refusal (e.g. the driver's day) undoes the earlier steps.
            with transaction.atomic():
                self.booking = self._create() if self.instance._state.adding else self._change()
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.detail)

    def _company(self) -> Any:
        company_id = self.scoped_company_id or self.cleaned_data["company"].id
        return company_get(company_id=company_id)

    def _create(self) -> Booking:
        data = self.cleaned_data
        # Passed only when ticked, so the admin works before and after `record_past` exists.
        past: dict[str, Any] = {"record_past": True} if data.get("record_past") else {}
        trip: dict[str, Any] = {name: data.get(name) for name in [*TIMES, *TRIP] if name in data}
        booking = services.booking_create(
            company=self._company(),
            client=data["client"],
            pickup=_place(data, PICKUP),
            dropoff=_place(data, DROPOFF),
            **trip,
            **past,
        )
        if data.get("driver"):
            booking = booking_assign_checked(booking=booking, driver=data["driver"])
        return booking

    def _change(self) -> Booking:
        data, changed = self.cleaned_data, set(self.changed_data)
        booking = Booking.objects.get(pk=self.instance.pk)
        changes: dict[str, Any] = {name: data[name] for name in [*TIMES, *TRIP] if name in changed}
        for place, fields in PLACES.items():
            if changed & set(fields):
                changes[place] = _place(data, fields)
        if changes:
            booking = services.booking_update(booking=booking, changes=changes)
        if "driver" in changed:
            if data.get("driver"):
                booking = booking_assign_checked(booking=booking, driver=data["driver"])
            else:
                booking = services.booking_unassign(booking=booking)
        if "status" in changed and data["status"] != booking.status:
            booking = self._set_status(booking, data["status"])
        return booking

    def _set_status(self, booking: Booking, status: str) -> Booking:
        if status == S.CANCELLED:
            reason = self.cleaned_data["cancel_reason"].strip()
            return services.booking_cancel(booking=booking, reason=reason)
        return services.booking_set_status(booking=booking, status=status)

    def save(self, commit: bool = True) -> Booking:
        """The booking the services saved during validation (the admin calls this after)."""
        if self.booking is None:
            raise ValueError("The booking is saved only by a valid form.")
        return self.booking


class CancelBookingsForm(forms.Form):
    reason = forms.CharField(
        max_length=300, help_text="Why the trips are cancelled (kept on each booking)."
    )


@admin.register(Booking)
class BookingAdmin(CompanyScopedAdmin):
    form = BookingAdminForm
    list_display = [
        "scheduled_at",
        "client",
        "pickup_address",
        "dropoff_address",
        "mobility",
        "urgent",
        "status",
        "driver",
        "vehicle",
    ]
    list_filter = [
        "status",
        ("scheduled_at", admin.DateFieldListFilter),
        ("driver", admin.RelatedOnlyFieldListFilter),
        "mobility",
        "urgent",
        "will_call",
    ]
    date_hierarchy = "scheduled_at"
    list_select_related = ["client", "driver__user", "vehicle"]
    search_fields = [
        "client__last_name",
        "client__first_name",
        "client__phone",
        "pickup_address",
        "dropoff_address",
    ]
    autocomplete_fields = ["client", "driver"]
    actions = ["cancel_bookings", "mark_completed", "release_will_call"]
    list_per_page = 100

    def get_fieldsets(self, request: HttpRequest, obj: Booking | None = None) -> Any:
        who = ["client"]
        if request.user.is_superuser:
            who.append("company")
        dispatch = ["driver"]
        if obj is not None:
            dispatch += ["vehicle", "status", "cancel_reason", "return_of"]
        if obj is not None and obj.will_call:
            dispatch += ["will_call", "released_at", "ready_link_page"]
        sets: list[tuple[str, dict[str, Any]]] = [
            ("Client", {"fields": who}),
            ("Pick-up", {"fields": PICKUP}),
            ("Drop-off", {"fields": DROPOFF}),
            ("Times", {"fields": TIMES}),
            ("Trip", {"fields": TRIP}),
            ("Dispatch", {"fields": dispatch}),
        ]
        if obj is None:
            sets.append(("Past trips", {"fields": ["record_past"]}))
        return sets

    def get_readonly_fields(self, request: HttpRequest, obj: Booking | None = None) -> Any:
        # The vehicle follows the driver (the driver's default vehicle), as in the API.
        readonly = ["vehicle", "return_of", "will_call", "released_at", "ready_link_page"]
        if obj is None:
            return readonly
        readonly += ["client", "company"]
        if obj.status not in EDITABLE:
            readonly += [*PLAN, "driver"]
        if obj.status in FINAL:
            readonly.append("cancel_reason")
        return readonly

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        """Nothing left to save: the form saved through the services while validating."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """No related rows are edited here."""

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # a booking is cancelled, with a reason, never deleted behind the drivers

    def _apply(self, request: HttpRequest, queryset: QuerySet[Booking], change: Any) -> None:
        done, failed = 0, []
        for booking in queryset:
            try:
                change(booking)
                done += 1
            except DomainError as exc:
                failed.append(f"{booking}: {exc.detail}")
        if done:
            self.message_user(request, f"{done} booking(s) updated.", messages.SUCCESS)
        for line in failed[:20]:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Cancel the selected bookings…")
    def cancel_bookings(
        self, request: HttpRequest, queryset: QuerySet[Booking]
    ) -> HttpResponse | None:
        """First shows a page asking for the reason; cancels once it is given."""
        form = CancelBookingsForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"].strip()
            self._apply(
                request, queryset, lambda b: services.booking_cancel(booking=b, reason=reason)
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel bookings",
            "opts": self.model._meta,
            "form": form,
            "bookings": queryset,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/bookings/booking/cancel_selected.html", context)

    # --- will-call returns (bookings/will_call.py) -------------------------------------------
    @admin.display(description="Clinic's ready link")
    def ready_link_page(self, obj: Booking) -> str:
        if not obj.will_call or obj.pk is None:
            return "-"
        url = reverse("admin:bookings_booking_ready_link", args=[obj.pk])
        return format_html('<a href="{}">Print the QR code for the ward, or revoke it</a>', url)

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "<path:object_id>/ready-link/",
                self.admin_site.admin_view(self.ready_link_view),
                name="bookings_booking_ready_link",
            )
        ]
        return extra + super().get_urls()

    def ready_link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A printable sheet with the ready link as a QR code; POST `revoke` revokes it."""
        booking = self.get_object(request, object_id)
        if (
            booking is None
            or not booking.will_call
            or not self.has_view_permission(request, booking)
        ):
            raise Http404
        if request.method == "POST" and "revoke" in request.POST:
            if not self.has_change_permission(request, booking):
                raise PermissionDenied
            will_call.booking_ready_link_revoke(booking=booking)
            self.message_user(request, "The old link no longer works; print this new one.")
            return redirect(request.path)
        link = will_call.ready_link_url(
            booking_id=booking.id, version=booking.ready_link_version, request=request
        )
        tz = company_get(company_id=booking.company_id).tz
        outbound = booking.return_of or booking
        context = {
            **self.admin_site.each_context(request),
            "title": "Clinic's ready link",
            "opts": self.model._meta,
            "original": booking,
            "link": link,
            # segno's own markup for our own link: safe to inline.
            "qr": mark_safe(segno.make(link, error="m").svg_inline(scale=6)),  # noqa: S308
            "initials": will_call.initials(booking.client),
            "destination": outbound.dropoff_address
            if booking.return_of
            else booking.pickup_address,
            "outbound_at": format_local(outbound.scheduled_at, tz, with_date=True),
            "can_revoke": self.has_change_permission(request, booking),
        }
        return TemplateResponse(request, "admin/bookings/booking/ready_link.html", context)

    @admin.action(description="Patient ready: release the selected will-call returns (15 min)")
    def release_will_call(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        self._apply(request, queryset, lambda b: will_call.booking_release(booking=b))

    @admin.action(description="Mark the selected bookings completed")
    def mark_completed(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        self._apply(
            request,
            queryset,
            lambda b: services.booking_set_status(booking=b, status=Booking.Status.COMPLETED),
        )
