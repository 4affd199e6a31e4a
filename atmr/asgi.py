"""ASGI entry point: HTTP and the websockets under /ws/.

No AllowedHostsOriginValidator: it refuses handshakes without an Origin header, and native
phone clients send none. It would add nothing here anyway: sockets authenticate with a bearer
token, never with ambient cookies, so a foreign web page cannot ride a user's session.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmr.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from atmr.metrics import process_exit_on_shutdown  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

process_exit_on_shutdown()  # uvicorn has no per-worker exit hook (atmr/metrics.py)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("ws/", URLRouter(websocket_urlpatterns))]),
    }
)
