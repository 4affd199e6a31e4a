"""Back-office scoping: company staff see and edit only their own company's rows."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Field, ForeignKey, Model, QuerySet, UniqueConstraint
from django.forms import ModelChoiceField, ModelForm
from django.http import HttpRequest

from atmr.accounts.models import User


def company_staff(request: HttpRequest) -> User | None:
    """The signed-in user if company staff (active, back-office, an office role in a company)."""
    user = request.user
    if (
        isinstance(user, User)
        and user.is_active
        and user.is_staff
        and user.company_id is not None
        and user.is_office
    ):
        return user
    return None


def is_company_staff(request: HttpRequest) -> bool:
    return company_staff(request) is not None


def staff_company_id(request: HttpRequest) -> uuid.UUID:
    """The company of the company staff member making the request.

    For admin code that runs after the permission checks, which let in only superusers and
    company staff: anyone else is refused rather than shown or given some company's rows.
    """
    staff = company_staff(request)
    if staff is None or staff.company_id is None:
        raise PermissionDenied
    return staff.company_id


class CompanyAllValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """Values of a field across a relation, taken from the rows the staff member may see.

    Django's own filter reads every row of the related model when the path crosses a relation.
    """

    def __init__(
        self,
        field: Field,
        request: HttpRequest,
        params: dict[str, str],
        model: type[Model],
        model_admin: admin.ModelAdmin,
        field_path: str,
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = (
            model_admin.get_queryset(request)
            .distinct()
            .order_by(field_path)
            .values_list(field_path, flat=True)
        )


def _filter_path(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    return entry[0] if isinstance(entry, tuple | list) else None


def scoped_list_filter(model: type[Model], entry: Any) -> Any:
    """`entry` of a `list_filter`, with choices limited to rows the staff member may see.

    A relation's filter otherwise lists every row of the related model, every company's.
    """
    path = _filter_path(entry)
    if path is None:
        return entry  # a SimpleListFilter chooses its own choices
    filter_class = None if isinstance(entry, str) else entry[1]
    field = get_fields_from_path(model, path)[-1]
    if filter_class in (None, admin.RelatedFieldListFilter) and field.is_relation:
        return (path, admin.RelatedOnlyFieldListFilter)
    if filter_class in (None, admin.AllValuesFieldListFilter) and "__" in path:
        return (path, CompanyAllValuesFieldListFilter)
    return entry


class CompanyScopedForm(ModelForm):
    """Validates, for company staff, the constraints that name the company field.

    The field is not on their form, so Django skips every constraint naming it and the
    database answers with an IntegrityError (a 500) instead of a form error.
    """

    scoped_company_id: Any = None
    company_field = "company"

    def _post_clean(self) -> None:
        if self.scoped_company_id is not None:
            setattr(self.instance, f"{self.company_field}_id", self.scoped_company_id)
        super()._post_clean()  # type: ignore[misc]  # django-stubs omit ModelForm._post_clean
        if self.scoped_company_id is not None:
            self._validate_company_constraints()

    def _validate_company_constraints(self) -> None:
        instance = self.instance
        names = {f.name for f in instance._meta.concrete_fields}
        try:
            # One row per company (a one-to-one company field): the staff's company has it.
            instance.validate_unique(exclude=names - {self.company_field})
        except ValidationError:
            noun = instance._meta.verbose_name
            self.add_error(None, f"The company already has its {noun}: change that one.")
        exclude = names - set(self.cleaned_data) - {self.company_field}
        for model, constraints in instance.get_constraints():
            for constraint in constraints:
                fields = getattr(constraint, "fields", ())
                if self.company_field not in fields:
                    continue
                try:
                    constraint.validate(model, instance, exclude=exclude)
                except ValidationError as exc:
                    # Django's own route for model errors (it applies Meta.error_messages);
                    # django-stubs omit this private method.
                    error = ValidationError({_error_field(constraint, self): exc})
                    self._update_errors(error)  # type: ignore[attr-defined]


def _error_field(constraint: Any, form: CompanyScopedForm) -> str:
    """The one form field a company-scoped unique constraint is about, if there is one."""
    if isinstance(constraint, UniqueConstraint):
        others = [f for f in constraint.fields if f != form.company_field and f in form.fields]
        if len(others) == 1:
            return others[0]
    return NON_FIELD_ERRORS


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
        staff = company_staff(request)
        if staff is not None:
            return qs.filter(**{f"{self.company_field}_id": staff.company_id})
        return qs.none()

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> Any:
        excluded = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            excluded.append(self.company_field)
        return excluded

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if request.user.is_superuser:
            return form
        return type(
            form.__name__,
            (CompanyScopedForm, form),
            {
                "scoped_company_id": staff_company_id(request),
                "company_field": self.company_field,
            },
        )

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        # Staff have one company: a filter by company would only list it (or, before, all).
        return [
            scoped_list_filter(self.model, entry)
            for entry in filters
            if _filter_path(entry) != self.company_field
        ]

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            setattr(obj, f"{self.company_field}_id", staff_company_id(request))
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        # A model class once the app registry is ready (the string "self" only before).
        related = db_field.related_model
        if (
            field is not None
            and field.queryset is not None
            and not request.user.is_superuser
            and isinstance(related, type)
            and any(f.name == "company" for f in related._meta.fields)
        ):
            field.queryset = field.queryset.filter(company_id=staff_company_id(request))
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
        staff = company_staff(request)
        return request.user.is_superuser or (staff is not None and staff.role == User.Role.ADMIN)
