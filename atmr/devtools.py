"""Development-only helpers (DEBUG=1): never loaded in production."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def toolbar_shown(request: HttpRequest) -> bool:
    """The debug toolbar on HTML pages only: under /api/ it has nothing to draw into, and its
    history panel re-parses JSON bodies with the standard library, so a hostile body that our
    parser refuses with a 400 (nested 1,000 deep) would crash it into a 500.

    Otherwise the toolbar's own rule: DEBUG on and the request from an internal address.
    """
    if request.path.startswith("/api/"):
        return False
    return bool(settings.DEBUG) and request.META.get("REMOTE_ADDR") in settings.INTERNAL_IPS
