from __future__ import annotations

from django.contrib import admin

from atmr.admin_scoping import CompanyScopedAdmin
from drivers.models import Driver, Vehicle


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


@admin.register(Driver)
class DriverAdmin(CompanyScopedAdmin):
    list_display = [
        "__str__",
        "phone",
        "status",
        "default_vehicle",
        "shift_start",
        "shift_end",
        "last_seen_at",
        "active",
    ]
    list_filter = ["status", "active"]
    list_select_related = ["user", "default_vehicle", "company"]
    search_fields = ["user__first_name", "user__last_name", "user__email", "phone"]
    autocomplete_fields = ["user", "default_vehicle"]
    readonly_fields = ["last_lat", "last_lon", "last_seen_at"]
