"""System checks for configuration that would otherwise fail later and obscurely."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_urls(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    for name in ("REDIS_URL",):
        value = getattr(settings, name, "")
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            problems.append(Error(f"{name} must be a redis:// URL.", id="atmr.E001"))
    osrm = getattr(settings, "OSRM_URL", "")
    if osrm and not osrm.startswith(("http://", "https://")):
        problems.append(Error("OSRM_URL must be an http(s):// URL.", id="atmr.E002"))
    return problems
