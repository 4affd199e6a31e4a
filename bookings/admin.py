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
from atmr.admin_scoping import CompanyScopedAdmin, is_company_staff
from atmr.exceptions import DomainError
from atmr.localtime import format_local
from bookings import reasons, services, will_call
from bookings.models import Booking, Client, ReasonCode, StandingOrder, StandingOrderException
from bookings.orders import services as order_services
from bookings.transitions import ALLOWED, EDITABLE, FINAL
from dispatch.manual import booking_assign_checked
from places.widgets import MapPickerWidget

# Coordinates are set by clicking a map (our own Leaflet, no CDN) rather than typed.
STOP_PICKERS = {
    "pickup_lat": MapPickerWidget(lon_field="pickup_lon"),
    "dropoff_lat": MapPickerWidget(lon_field="dropoff_lon"),
}


class ClientAdminForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = "__all__"  # noqa: DJ007  (the admin decides which fields it shows)
        widgets = {"lat": MapPickerWidget(lon_field="lon")}


@admin.register(Client)
class ClientAdmin(CompanyScopedAdmin):
    form = ClientAdminForm
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
        widgets = STOP_PICKERS

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
            self.fields["cancel_reason"].help_text = "Optional text beside the reason code."
        if "cancel_code" in self.fields:
            code = self.fields["cancel_code"]
            assert isinstance(code, forms.ModelChoiceField)
            # What a person may choose: the booking's company's codes in use, no system code.
            code.queryset = reasons.reason_code_list(
                company_id=self.instance.company_id, active=True
            ).filter(system=False)
            code.help_text = (
                "Required to cancel; a no-show without one is recorded as “No-show”. A "
                "cancellation within the company's notice before the pick-up is flagged late."
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # The driver decides between pending and assigned; the status field stays as shown.
        if "driver" in self.changed_data and "status" not in self.changed_data and "status" in data:
            data["status"] = S.ASSIGNED if data.get("driver") else S.PENDING
        ending = "status" in self.changed_data and data.get("status") in (S.CANCELLED, S.NO_SHOW)
        if ending and data.get("status") == S.CANCELLED and not data.get("cancel_code"):
            self.add_error("cancel_code", "Choose a reason code to cancel the booking.")
        if not ending and {"cancel_code", "cancel_reason"} & set(self.changed_data):
            field = "cancel_code" if "cancel_code" in self.changed_data else "cancel_reason"
            self.add_error(field, "A reason goes with cancelling the booking or a no-show.")
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
            field = "cancel_code" if exc.field == "code" else exc.field
            self.add_error(field if field in self.fields else None, exc.detail)

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
        data = self.cleaned_data
        text = (data.get("cancel_reason") or "").strip()
        chosen = data.get("cancel_code")
        if status not in (S.CANCELLED, S.NO_SHOW):
            return services.booking_set_status(booking=booking, status=status)
        kind = ReasonCode.Kind.CANCELLATION if status == S.CANCELLED else ReasonCode.Kind.NO_SHOW
        code = None
        if chosen is not None:  # the person's choice, under the API's rules
            code = reasons.reason_code_choose(
                company_id=booking.company_id, value=chosen.id, kind=kind
            )
        if status == S.CANCELLED:
            return services.booking_cancel(booking=booking, code=code, reason=text)
        return services.booking_set_status(booking=booking, status=status, code=code, reason=text)

    def save(self, commit: bool = True) -> Booking:
        """The booking the services saved during validation (the admin calls this after)."""
        if self.booking is None:
            raise ValueError("The booking is saved only by a valid form.")
        return self.booking


class CancelBookingsForm(forms.Form):
    code = forms.ChoiceField(
        label="Reason code", help_text="Why the trips are cancelled (kept on each booking)."
    )
    reason = forms.CharField(
        max_length=300, required=False, help_text="Optional text, kept on each booking."
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        code = self.fields["code"]
        assert isinstance(code, forms.ChoiceField)
        code.choices = [("", "---------"), *choices]


# Written by the ETAs (dispatch/eta.py) and the driver's phone (arrived), never typed.
LIVE = [
    "eta_pickup",
    "eta_dropoff",
    "lateness",
    "ride_too_long",
    "eta_source",
    "eta_computed_at",
    "arrived_at",
    "no_show_after",
    "picked_up_at",
]


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
        "cancel_code",
        "cancelled_late",
        "lateness",
        "eta_pickup",
    ]
    list_filter = [
        "status",
        "lateness",
        ("scheduled_at", admin.DateFieldListFilter),
        ("driver", admin.RelatedOnlyFieldListFilter),
        "mobility",
        "urgent",
        "will_call",
        ("cancel_code", admin.RelatedOnlyFieldListFilter),
        "cancelled_late",
    ]
    date_hierarchy = "scheduled_at"
    list_select_related = ["client", "driver__user", "vehicle", "cancel_code"]
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
            dispatch += ["vehicle", "status", "return_of"]
        if obj is not None and obj.will_call:
            dispatch += ["will_call", "released_at", "ready_link_page"]
        if obj is not None and obj.standing_order_id:
            dispatch += ["series"]
        sets: list[tuple[str, dict[str, Any]]] = [
            ("Client", {"fields": who}),
            ("Pick-up", {"fields": PICKUP}),
            ("Drop-off", {"fields": DROPOFF}),
            ("Times", {"fields": TIMES}),
            ("Trip", {"fields": TRIP}),
            ("Dispatch", {"fields": dispatch}),
        ]
        if obj is not None:
            sets.append(("Live day", {"fields": LIVE}))
            reason = ["cancel_code", "cancel_reason", "cancelled_late", "cancelled_at"]
            sets.append(("Cancellation or no-show", {"fields": reason}))
        if obj is None:
            sets.append(("Past trips", {"fields": ["record_past"]}))
        return sets

    def get_readonly_fields(self, request: HttpRequest, obj: Booking | None = None) -> Any:
        # The vehicle follows the driver (the driver's default vehicle), as in the API.
        readonly = [
            "vehicle",
            "return_of",
            "will_call",
            "released_at",
            "ready_link_page",
            "series",
            "cancelled_late",
            "cancelled_at",
            *LIVE,
        ]
        if obj is None:
            return readonly
        readonly += ["client", "company"]
        if obj.status not in EDITABLE:
            readonly += [*PLAN, "driver"]
        if obj.status in FINAL:
            readonly += ["cancel_code", "cancel_reason"]
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
        """First shows a page asking for the reason code (and optional text); cancels once it
        is given. Each booking takes its own company's code of that name."""
        cancellation = ReasonCode.Kind.CANCELLATION
        companies = queryset.order_by().values_list("company_id", flat=True).distinct()
        choices = reasons.reason_code_choices(company_ids=list(companies), kind=cancellation)
        bound = request.POST if "confirm" in request.POST else None
        form = CancelBookingsForm(bound, choices=choices)
        if form.is_valid():
            code, text = form.cleaned_data["code"], form.cleaned_data["reason"].strip()

            def cancel(booking: Booking) -> Booking:
                chosen = reasons.reason_code_choose(
                    company_id=booking.company_id, value=code, kind=cancellation
                )
                return services.booking_cancel(booking=booking, code=chosen, reason=text)

            self._apply(request, queryset, cancel)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel bookings",
            "opts": self.model._meta,
            "form": form,
            "objects": queryset,
            "action": "cancel_bookings",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/bookings/booking/cancel_selected.html", context)

    @admin.display(description="Standing order")
    def series(self, obj: Booking) -> str:
        """The order this trip is an occurrence of, and its day (edit the order for the series,
        this booking for this one trip)."""
        if not obj.standing_order_id or obj.occurrence_date is None:
            return "-"
        url = reverse("admin:bookings_standingorder_change", args=[obj.standing_order_id])
        leg = "return" if obj.occurrence_leg == "return" else "outbound"
        day = obj.occurrence_date.isoformat()
        return format_html('<a href="{}">{} trip of {} (the series)</a>', url, leg, day)

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


# --- standing orders --------------------------------------------------------------------------
WEEKDAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]
ORDER_PICKUP = PICKUP
ORDER_DROPOFF = DROPOFF
ORDER_PATTERN = ["weekdays", "every_weeks", "pickup_time", "appointment_time"]
ORDER_RETURN = ["return_leg", "return_time"]
ORDER_TRIP = ["mobility", "passengers", "urgent", "notes"]
ORDER_SPAN = ["start_date", "end_date", "occurrences", "holidays"]
ORDER_FIELDS = [*ORDER_PATTERN, *ORDER_RETURN, *ORDER_TRIP, *ORDER_SPAN]
# A service's error field → the form field that shows it.
ORDER_ERROR_FIELDS = {"return.time": "return_time", "pickup": "pickup_address"}


class StandingOrderAdminForm(forms.ModelForm):
    """Validates like a model form, then saves through `bookings.orders.services`."""

    scoped_company_id: Any = None

    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    every_weeks = forms.TypedChoiceField(
        choices=[(1, "Every week"), (2, "Every second week")], coerce=int, initial=1
    )

    class Meta:
        model = StandingOrder
        fields = "__all__"  # noqa: DJ007  (the admin decides which fields it shows)
        widgets = STOP_PICKERS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.result: order_services.StandingOrderUpdate | None = None
        if self.instance._state.adding:
            for name in [*ORDER_PICKUP, "mobility"]:
                if name in self.fields:
                    self.fields[name].required = False
            if "pickup_address" in self.fields:
                self.fields["pickup_address"].help_text = "Empty: the client's home."
            if "mobility" in self.fields:
                self.fields["mobility"].help_text = "Empty: the client's."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}  # ModelForm.clean returns cleaned_data; the stub allows None
        # On the field rather than at the top (the model's check names no field).
        has_end = any(data.get(name) not in (None, "") for name in ("end_date", "occurrences"))
        if "end_date" in self.fields and not has_end:
            self.add_error("end_date", "Give an end date or a number of occurrences.")
        return data

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self.errors:
            return
        try:
            with transaction.atomic():
                if self.instance._state.adding:
                    self.instance = self._create()
                else:
                    self._change()
        except DomainError as exc:
            field = ORDER_ERROR_FIELDS.get(exc.field or "", exc.field)
            self.add_error(field if field in self.fields else None, exc.detail)

    def _company(self) -> Any:
        company_id = self.scoped_company_id or self.cleaned_data["company"].id
        return company_get(company_id=company_id)

    def _place(self, fields: list[str]) -> services.Place | None:
        if any(self.cleaned_data.get(name) in (None, "") for name in fields):
            return None
        return _place(self.cleaned_data, fields)

    def _create(self) -> StandingOrder:
        data = self.cleaned_data
        fields = {name: data[name] for name in ORDER_FIELDS if name in data}
        if not fields.get("mobility"):
            fields.pop("mobility", None)
        return order_services.standing_order_create(
            company=self._company(),
            client=data["client"],
            pickup=self._place(ORDER_PICKUP),
            dropoff=_place(data, ORDER_DROPOFF),
            **fields,
        )

    def _change(self) -> None:
        data, changed = self.cleaned_data, set(self.changed_data)
        changes: dict[str, Any] = {name: data[name] for name in ORDER_FIELDS if name in changed}
        if changed & set(ORDER_PICKUP):
            changes["pickup"] = self._place(ORDER_PICKUP)
        if changed & set(ORDER_DROPOFF):
            changes["dropoff"] = _place(data, ORDER_DROPOFF)
        if changes:
            order = StandingOrder.objects.get(pk=self.instance.pk)
            self.result = order_services.standing_order_update(order=order, changes=changes)

    def save(self, commit: bool = True) -> StandingOrder:
        """The order the services saved during validation."""
        return self.instance


# A tuple: both attributes take it (the stubs type them differently, a list fits only one).
EXCEPTION_INLINE_FIELDS = ("kind", "first_day", "last_day", "reason", "created_at")


class StandingOrderExceptionInline(admin.TabularInline):
    """Skipped days and pauses: added with the list's actions, taken back with the row's
    "delete" box; both through the services (`StandingOrderAdmin.save_related`)."""

    model = StandingOrderException
    fields = EXCEPTION_INLINE_FIELDS
    readonly_fields = EXCEPTION_INLINE_FIELDS
    extra = 0
    verbose_name = "skipped day or pause"
    verbose_name_plural = "skipped days and pauses (tick “delete” to take one back)"

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser or is_company_staff(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # `obj` is the order: an ended one keeps its exceptions (the service refuses too).
        allowed = self.has_view_permission(request, obj)
        return allowed and isinstance(obj, StandingOrder) and obj.ended_at is None

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class SkipDayForm(forms.Form):
    date = forms.DateField(help_text="A day of the orders (YYYY-MM-DD).")
    reason = forms.CharField(max_length=300, required=False)


class PauseForm(forms.Form):
    first = forms.DateField(label="From", help_text="First day paused.")
    last = forms.DateField(label="To", help_text="Last day paused (inclusive).")
    reason = forms.CharField(max_length=300, required=False)


class UnskipForm(forms.Form):
    date = forms.DateField(help_text="The skipped day to book again (YYYY-MM-DD).")


class UnpauseForm(forms.Form):
    first = forms.DateField(label="From", help_text="First day of the pause.")
    last = forms.DateField(label="To", help_text="Last day of the pause.")


class EndForm(forms.Form):
    date = forms.DateField(help_text="The last day with trips; later trips are cancelled.")
    reason = forms.CharField(max_length=300, required=False)


@admin.register(StandingOrder)
class StandingOrderAdmin(CompanyScopedAdmin):
    form = StandingOrderAdminForm
    inlines = [StandingOrderExceptionInline]
    list_display = [
        "client",
        "days",
        "pickup_time",
        "appointment_time",
        "return_leg",
        "mobility",
        "start_date",
        "end_date",
        "occurrences",
        "ended_at",
    ]
    list_filter = ["return_leg", "mobility", "holidays", "start_date"]
    list_select_related = ["client"]
    search_fields = ["client__last_name", "client__first_name", "dropoff_address", "notes"]
    autocomplete_fields = ["client"]
    actions = ["skip_day", "unskip_day", "pause_orders", "unpause_orders", "end_orders"]

    @admin.display(description="Days")
    def days(self, order: StandingOrder) -> str:
        names = dict(WEEKDAYS)
        text = " ".join(names.get(d, "?") for d in order.weekdays)
        return text if order.every_weeks == 1 else f"{text} (every 2nd week)"

    def get_fieldsets(self, request: HttpRequest, obj: StandingOrder | None = None) -> Any:
        who = ["client"]
        if request.user.is_superuser:
            who.append("company")
        sets: list[tuple[str, dict[str, Any]]] = [
            ("Client", {"fields": who}),
            ("Pick-up", {"fields": ORDER_PICKUP}),
            ("Drop-off", {"fields": ORDER_DROPOFF}),
            ("Days and times (local)", {"fields": ORDER_PATTERN}),
            ("Return", {"fields": ORDER_RETURN}),
            ("Trip", {"fields": ORDER_TRIP}),
            ("Span", {"fields": ORDER_SPAN}),
        ]
        if obj is not None:
            sets.append(("End", {"fields": ["ended_at", "end_reason"]}))
        return sets

    def get_readonly_fields(self, request: HttpRequest, obj: StandingOrder | None = None) -> Any:
        if obj is None:
            return []
        readonly = ["client", "company", "ended_at", "end_reason"]
        if obj.ended_at is not None:
            readonly += [*ORDER_PICKUP, *ORDER_DROPOFF, *ORDER_FIELDS]
        return readonly

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        """Saved by the form through the services; says which trips lost their driver."""
        result = getattr(form, "result", None)
        if result and result.unassigned:
            trips = ", ".join(str(b) for b in result.unassigned[:20])
            self.message_user(
                request, f"Taken from their driver (times changed): {trips}", messages.WARNING
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Exceptions are added by the actions; a ticked "delete" takes one back through
        `standing_order_exception_remove` (never a plain row delete: the days come back)."""
        for formset in formsets:
            # What formset.save() would have set, for the admin's change message.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            for row in formset.deleted_forms:
                exception = row.instance
                try:
                    order_services.standing_order_exception_remove(exception=exception)
                except DomainError as exc:
                    self.message_user(request, f"{exception}: {exc.detail}", messages.WARNING)
                else:
                    formset.deleted_objects.append(exception)
                    self.message_user(request, f"Taken back: {exception}.", messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # an order is ended (its trips cancelled with a reason), never deleted

    def _order_action(
        self,
        request: HttpRequest,
        queryset: QuerySet[StandingOrder],
        *,
        form_class: type[forms.Form],
        action: str,
        title: str,
        explanation: str,
        apply: Any,
    ) -> HttpResponse | None:
        form = form_class(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            done, failed = 0, []
            for order in queryset:
                try:
                    apply(order, form.cleaned_data)
                    done += 1
                except DomainError as exc:
                    failed.append(f"{order}: {exc.detail}")
            if done:
                self.message_user(request, f"{done} standing order(s) updated.", messages.SUCCESS)
            for line in failed[:20]:
                self.message_user(request, line, messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "explanation": explanation,
            "opts": self.model._meta,
            "form": form,
            "objects": queryset,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/action_page.html", context)

    @admin.action(description="Skip a day of the selected orders…")
    def skip_day(
        self, request: HttpRequest, queryset: QuerySet[StandingOrder]
    ) -> HttpResponse | None:
        return self._order_action(
            request,
            queryset,
            form_class=SkipDayForm,
            action="skip_day",
            title="Skip a day",
            explanation="That day's trips of these orders are cancelled.",
            apply=lambda o, d: order_services.standing_order_skip(
                order=o, day=d["date"], reason=d["reason"]
            ),
        )

    @admin.action(description="Pause the selected orders…")
    def pause_orders(
        self, request: HttpRequest, queryset: QuerySet[StandingOrder]
    ) -> HttpResponse | None:
        return self._order_action(
            request,
            queryset,
            form_class=PauseForm,
            action="pause_orders",
            title="Pause",
            explanation="The trips of these orders in that time are cancelled.",
            apply=lambda o, d: order_services.standing_order_pause(
                order=o, first=d["first"], last=d["last"], reason=d["reason"]
            ),
        )

    @admin.action(description="Take back a skipped day of the selected orders…")
    def unskip_day(
        self, request: HttpRequest, queryset: QuerySet[StandingOrder]
    ) -> HttpResponse | None:
        return self._order_action(
            request,
            queryset,
            form_class=UnskipForm,
            action="unskip_day",
            title="Take back a skipped day",
            explanation="That day's trips of these orders are booked again (within the horizon).",
            apply=lambda o, d: order_services.standing_order_unskip(order=o, day=d["date"]),
        )

    @admin.action(description="Take back a pause of the selected orders…")
    def unpause_orders(
        self, request: HttpRequest, queryset: QuerySet[StandingOrder]
    ) -> HttpResponse | None:
        return self._order_action(
            request,
            queryset,
            form_class=UnpauseForm,
            action="unpause_orders",
            title="Take back a pause",
            explanation="The trips of these orders from today on in that pause are booked "
            "again (within the horizon); days gone by stay as they were.",
            apply=lambda o, d: order_services.standing_order_unpause(
                order=o, first=d["first"], last=d["last"]
            ),
        )

    @admin.action(description="End the selected orders…")
    def end_orders(
        self, request: HttpRequest, queryset: QuerySet[StandingOrder]
    ) -> HttpResponse | None:
        return self._order_action(
            request,
            queryset,
            form_class=EndForm,
            action="end_orders",
            title="End",
            explanation="Later trips of these orders are cancelled (series_ended).",
            apply=lambda o, d: order_services.standing_order_end(
                order=o, day=d["date"], reason=d["reason"]
            ),
        )


class ReasonCodeAdminForm(forms.ModelForm):
    """Asks `bookings.reasons` before saving, so a refused change is a form error."""

    class Meta:
        model = ReasonCode
        fields = "__all__"  # noqa: DJ007  (the admin decides which fields it shows)

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().lower()  # the unique check sees it as stored

    def changes(self) -> dict[str, Any]:
        editable = ("label", "kind", "active", "ordering")
        return {name: self.cleaned_data[name] for name in self.changed_data if name in editable}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.instance._state.adding and not self.errors:
            current = ReasonCode.objects.get(pk=self.instance.pk)
            try:
                reasons.reason_code_check_changes(reason=current, changes=self.changes())
            except DomainError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.detail)
        return data


@admin.register(ReasonCode)
class ReasonCodeAdmin(CompanyScopedAdmin):
    """Company admins edit their codes (dispatchers read them), through bookings/reasons.py.

    A code's `code` is fixed once created and a system code keeps its kind and stays in use;
    codes are deactivated, never deleted (bookings keep theirs).
    """

    list_display = ["label", "code", "kind", "active", "system", "ordering", "company"]
    list_filter = ["kind", "active", "system", "company"]
    list_select_related = ["company"]
    search_fields = ["label", "code"]
    ordering = ["company__name", "ordering", "label"]

    def get_readonly_fields(self, request: HttpRequest, obj: ReasonCode | None = None) -> Any:
        readonly = ["system"]
        if obj is not None:
            readonly += ["code", "company"]
            if obj.system:
                readonly += ["kind", "active"]
        return readonly

    form = ReasonCodeAdminForm

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        assert isinstance(obj, ReasonCode)
        data = form.cleaned_data
        if change:
            changes = form.changes()
            if changes:
                current = ReasonCode.objects.get(pk=obj.pk)
                reasons.reason_code_update(reason=current, changes=changes)
            return
        user = request.user
        company_id = data["company"].id if user.is_superuser else getattr(user, "company_id", None)
        created = reasons.reason_code_create(
            company_id=company_id,
            code=data["code"],
            label=data["label"],
            kind=data["kind"],
            active=data["active"],
            ordering=data["ordering"],
        )
        obj.pk, obj.company_id = created.pk, created.company_id
        obj._state.adding = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or (
            is_company_staff(request) and getattr(request.user, "role", None) == "admin"
        )

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # deactivate instead: bookings keep the code they were given
