from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from atmr.accounts.models import Company, User
from atmr.admin_scoping import CompanyScopedAdmin, is_company_staff
from atmr.exceptions import DomainError
from dispatch import selectors, services
from dispatch.models import DispatchRun, DispatchSettings
from dispatch.run_effects import run_summary


@admin.register(DispatchSettings)
class DispatchSettingsAdmin(CompanyScopedAdmin):
    list_display = [
        "company",
        "service_walks_s",
        "service_wheelchair_s",
        "max_ride_factor",
        "max_ride_extra_minutes",
        "solver_time_limit_s",
    ]
    list_select_related = ["company"]


class DispatchDayForm(forms.Form):
    service_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    mode = forms.ChoiceField(choices=DispatchRun.Mode.choices)
    from_now = forms.BooleanField(
        required=False,
        label="Re-plan from now",
        help_text="Today only (and required for today): trips under way stay with their "
        "driver, drivers start where they are, a trip changes driver only for a real saving.",
    )
    company = forms.ModelChoiceField(queryset=Company.objects.none(), required=False)


# What the run page shows as plain fields; routes and unassigned trips get their own tables.
RUN_PAGE_FIELDS = (
    "company",
    "service_date",
    "mode",
    "status",
    "progress_detail",
    "error",
    "created_by",
    "created_at",
    "started_at",
    "finished_at",
    "applied_at",
    "bookings_count",
    "drivers_count",
    "assigned_count",
    "unassigned_count",
    "drive_seconds",
    "distance_metres",
    "travel_source",
    "fallback_share",
    "from_now",
    "planned_from",
    "load_ms",
    "matrix_ms",
    "solve_ms",
    "save_ms",
)


@admin.register(DispatchRun)
class DispatchRunAdmin(CompanyScopedAdmin):
    list_display = [
        "service_date",
        "mode",
        "status",
        "bookings_count",
        "assigned_count",
        "unassigned_count",
        "drive_seconds",
        "fallback_share",
        "solve_ms",
        "created_at",
        "company",
    ]
    list_filter = ["status", "mode", "service_date"]
    list_select_related = ["company"]
    date_hierarchy = "service_date"
    fields = RUN_PAGE_FIELDS
    readonly_fields = RUN_PAGE_FIELDS
    change_list_template = "admin/dispatch/dispatchrun/change_list.html"
    change_form_template = "admin/dispatch/dispatchrun/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are started with "Dispatch a day", never typed in

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # a run is a record; it is applied with its own button, never edited

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        extra = [
            path(
                "dispatch-day/",
                view(self.dispatch_day),
                name="dispatch_dispatchrun_dispatch_day",
            ),
            path(
                "<path:object_id>/apply/",
                view(self.apply_run),
                name="dispatch_dispatchrun_apply",
            ),
            path(
                "<path:object_id>/progress/",
                view(self.run_progress),
                name="dispatch_dispatchrun_progress",
            ),
        ]
        return extra + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if run is not None:
            routes, unassigned = selectors.run_sheet(run=run)
            context.update(
                run=run,
                routes=routes,
                unassigned=unassigned,
                diff=selectors.run_diff_sheet(run=run),
                active=run.status in DispatchRun.ACTIVE,
                progress_percent=round(run.progress * 100),
                can_apply=self._may_act(request) and _applicable(run),
            )
        return super().change_view(request, object_id, form_url, context)

    def _may_act(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or is_company_staff(request))

    def _run_page(self, run_id: UUID | str) -> HttpResponseRedirect:
        return redirect("admin:dispatch_dispatchrun_change", run_id)

    def apply_run(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Apply a suggested run through the same service (and checks) as the API."""
        run = self.get_object(request, object_id)  # scoped: another company's run is None
        if run is None or not self._may_act(request):
            # Django's own "doesn't exist" message and redirect; private, so not in the stubs.
            return self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, self.opts, object_id
            )
        if request.method != "POST":
            return self._run_page(run.id)
        try:
            applied = services.run_apply(run=run)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
        else:
            kept = len(applied.skipped)
            note = f"; {kept} changed meanwhile and left as they are" if kept else ""
            self.message_user(
                request,
                f"Plan applied: trips given to their drivers{note}.",
                messages.SUCCESS,
            )
        return self._run_page(run.id)

    def run_progress(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Where the run stands, for a page that polls (the run page also refreshes)."""
        run = self.get_object(request, object_id)
        if run is None:
            return JsonResponse({"detail": "Not found."}, status=404)
        return JsonResponse(
            {
                "id": str(run.id),
                "status": run.status,
                "progress": run.progress,
                "detail": run_summary(run),
            }
        )

    def dispatch_day(self, request: HttpRequest) -> HttpResponse:
        """Queue a run for a chosen day of the staff member's company, then show its page."""
        if not self._may_act(request):
            return redirect("admin:index")
        form = DispatchDayForm(request.POST or None, initial={"service_date": _today(request)})
        if request.user.is_superuser:
            company_field = form.fields["company"]
            assert isinstance(company_field, forms.ModelChoiceField)
            company_field.queryset = Company.objects.all()
            company_field.required = True
        else:
            del form.fields["company"]
        if request.method == "POST" and form.is_valid():
            company = form.cleaned_data.get("company") or Company.objects.get(
                id=_staff_company_id(request)
            )
            try:
                run = services.run_start(
                    company=company,
                    service_date=form.cleaned_data["service_date"],
                    mode=form.cleaned_data["mode"],
                    by=request.user.id,
                    from_now=form.cleaned_data["from_now"],
                )
            except DomainError as exc:
                self._refused(request, form, exc)
            else:
                self.message_user(request, "Dispatch run queued.", messages.SUCCESS)
                return self._run_page(run.id)
        context = {**self.admin_site.each_context(request), "form": form, "title": "Dispatch a day"}
        return render(request, "admin/dispatch/dispatch_day.html", context)

    def _refused(self, request: HttpRequest, form: DispatchDayForm, exc: DomainError) -> None:
        if exc.field == "from":
            exc.field = "from_now"
        if exc.field in form.fields:
            form.add_error(exc.field, exc.detail)
        elif exc.extra.get("run"):
            link = reverse("admin:dispatch_dispatchrun_change", args=[exc.extra["run"]])
            self.message_user(
                request,
                format_html('{} <a href="{}">See that run</a>.', exc.detail, link),
                messages.ERROR,
            )
        else:
            self.message_user(request, exc.detail, messages.ERROR)


def _applicable(run: DispatchRun) -> bool:
    return run.status == DispatchRun.Status.SUCCEEDED and run.applied_at is None


def _staff_company_id(request: HttpRequest) -> UUID:
    """The company of a member of staff; a superuser, who may have none, chooses one instead."""
    user = request.user
    assert isinstance(user, User) and user.company_id is not None  # is_company_staff holds
    return user.company_id


def _today(request: HttpRequest) -> date:
    """Today in the staff member's company zone (the server's date for a superuser)."""
    company_id = getattr(request.user, "company_id", None)
    company = Company.objects.filter(id=company_id).first() if company_id else None
    return timezone.now().astimezone(company.tz).date() if company else timezone.localdate()
