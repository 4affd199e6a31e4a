"""Reads of companies and users."""

from __future__ import annotations

from django.core.cache import cache

from atmr.accounts.models import Company

_COMPANY_KEY = "company:v1:{}"
_COMPANY_TTL_S = 300


def company_get(*, company_id: object) -> Company:
    """The company, from the cache when possible (invalidated on every save, see signals)."""
    key = _COMPANY_KEY.format(company_id)
    company = cache.get(key)
    if company is None:
        company = Company.objects.get(id=company_id)
        cache.set(key, company, _COMPANY_TTL_S)
    return company


def company_forget(*, company_id: object) -> None:
    cache.delete(_COMPANY_KEY.format(company_id))
