from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from atmr.admin_scoping import CompanyScopedAdmin
from atmr.exceptions import DomainError
from bookings import services
from bookings.models import Booking, Client


@admin.register(Client)
class ClientAdmin(CompanyScopedAdmin):
    list_display = ["last_name", "first_name", "phone", "address", "mobility", "company"]
    list_filter = ["mobility"]
    list_select_related = ["company"]
    search_fields = ["last_name", "first_name", "phone", "address"]


class BookingAdminForm(forms.ModelForm):
    class Meta:
        model = Booking
        fields = "__all__"  # noqa: DJ007  (the admin decides which fields it shows)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        vehicle = data.get("vehicle") or getattr(data.get("driver"), "default_vehicle", None)
        if data.get("driver") and data.get("mobility"):
            reason = services.vehicle_suits(
                vehicle, mobility=data["mobility"], passengers=data.get("passengers") or 1
            )
            if reason:
                self.add_error("driver", reason)
        return data


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
    autocomplete_fields = ["client", "driver", "vehicle", "return_of"]
    actions = ["cancel_bookings", "mark_completed"]
    list_per_page = 100

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

    @admin.action(description="Cancel the selected bookings")
    def cancel_bookings(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        self._apply(
            request, queryset, lambda b: services.booking_cancel(booking=b, reason="back-office")
        )

    @admin.action(description="Mark the selected bookings completed")
    def mark_completed(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        self._apply(
            request,
            queryset,
            lambda b: services.booking_set_status(booking=b, status=Booking.Status.COMPLETED),
        )
