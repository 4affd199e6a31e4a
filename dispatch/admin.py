from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.admin_scoping import CompanyScopedAdmin, is_company_staff
from atmr.exceptions import DomainError
from dispatch import services
from dispatch.models import DispatchRun, DispatchSettings


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
    company = forms.ModelChoiceField(queryset=Company.objects.none(), required=False)


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
    readonly_fields = [f.name for f in DispatchRun._meta.fields]
    change_list_template = "admin/dispatch/dispatchrun/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are started with "Dispatch a day", never typed in

    def get_urls(self):  # type: ignore[no-untyped-def]
        extra = [
            path(
                "dispatch-day/",
                self.admin_site.admin_view(self.dispatch_day),
                name="dispatch_dispatchrun_dispatch_day",
            )
        ]
        return extra + super().get_urls()

    def dispatch_day(self, request: HttpRequest) -> HttpResponse:
        """Start a run for a chosen day of the staff member's company."""
        if not (request.user.is_superuser or is_company_staff(request)):
            return redirect("admin:index")
        form = DispatchDayForm(request.POST or None, initial={"service_date": timezone.localdate()})
        if request.user.is_superuser:
            form.fields["company"].queryset = Company.objects.all()
            form.fields["company"].required = True
        else:
            del form.fields["company"]
        if request.method == "POST" and form.is_valid():
            company = form.cleaned_data.get("company") or Company.objects.get(
                id=request.user.company_id
            )
            try:
                run = services.run_start(
                    company=company,
                    service_date=form.cleaned_data["service_date"],
                    mode=form.cleaned_data["mode"],
                    by=request.user.id,
                )
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(request, f"Dispatch run {run.id} started.", messages.SUCCESS)
                return redirect("admin:dispatch_dispatchrun_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "title": "Dispatch a day"}
        return render(request, "admin/dispatch/dispatch_day.html", context)
