"""Reads of companies and users."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.cache import cache
from rest_framework_simplejwt import settings as jwt_settings

from atmr.accounts.models import Company

_COMPANY_KEY = "company:v1:{}"
_COMPANY_TTL_S = 300
# Set while a company is suspended, for as long as an access token lives: log-in and refresh
# check the database, so after that no token issued before the suspension is still valid.
_SUSPENDED_KEY = "company:suspended:{}"


def company_cache_key(company_id: uuid.UUID | str) -> str:
    """Where `company_get` caches the company (a hot read may fetch it with other keys)."""
    return _COMPANY_KEY.format(company_id)


def company_get(*, company_id: uuid.UUID | str) -> Company:
    """The company, from the cache when possible (invalidated on every save, see signals)."""
    key = _COMPANY_KEY.format(company_id)
    company = cache.get(key)
    if company is None:
        company = Company.objects.get(id=company_id)
        cache.set(key, company, _COMPANY_TTL_S)
    return company


def company_find(*, key: str) -> Company | None:
    """The company named `key`, or whose id it is (for commands' `--company NAME|ID`)."""
    found = Company.objects.filter(name=key).first()
    if found is None:
        try:
            found = Company.objects.filter(id=uuid.UUID(key)).first()
        except ValueError:  # neither a name nor an id
            found = None
    return found


def company_forget(*, company_id: uuid.UUID | str) -> None:
    cache.delete(_COMPANY_KEY.format(company_id))


def company_suspended_mark(*, company_id: uuid.UUID | str, suspended: bool) -> None:
    key = _SUSPENDED_KEY.format(company_id)
    if suspended:
        # settings.SIMPLE_JWT as simplejwt applies it (read through the module: it is rebuilt
        # when the setting changes).
        lifetime: timedelta = jwt_settings.api_settings.ACCESS_TOKEN_LIFETIME
        cache.set(key, True, int(lifetime.total_seconds()) + 60)
    else:
        cache.delete(key)


def company_is_suspended(*, company_id: uuid.UUID | str) -> bool:
    """Whether access tokens of this company must be refused now (no SQL: a cache read)."""
    return bool(cache.get(_SUSPENDED_KEY.format(company_id)))
