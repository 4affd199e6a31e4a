"""The one way other apps push events to sockets.

Safe to call from anywhere: a request, a Celery worker, a management command, async code. A
failing or missing channel layer is logged and swallowed, because a missed live update must
never undo a stored change (clients re-sync over the API).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# Fire-and-forget sends from async callers; held here so they are not garbage-collected.
_pending: set[asyncio.Task[None]] = set()


def layer_message(event: Mapping[str, Any]) -> dict[str, Any]:
    """The channel-layer envelope; consumers forward `event` from their `broadcast` handler."""
    return {"type": "broadcast", "event": dict(event)}


def layer_batch_message(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The envelope of several events in one layer message; consumers forward each event as
    its own frame from their `broadcast_batch` handler."""
    return {"type": "broadcast_batch", "events": [dict(event) for event in events]}


async def apublish(group: str, event: Mapping[str, Any]) -> None:
    """Async publish for consumers; never raises."""
    try:
        layer = get_channel_layer()
        if layer is not None:
            await layer.group_send(group, layer_message(event))
    except Exception:
        logger.exception("Could not publish %s to %s", event.get("type"), group)


async def apublish_batch(group: str, events: Sequence[Mapping[str, Any]]) -> None:
    """Async publish of many events to one group in one layer message (the positions writer:
    one message per company per flush instead of one per driver); never raises."""
    if not events:
        return
    try:
        layer = get_channel_layer()
        if layer is not None:
            await layer.group_send(group, layer_batch_message(events))
    except Exception:
        logger.exception("Could not publish %d %s events", len(events), events[0].get("type"))


async def apublish_many(messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    for group, event in messages:
        await apublish(group, event)


def publish(group: str, event: Mapping[str, Any]) -> None:
    """Send `event` to everyone in `group` now; a no-op when no channel layer is configured."""
    publish_many([(group, event)])


def publish_many(messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Send each `(group, event)` in order. From sync code, one event loop serves them all:
    setting one up (and the layer's connections in it) costs more than the sends."""
    if not messages:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        # async_to_sync cannot run inside an event loop's thread: schedule instead.
        task = loop.create_task(apublish_many(messages))
        _pending.add(task)
        task.add_done_callback(_pending.discard)
        return
    try:
        async_to_sync(apublish_many)(messages)
    except Exception:
        logger.exception("Could not publish %d events", len(messages))


def publish_on_commit(group: str, event: Mapping[str, Any]) -> None:
    """Publish once the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish(group, event))


def publish_many_on_commit(messages: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
    """`publish_many` once the surrounding transaction commits (at once outside one).

    `messages` is read at once (a generator's queries run in the caller's transaction)."""
    batch = list(messages)
    transaction.on_commit(lambda: publish_many(batch))
