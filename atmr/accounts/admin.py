from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from atmr.accounts.models import Company, User
from atmr.accounts.services import EMAIL_UNAVAILABLE
from atmr.admin_scoping import CompanyScopedAdmin, company_staff, is_company_staff


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "timezone", "active", "created_at"]
    list_filter = ["active", "timezone"]
    search_fields = ["name", "address", "phone"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Company]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        staff = company_staff(request)
        return qs.filter(id=staff.company_id) if staff is not None else qs.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or is_company_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        staff = company_staff(request)
        return request.user.is_superuser or (staff is not None and staff.role == User.Role.ADMIN)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


def _clean_email(form: forms.ModelForm) -> str:
    """The address, or the API's one answer for a taken address (whichever company has it)."""
    email = str(form.cleaned_data.get("email", "")).strip().lower()
    taken = User.objects.filter(email__iexact=email)
    if form.instance.pk:
        taken = taken.exclude(pk=form.instance.pk)
    if taken.exists():
        raise forms.ValidationError(EMAIL_UNAVAILABLE)
    return email


class UserAddForm(AdminUserCreationForm):  # Django's UserAdmin.add_form
    def clean_email(self) -> str:
        return _clean_email(self)


class UserEditForm(UserChangeForm):
    def clean_email(self) -> str:
        return _clean_email(self)


@admin.register(User)
class UserAdmin(CompanyScopedAdmin, DjangoUserAdmin):
    add_form = UserAddForm
    form = UserEditForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "company", "role", "is_staff", "is_active"]
    list_filter = ["role", "is_staff", "is_active", "company"]
    list_select_related = ["company"]
    search_fields = ["email", "first_name", "last_name"]
    autocomplete_fields = ["company"]
    add_fieldsets = (
        (None, {"fields": ("email", "password1", "password2")}),
        ("Company", {"fields": ("company", "role", "first_name", "last_name", "is_staff")}),
    )
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("first_name", "last_name")}),
        ("Company", {"fields": ("company", "role", "is_staff", "is_active")}),
        ("Superuser", {"fields": ("is_superuser", "groups", "user_permissions")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        sets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return sets
        # Company staff never grant superuser rights nor move users between companies.
        hidden = {"is_superuser", "groups", "user_permissions", "company"}
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in hidden]})
            for name, opts in sets
            if [f for f in opts["fields"] if f not in hidden]
        ]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if request.user.is_superuser:
            return True
        staff = company_staff(request)
        return staff is not None and staff.role == User.Role.ADMIN

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)


# Named here because every deployment registers this module; the templates use these names.
admin.site.site_header = "ATMR back-office"
admin.site.site_title = "ATMR"
admin.site.index_title = "ATMR administration"
