"""The back-office for places: company staff keep their own and read the global ones;
superusers edit the global ones. Saves go through `places.services`, like the API."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from atmr.accounts.selectors import company_get
from atmr.admin_scoping import CompanyScopedAdmin, is_company_staff, staff_company_id
from atmr.exceptions import DomainError
from places import services
from places.models import Place
from places.widgets import MapPickerWidget

EDITABLE = [
    "name",
    "kind",
    "address",
    "lat",
    "lon",
    "aliases",
    "entrance_notes",
    "extra_service_minutes",
]


class PlaceAdminForm(forms.ModelForm):
    """Validates like a model form; an empty latitude and longitude are geocoded from the
    address (when `GEOCODER_URL` is set) before the model's checks run."""

    aliases = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Other names people search for, separated by commas or lines (HUG, CHUV…).",
    )

    class Meta:
        model = Place
        fields = "__all__"  # noqa: DJ007  (the admin decides which fields it shows)
        widgets = {"lat": MapPickerWidget(lon_field="lon")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["aliases"] = ", ".join(self.instance.aliases or [])
        for name in ("lat", "lon"):
            if name in self.fields:
                self.fields[name].required = False
        if "lat" in self.fields:
            self.fields[
                "lat"
            ].help_text = (
                "Click the map, or type; both empty: found from the address (if a geocoder is set)."
            )

    def clean_aliases(self) -> list[str]:
        text = self.cleaned_data.get("aliases") or ""
        return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or "address" not in data:
            return data
        try:
            data["lat"], data["lon"], _ = services.coordinates_resolve(
                address=data["address"], lat=data.get("lat"), lon=data.get("lon"), field="lat"
            )
        except DomainError as exc:
            self.add_error("lat", exc.detail)
        return data


@admin.register(Place)
class PlaceAdmin(CompanyScopedAdmin):
    form = PlaceAdminForm
    list_display = ["name", "kind", "address", "extra_service_minutes", "company"]
    list_filter = ["kind", ("company", admin.EmptyFieldListFilter)]
    list_select_related = ["company"]
    search_fields = ["name", "search_text", "address"]

    def get_fields(self, request: HttpRequest, obj: Place | None = None) -> tuple[str, ...]:
        return ("company", *EDITABLE) if request.user.is_superuser else tuple(EDITABLE)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Place]:
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return qs
        if is_company_staff(request):
            # Their own places and the global ones (read only, see has_change_permission).
            return qs.filter(Q(company_id=staff_company_id(request)) | Q(company__isnull=True))
        return qs.none()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Place], search_term: str
    ) -> tuple[QuerySet[Place], bool]:
        # The API's search (accents and case folded, aliases included), not Django's icontains.
        from places.selectors import place_search

        if not search_term.strip():
            return queryset, False
        return place_search(queryset, search=search_term).order_by("name"), False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is not None and getattr(obj, "company_id", None) is None:
            return request.user.is_superuser
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is not None and getattr(obj, "company_id", None) is None:
            return request.user.is_superuser
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        """Through the services: the search text is rebuilt on every save."""
        if not isinstance(obj, Place):
            raise TypeError(f"PlaceAdmin saves places, not {type(obj).__name__}.")
        data = {name: form.cleaned_data[name] for name in EDITABLE if name in form.cleaned_data}
        if change:
            changed = {name: data[name] for name in form.changed_data if name in data}
            if {"address", "lat", "lon"} & set(changed):
                # The form resolved the position; the service would geocode an address alone.
                changed.update(lat=data["lat"], lon=data["lon"])
            if request.user.is_superuser and "company" in form.changed_data:
                obj.company = form.cleaned_data["company"]
                changed["company"] = obj.company
            saved = services.place_update(place=obj, changes=changed) if changed else obj
        else:
            company = (
                form.cleaned_data.get("company")
                if request.user.is_superuser
                else company_get(company_id=staff_company_id(request))
            )
            saved = services.place_create(company=company, **data)
        form.instance = saved
        obj.pk = saved.pk
