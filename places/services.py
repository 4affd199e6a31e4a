"""Every write to places, and turning an address into coordinates."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q

from atmr.accounts.models import Company
from places.errors import CoordinatesRequired, PlaceNameTaken
from places.geocoding import geocode
from places.models import Place, place_search_text


def coordinates_resolve(
    *, address: str, lat: float | None, lon: float | None, field: str
) -> tuple[float, float, bool]:
    """(lat, lon, geocoded): the given coordinates, else the geocoder's for `address`.

    Raises CoordinatesRequired (400 naming `field`) when neither is there: no geocoder set,
    nothing found, or it failed. May wait `GEOCODER_TIMEOUT_S` for the geocoder (cached).
    """
    if lat is not None and lon is not None:
        return lat, lon, False
    found = geocode(address)
    if found is None:
        raise CoordinatesRequired(
            f"Coordinates required for the {field} address: give lat and lon "
            "(no geocoder could place it).",
            field=field,
        )
    return found.lat, found.lon, True


def _fill(place: Place, fields: dict[str, Any]) -> list[str]:
    for name, value in fields.items():
        setattr(place, name, value)
    changed = list(fields)
    given = {"lat", "lon"} & set(fields)
    if "address" in fields or given:
        # A new address alone: its old position is wrong now, so it is found again.
        lat: float | None = place.lat if given else None
        lon: float | None = place.lon if given else None
        place.lat, place.lon, _ = coordinates_resolve(
            address=place.address, lat=lat, lon=lon, field="address"
        )
        changed += ["lat", "lon"]
    place.aliases = _clean_aliases(place.aliases)
    place.search_text = place_search_text(place.name, place.aliases)
    return sorted({*changed, "aliases", "search_text"})


def _clean_aliases(aliases: list[str] | None) -> list[str]:
    seen: dict[str, str] = {}
    for alias in aliases or []:
        text = " ".join(str(alias).split())
        if text:
            seen.setdefault(text.casefold(), text)
    return list(seen.values())


def _check_name_free(place: Place) -> None:
    # The unique constraints are partial (company or global), so a clash would come back from
    # `full_clean` without a field; this names it.
    owner = Q(company__isnull=True) if place.company_id is None else Q(company_id=place.company_id)
    taken = Place.objects.filter(owner, name=place.name).exclude(pk=place.pk)
    if taken.exists():
        whose = "A global place" if place.company_id is None else "Another place of the company"
        raise PlaceNameTaken(f"{whose} is already called {place.name!r}.", field="name")


@transaction.atomic
def place_create(*, company: Company | None, **fields: Any) -> Place:
    """A company's place (or a global one with `company=None`: superusers only, the callers
    check). An address without lat/lon is geocoded (see `coordinates_resolve`)."""
    place = Place(company=company)
    fields.setdefault("lat", None)
    fields.setdefault("lon", None)
    _fill(place, fields)
    _check_name_free(place)
    place.full_clean()
    place.save()
    return place


@transaction.atomic
def place_update(*, place: Place, changes: dict[str, Any]) -> Place:
    """Change a place; clearing lat/lon with a new address geocodes it again."""
    updated = _fill(place, changes)
    _check_name_free(place)
    place.full_clean()
    place.save(update_fields=[*updated, "updated_at"])
    return place
