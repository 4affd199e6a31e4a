"""Channel-layer group names. Only these helpers build them (ASCII, under 100 chars)."""

from __future__ import annotations

from uuid import UUID


def group_for_company_dispatch(company_id: UUID | str) -> str:
    """Dispatchers and company admins of one company."""
    return f"company.{company_id}.dispatch"


def group_for_company_chat(company_id: UUID | str) -> str:
    """Everyone of one company on a socket, drivers included: the team chat."""
    return f"company.{company_id}.chat"


def group_for_driver(driver_id: UUID | str) -> str:
    return f"driver.{driver_id}"
