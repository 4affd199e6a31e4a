"""Back-office scoping: company staff see and edit only their own company's rows."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest


def is_company_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(
        user.is_active
        and user.is_staff
        and getattr(user, "company_id", None)
        and getattr(user, "role", None) in ("admin", "dispatcher")
    )


class CompanyScopedAdmin(admin.ModelAdmin):
    """ModelAdmin for a model with a `company` field.

    Superusers see every company; company staff see theirs, may not pick another company,
    and every foreign-key choice is limited to their company.
    """

    company_field = "company"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        if is_company_staff(request):
            return qs.filter(**{f"{self.company_field}_id": request.user.company_id})
        return qs.none()

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> Any:
        excluded = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            excluded.append(self.company_field)
        return excluded

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            setattr(obj, f"{self.company_field}_id", request.user.company_id)
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        related = db_field.related_model
        if (
            field is not None
            and not request.user.is_superuser
            and any(f.name == "company" for f in related._meta.fields)
        ):
            field.queryset = field.queryset.filter(company_id=request.user.company_id)
        return field

    # Company staff get full rights over their own rows, without per-model permissions.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or is_company_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser or (
            is_company_staff(request) and request.user.role == "admin"
        )
