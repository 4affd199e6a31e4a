"""WSGI entry point: the HTTP API and admin under a threaded WSGI server (gunicorn)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmr.settings")
application = get_wsgi_application()
