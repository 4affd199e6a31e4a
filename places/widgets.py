"""The admin's coordinate picker: a latitude input with a small map; a click sets lat and lon.

Leaflet comes from our own static files (`places/static/vendor/leaflet/`, npm `leaflet`
1.9.4); tiles from `MAP_TILES_URL` with `MAP_TILES_ATTRIBUTION`. Without JavaScript or tiles
the two number inputs are the plain form they always were.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings


class MapPickerWidget(forms.NumberInput):
    """For a latitude field; `lon_field` names its longitude field on the same form."""

    template_name = "places/widgets/map_picker.html"

    class Media:
        css = {"all": ["vendor/leaflet/leaflet.css", "places/map_picker.css"]}
        js = ["vendor/leaflet/leaflet.js", "places/map_picker.js"]

    def __init__(self, lon_field: str, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"step": "any", **(attrs or {})})
        self.lon_field = lon_field

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        lat_id = context["widget"]["attrs"].get("id", f"id_{name}")
        # Django's ids are "id_" + the field name (with the form's prefix before it, if any).
        context["picker"] = {
            "lat_id": lat_id,
            "lon_id": lat_id[: len(lat_id) - len(name)] + self.lon_field,
            "tiles": settings.MAP_TILES_URL,
            "attribution": settings.MAP_TILES_ATTRIBUTION,
        }
        return context
