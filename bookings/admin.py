"""The back-office for clients and bookings.

Every booking change goes through the services the API uses (`bookings.services`,
`dispatch.manual.booking_assign_checked`): the same rules, the same conflict check, the same
events to drivers and dispatchers. A refusal is shown as a form error and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from atmr.accounts.selectors import company_get
from atmr.admin_scoping import CompanyScopedAdmin, is_company_staff
from atmr.exceptions import DomainError
from bookings import reasons, services
from bookings.models import Booking, Client, ReasonCode
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
        booking = services.booking_create(
            company=self._company(),
            client=data["client"],
            pickup=_place(data, PICKUP),
            dropoff=_place(data, DROPOFF),
            **{name: data.get(name) for name in [*TIMES, *TRIP] if name in data},
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
    ]
    list_filter = [
        "status",
        ("scheduled_at", admin.DateFieldListFilter),
        ("driver", admin.RelatedOnlyFieldListFilter),
        "mobility",
        "urgent",
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
    actions = ["cancel_bookings", "mark_completed"]
    list_per_page = 100

    def get_fieldsets(self, request: HttpRequest, obj: Booking | None = None) -> Any:
        who = ["client"]
        if request.user.is_superuser:
            who.append("company")
        dispatch = ["driver"]
        if obj is not None:
            dispatch += ["vehicle", "status", "return_of"]
        sets: list[tuple[str, dict[str, Any]]] = [
            ("Client", {"fields": who}),
            ("Pick-up", {"fields": PICKUP}),
            ("Drop-off", {"fields": DROPOFF}),
            ("Times", {"fields": TIMES}),
            ("Trip", {"fields": TRIP}),
            ("Dispatch", {"fields": dispatch}),
        ]
        if obj is not None:
            reason = ["cancel_code", "cancel_reason", "cancelled_late", "cancelled_at"]
            sets.append(("Cancellation or no-show", {"fields": reason}))
        if obj is None:
            sets.append(("Past trips", {"fields": ["record_past"]}))
        return sets

    def get_readonly_fields(self, request: HttpRequest, obj: Booking | None = None) -> Any:
        # The vehicle follows the driver (the driver's default vehicle), as in the API.
        readonly = ["vehicle", "return_of", "cancelled_late", "cancelled_at"]
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
            "bookings": queryset,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/bookings/booking/cancel_selected.html", context)

    @admin.action(description="Mark the selected bookings completed")
    def mark_completed(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        self._apply(
            request,
            queryset,
            lambda b: services.booking_set_status(booking=b, status=Booking.Status.COMPLETED),
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
