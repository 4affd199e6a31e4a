from __future__ import annotations

from rest_framework import status

from atmr.exceptions import DomainError


class CoordinatesRequired(DomainError):
    """An address without coordinates that no geocoder could place (or none is set)."""

    code = "coordinates_required"


class PickupRequired(DomainError):
    """No pick-up given, and the client has no home coordinates to start from."""

    code = "pickup_required"


class PlaceReadOnly(DomainError):
    """Company staff see the global places but only the deployment's superusers edit them."""

    code = "place_read_only"
    http_status = status.HTTP_403_FORBIDDEN


class PlaceNameTaken(DomainError):
    code = "place_name_taken"
