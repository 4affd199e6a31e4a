"""Back office for vehicles, drivers and their rosters. Roster writes go through
drivers/rosters.py as in the API: the week is saved with `roster_set`, and the shift and
absence forms call their service while validating (a refusal is a form error)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from atmr.accounts.selectors import company_get
from atmr.admin_scoping import CompanyScopedAdmin, is_company_staff, staff_company_id
from atmr.exceptions import DomainError
from drivers import rosters
from drivers.models import WEEKDAYS, Absence, Driver, RosterEntry, Shift, Vehicle


@admin.register(Vehicle)
class VehicleAdmin(CompanyScopedAdmin):
    list_display = [
        "plate",
        "label",
        "seats",
        "wheelchair_places",
        "stretcher",
        "active",
        "company",
    ]
    list_filter = ["active", "stretcher", "wheelchair_places"]
    list_select_related = ["company"]
    search_fields = ["plate", "label"]


def _times_errors(form: forms.BaseForm, data: dict[str, Any], start: str, end: str) -> None:
    if not (data.get(start) and data.get(end)):
        return
    error = rosters.shift_times_error(start=data[start], end=data[end], **rosters.break_times(data))
    if error:
        field = {"start": start, "end": end}.get(error[0], error[0])
        form.add_error(field if field in form.fields else None, error[1])


class RosterEntryForm(forms.ModelForm):
    weekday = forms.TypedChoiceField(choices=list(WEEKDAYS.items()), coerce=int)

    class Meta:
        model = RosterEntry
        fields = [
            "weekday",
            "start",
            "end",
            "vehicle",
            "break_earliest",
            "break_latest",
            "break_minutes",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("DELETE"):
            _times_errors(self, data, "start", "end")
        return data


class RosterWeekFormSet(BaseInlineFormSet):
    """The week as a whole: a night shift must end before the next weekday's starts."""

    def clean(self) -> None:
        super().clean()
        week = [
            f.cleaned_data
            for f in self.forms
            if f.cleaned_data
            and not f.cleaned_data.get("DELETE")
            and f.cleaned_data.get("weekday")
            and f.cleaned_data.get("start")
            and f.cleaned_data.get("end")
        ]
        error = rosters.roster_week_error(week)
        if error:
            raise ValidationError(error)


class RosterEntryInline(admin.TabularInline):
    """The driver's week; an end at or before the start is the next day."""

    model = RosterEntry
    form = RosterEntryForm
    formset = RosterWeekFormSet
    extra = 0
    max_num = 7
    fk_name = "driver"

    # The driver's page decides: whoever may change the driver may change its week.
    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_company_staff(request) or request.user.is_superuser

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_view_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_view_permission(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "vehicle" and field is not None and not request.user.is_superuser:
            field.queryset = Vehicle.objects.filter(company_id=staff_company_id(request))
        return field


@admin.register(Driver)
class DriverAdmin(CompanyScopedAdmin):
    list_display = [
        "__str__",
        "phone",
        "status",
        "default_vehicle",
        "last_seen_at",
        "active",
    ]
    list_filter = ["status", "active"]
    list_select_related = ["user", "default_vehicle", "company"]
    search_fields = ["user__first_name", "user__last_name", "user__email", "phone"]
    autocomplete_fields = ["user", "default_vehicle"]
    readonly_fields = ["last_lat", "last_lon", "last_seen_at"]
    inlines = [RosterEntryInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not RosterEntry:
            super().save_formset(request, form, formset, change)
            return
        week = [
            {name: f.cleaned_data.get(name) for name in RosterEntryForm.Meta.fields}
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        for entry in week:
            entry["break_minutes"] = entry["break_minutes"] or 0
        rosters.roster_set(driver=form.instance, entries=week)  # type: ignore[arg-type]
        # What Django's change message reads after formset.save().
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


class ShiftAdminForm(forms.ModelForm):
    """A day's shift in wall-clock times (the company's zone), saved by the roster services."""

    scoped_company_id: Any = None

    start_time = forms.TimeField(label="Start")
    end_time = forms.TimeField(label="End", help_text="At or before the start: the next day.")
    break_from = forms.TimeField(required=False, label="Break from")
    break_until = forms.TimeField(required=False, label="Break over by")

    class Meta:
        model = Shift
        fields = ["company", "driver", "date", "vehicle", "break_minutes"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shift: Shift | None = None
        if not self.instance._state.adding:
            clock = rosters.shift_clock(self.instance, self.instance.company.tz)
            self.initial.update(
                start_time=clock["start"],
                end_time=clock["end"],
                break_from=clock["break_earliest"],
                break_until=clock["break_latest"],
            )

    def _clocks(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "start": data["start_time"],
            "end": data["end_time"],
            "vehicle": data.get("vehicle"),
            "break_earliest": data.get("break_from"),
            "break_latest": data.get("break_until"),
            "break_minutes": data.get("break_minutes") or 0,
        }

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self.errors:
            return
        fields = {"start": "start_time", "end": "end_time"}
        fields |= {"break_earliest": "break_from", "break_latest": "break_until"}
        try:
            with transaction.atomic():
                self.shift = self._save()
        except DomainError as exc:
            field = fields.get(exc.field or "", exc.field)
            self.add_error(field if field in self.fields else None, exc.detail)

    def _save(self) -> Shift:
        if not self.instance._state.adding:
            shift = Shift.objects.select_related("company").get(pk=self.instance.pk)
            return rosters.shift_update(shift=shift, changes=self._clocks())  # type: ignore[arg-type]
        data = self.cleaned_data
        company_id = self.scoped_company_id or data["company"].id
        return rosters.shift_create(
            company=company_get(company_id=company_id),
            data={"driver": data["driver"], "date": data["date"], **self._clocks()},  # type: ignore[typeddict-item]
        )

    def save(self, commit: bool = True) -> Shift:
        if self.shift is None:
            raise ValueError("The shift is saved only by a valid form.")
        return self.shift


@admin.register(Shift)
class ShiftAdmin(CompanyScopedAdmin):
    """Shifts by day: edit one day's times, break or vehicle (the roster then leaves it)."""

    form = ShiftAdminForm
    list_display = ["date", "driver", "start", "end", "vehicle", "break_minutes", "edited"]
    list_filter = ["date", "edited"]
    date_hierarchy = "date"
    list_select_related = ["driver__user", "vehicle"]
    search_fields = ["driver__user__first_name", "driver__user__last_name"]
    autocomplete_fields = ["driver", "vehicle"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Shift]:
        return super().get_queryset(request).filter(off=False)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return ["driver", "date"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fields = ["driver", "date", "start_time", "end_time", "vehicle"]
        fields += ["break_from", "break_until", "break_minutes"]
        return (["company"] if request.user.is_superuser else []) + fields

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        """Nothing left to save: the form saved through the services while validating."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """No related rows are edited here."""

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        rosters.shift_delete(shift=obj)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Shift]) -> None:
        for shift in queryset:
            rosters.shift_delete(shift=shift)


class AbsenceAdminForm(forms.ModelForm):
    scoped_company_id: Any = None

    class Meta:
        model = Absence
        fields = ["company", "driver", "kind", "starts_at", "ends_at", "note"]

    def full_clean(self) -> None:
        super().full_clean()
        self.absence: Absence | None = None
        if not self.is_bound or self.errors or not self.instance._state.adding:
            return
        data = self.cleaned_data
        company_id = self.scoped_company_id or data["company"].id
        try:
            with transaction.atomic():
                self.absence = rosters.absence_create(
                    company=company_get(company_id=company_id),
                    driver=data["driver"],
                    kind=data["kind"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    note=data.get("note") or "",
                )
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.detail)

    def save(self, commit: bool = True) -> Absence:
        if self.absence is None:
            raise ValueError("The absence is saved only by a valid form.")
        return self.absence


@admin.register(Absence)
class AbsenceAdmin(CompanyScopedAdmin):
    """Absences cut the shifts they overlap; delete one to give the days back."""

    form = AbsenceAdminForm
    list_display = ["driver", "kind", "starts_at", "ends_at", "note"]
    list_filter = ["kind"]
    date_hierarchy = "starts_at"
    list_select_related = ["driver__user"]
    autocomplete_fields = ["driver"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        """Nothing left to save: the form saved through the services while validating."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """No related rows are edited here."""

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        rosters.absence_delete(absence=obj)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Absence]) -> None:
        for absence in queryset:
            rosters.absence_delete(absence=absence)
