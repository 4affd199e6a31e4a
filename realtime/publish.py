"""The one way other apps push events to sockets.

Safe to call from anywhere: a request, a Celery worker, a management command. A failing
channel layer is logged and swallowed, because a missed live update must never undo a stored
change (clients re-sync over the API).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def publish(group: str, event: Mapping[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "broadcast", "event": dict(event)})
    except Exception:
        logger.exception("Could not publish %s to %s", event.get("type"), group)


def publish_on_commit(group: str, event: Mapping[str, Any]) -> None:
    """Publish once the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish(group, event))
