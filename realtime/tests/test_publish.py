"""realtime.publish: never raises, whoever calls it and whatever the layer does."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from realtime.publish import apublish, apublish_batch, layer_batch_message, layer_message, publish


class _BrokenLayer:
    async def group_send(self, group: str, message: object) -> None:
        raise ConnectionError("redis is down")


def test_publish_without_a_channel_layer_is_a_no_op(settings):
    settings.CHANNEL_LAYERS = {}
    publish("company.x.dispatch", {"type": "booking_updated"})


def test_publish_swallows_layer_failures(monkeypatch, caplog):
    monkeypatch.setattr("realtime.publish.get_channel_layer", lambda: _BrokenLayer())
    publish("company.x.dispatch", {"type": "booking_updated"})
    assert "Could not publish booking_updated" in caplog.text


def test_publish_from_sync_code_reaches_the_group():
    layer = get_channel_layer()

    async def subscribe() -> str:
        channel = await layer.new_channel()
        await layer.group_add("publish-test", channel)
        return channel

    async def receive(channel: str) -> dict[str, object]:
        try:
            return await asyncio.wait_for(layer.receive(channel), 2)
        finally:
            await layer.group_discard("publish-test", channel)

    loop = asyncio.new_event_loop()
    try:
        channel = loop.run_until_complete(subscribe())
        publish("publish-test", {"type": "chat_message", "n": 1})
        message = loop.run_until_complete(receive(channel))
    finally:
        loop.close()
    assert message == layer_message({"type": "chat_message", "n": 1})


@pytest.mark.asyncio
async def test_publish_inside_an_event_loop_schedules_instead_of_failing(monkeypatch):
    sent: list[tuple[str, object]] = []

    class _Layer:
        async def group_send(self, group: str, message: object) -> None:
            sent.append((group, message))

    monkeypatch.setattr("realtime.publish.get_channel_layer", lambda: _Layer())
    publish("g", {"type": "x"})
    await asyncio.sleep(0)
    await apublish("h", {"type": "y"})
    assert [group for group, _ in sent] == ["g", "h"]


@pytest.mark.asyncio
async def test_publish_batch_sends_one_layer_message_and_never_raises(monkeypatch, caplog):
    sent: list[tuple[str, object]] = []

    class _Layer:
        async def group_send(self, group: str, message: object) -> None:
            sent.append((group, message))

    events = [{"type": "driver_position", "driver_id": "a"}, {"type": "driver_position"}]
    monkeypatch.setattr("realtime.publish.get_channel_layer", lambda: _Layer())
    await apublish_batch("g", events)
    await apublish_batch("g", [])  # nothing to say: no message
    assert sent == [("g", layer_batch_message(events))]
    assert sent[0][1] == {"type": "broadcast_batch", "events": events}

    monkeypatch.setattr("realtime.publish.get_channel_layer", lambda: _BrokenLayer())
    await apublish_batch("g", events)
    assert "Could not publish 2 driver_position events" in caplog.text
