"""The sockets' counters (atmr/metrics.py): connections, frames, acks and their latency,
errors, and the positions the writer stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from atmr import metrics
from atmr.asgi import application
from realtime.tests.utils import Communicator, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _read() -> dict[str, float]:
    def child(metric, *labels: str) -> float:
        return metric.labels(*labels)._value.get()

    return {
        "opened": child(metrics.WS_CONNECTIONS_OPENED, "driver"),
        "closed": child(metrics.WS_CONNECTIONS_CLOSED, "driver"),
        "messages": child(metrics.WS_MESSAGES, "driver", "location_batch"),
        "acks": child(metrics.WS_ACKS, "location_batch"),
        "errors": child(metrics.WS_ERRORS, "invalid_field"),
        "ack_latencies": sum(
            s.value
            for s in metrics.WS_ACK_SECONDS.collect()[0].samples
            if s.name.endswith("_count") and s.labels == {"type": "location_batch"}
        ),
        "positions": metrics.POSITIONS_STORED._value.get(),
        "last_stored": metrics.POSITIONS_LAST_STORED._value.get(),
    }


async def test_a_driver_socket_counts_its_connection_frames_acks_and_positions(driver_token):
    before = _read()
    phone = await open_socket("/ws/driver/", driver_token)
    now = datetime.now(UTC).isoformat()
    fixes = [{"lat": 46.52, "lon": 6.63, "ts": now}]
    await phone.send_json_to({"type": "location_batch", "id": 1, "positions": fixes})
    assert (await phone.receive_json_from())["type"] == "ack"
    await phone.send_json_to({"type": "location_batch", "id": 2, "positions": []})
    assert (await phone.receive_json_from())["code"] == "invalid_field"
    await phone.disconnect()
    after = _read()

    delta = {key: after[key] - before[key] for key in before}
    assert delta["opened"] == 1
    assert delta["closed"] == 1
    # The invalid frame got an error, not an ack: it is not a handled message.
    assert (delta["messages"], delta["acks"], delta["ack_latencies"]) == (1, 1, 1)
    assert delta["errors"] == 1
    assert delta["positions"] == 1
    assert after["last_stored"] > datetime.now(UTC).timestamp() - 60


async def test_a_refused_socket_is_not_counted_as_a_connection():
    before = _read()
    phone = Communicator(application, "/ws/driver/")  # no token: accepted, closed with 4401
    await phone.connect()
    assert (await phone.receive_output())["code"] == 4401
    await phone.disconnect()
    after = _read()
    assert (after["opened"] - before["opened"], after["closed"] - before["closed"]) == (0, 0)
