"""What flows over the sockets once they are open."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async

from atmr.chat.models import ChatMessage
from bookings.models import Booking
from bookings.services import booking_assign
from drivers.models import Driver, DriverLocation
from realtime import consumers, positions
from realtime.consumers import CLOSE_RATE_LIMITED, CLOSE_TOO_BIG
from realtime.positions import location_writer
from realtime.tests.utils import QueryRecorder, open_socket, receive_type
from tests.factories import BookingFactory, DriverFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _fix(seconds_ago: int, lat: float = 46.52, **extra: object) -> dict[str, object]:
    ts = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return {"lat": lat, "lon": 6.63, "ts": ts.isoformat(), **extra}


@database_sync_to_async
def _locations(driver_id: object) -> list[DriverLocation]:
    return list(DriverLocation.objects.filter(driver_id=driver_id).order_by("recorded_at"))


@database_sync_to_async
def _driver(driver_id: object) -> Driver:
    return Driver.objects.get(id=driver_id)


# --- location batches ---------------------------------------------------------------------------
async def test_location_batch_is_stored_acked_and_reaches_dispatchers(
    driver, driver_token, dispatcher_token
):
    office = await open_socket("/ws/company/", dispatcher_token)
    phone = await open_socket("/ws/driver/", driver_token)
    batch = [_fix(30, 46.50, speed=12.5, heading=90, accuracy=5), _fix(15, 46.51), _fix(0, 46.52)]
    await phone.send_json_to({"type": "location_batch", "id": "b-1", "positions": batch})

    assert await phone.receive_json_from() == {
        "type": "ack",
        "id": "b-1",
        "of": "location_batch",
        "accepted": 3,
    }
    position = await receive_type(office, "driver_position")
    assert position["driver_id"] == str(driver.id)
    assert (position["lat"], position["lon"]) == (46.52, 6.63)
    rows = await _locations(driver.id)
    assert [r.lat for r in rows] == [46.50, 46.51, 46.52]
    assert rows[0].speed == 12.5 and rows[0].company_id == driver.company_id
    fresh = await _driver(driver.id)
    assert (fresh.last_lat, fresh.last_seen_at) == (46.52, rows[-1].recorded_at)
    await phone.disconnect()
    await office.disconnect()


async def test_resent_batch_stores_nothing_twice_and_is_not_rebroadcast(
    driver, driver_token, dispatcher_token
):
    office = await open_socket("/ws/company/", dispatcher_token)
    phone = await open_socket("/ws/driver/", driver_token)
    message = {"type": "location_batch", "id": 7, "positions": [_fix(10), _fix(5)]}
    for _ in range(2):
        await phone.send_json_to(message)
        assert (await phone.receive_json_from())["type"] == "ack"
    assert len(await _locations(driver.id)) == 2
    await receive_type(office, "driver_position")
    assert await office.receive_nothing(timeout=0.3)
    await phone.disconnect()
    await office.disconnect()


async def test_epoch_milliseconds_and_iso_of_one_instant_are_one_fix(driver, driver_token):
    phone = await open_socket("/ws/driver/", driver_token)
    when = datetime.now(UTC).replace(microsecond=250_000) - timedelta(minutes=1)
    batch = [{"lat": 1, "lon": 2, "ts": when.isoformat()}]
    await phone.send_json_to({"type": "location_batch", "positions": batch})
    await phone.receive_json_from()
    batch = [{"lat": 1, "lon": 2, "ts": int(when.timestamp() * 1000)}]
    await phone.send_json_to({"type": "location_batch", "positions": batch})
    await phone.receive_json_from()
    rows = await _locations(driver.id)
    assert [r.recorded_at for r in rows] == [when]
    await phone.disconnect()


async def test_older_batch_does_not_move_the_driver_back(driver, driver_token):
    phone = await open_socket("/ws/driver/", driver_token)
    for fix in (_fix(0, 46.6), _fix(60, 46.1)):
        await phone.send_json_to({"type": "location_batch", "positions": [fix]})
        await phone.receive_json_from()
    assert (await _driver(driver.id)).last_lat == 46.6
    assert len(await _locations(driver.id)) == 2
    await phone.disconnect()


async def test_invalid_item_rejects_the_whole_batch_and_names_it(driver, driver_token):
    phone = await open_socket("/ws/driver/", driver_token)
    batch = [_fix(10), {"lat": 95, "lon": 6.6, "ts": _fix(5)["ts"]}]
    await phone.send_json_to({"type": "location_batch", "id": "x", "positions": batch})
    error = await phone.receive_json_from()
    assert error["type"] == "error" and error["id"] == "x"
    assert (error["code"], error["field"]) == ("invalid_field", "positions[1].lat")
    assert await _locations(driver.id) == []
    # The socket stays usable.
    await phone.send_json_to({"type": "location_batch", "positions": [_fix(1)]})
    assert (await phone.receive_json_from())["type"] == "ack"
    await phone.disconnect()


async def test_location_batch_costs_no_user_query_and_two_statements(
    driver, driver_token, monkeypatch
):
    # The ETA refresh a batch triggers runs off this path, on another thread (its own cost is
    # dispatch/tests/test_eta_schedule.py's); on SQLite its queries would be recorded here.
    monkeypatch.setattr(positions, "etas_positions_schedule", lambda moved: None)
    phone = await open_socket("/ws/driver/", driver_token)
    async with QueryRecorder() as queries:
        await phone.send_json_to({"type": "location_batch", "positions": [_fix(2), _fix(1)]})
        assert (await phone.receive_json_from())["type"] == "ack"
    statements = queries.statements()
    assert not any("accounts_user" in q for q in queries.sql)
    # the bulk insert, the conditional update of the driver's last position
    assert len(statements) == 2, statements
    await phone.disconnect()


async def test_batches_of_many_phones_share_one_insert_and_each_is_acked(
    company, driver, driver_token, dispatcher_token, token_for, monkeypatch
):
    # A wider window than production's few ms, so that the three frames surely meet.
    monkeypatch.setattr(location_writer, "delay_s", 0.05)

    @database_sync_to_async
    def more_drivers() -> list[tuple[Driver, str]]:
        return [(d, token_for(d.user)) for d in DriverFactory.create_batch(2, company=company)]

    more = await more_drivers()
    drivers = [driver, *(d for d, _ in more)]
    tokens = [driver_token, *(t for _, t in more)]
    office = await open_socket("/ws/company/", dispatcher_token)
    phones = [await open_socket("/ws/driver/", t) for t in tokens]
    async with QueryRecorder() as queries:
        for i, phone in enumerate(phones):
            await phone.send_json_to({"type": "location_batch", "id": i, "positions": [_fix(1)]})
        acks = [await phone.receive_json_from() for phone in phones]
    assert [(a["type"], a["id"]) for a in acks] == [("ack", 0), ("ack", 1), ("ack", 2)]
    assert [q.split()[0] for q in queries.statements()].count("INSERT") == 1
    # Still one driver_position frame per driver for the office (one layer message carried them).
    seen = {(await receive_type(office, "driver_position"))["driver_id"] for _ in drivers}
    assert seen == {str(d.id) for d in drivers}
    for d in drivers:
        assert len(await _locations(d.id)) == 1
    for communicator in (*phones, office):
        await communicator.disconnect()


async def test_failed_store_answers_server_error_and_the_socket_stays_usable(
    driver, driver_token, monkeypatch
):
    def broken(**kwargs: object) -> None:
        raise RuntimeError("database went away")

    phone = await open_socket("/ws/driver/", driver_token)
    with monkeypatch.context() as patch:
        patch.setattr("realtime.positions.location_batches_store", broken)
        await phone.send_json_to({"type": "location_batch", "id": "a", "positions": [_fix(2)]})
        error = await phone.receive_json_from()
    assert (error["type"], error["id"], error["code"]) == ("error", "a", "server_error")
    await phone.send_json_to({"type": "location_batch", "id": "b", "positions": [_fix(2)]})
    assert (await phone.receive_json_from())["type"] == "ack"
    assert len(await _locations(driver.id)) == 1
    await phone.disconnect()


async def test_positions_fan_out_through_publish_and_a_layer_failure_keeps_the_ack(
    driver, driver_token, monkeypatch, caplog
):
    class _BrokenLayer:
        async def group_send(self, group: str, message: object) -> None:
            raise ConnectionError("redis is down")

    phone = await open_socket("/ws/driver/", driver_token)
    monkeypatch.setattr("realtime.publish.get_channel_layer", lambda: _BrokenLayer())
    await phone.send_json_to({"type": "location_batch", "id": "p", "positions": [_fix(1)]})
    assert (await phone.receive_json_from())["type"] == "ack"  # stored, whatever the layer
    assert len(await _locations(driver.id)) == 1
    for _ in range(100):  # the fan-out runs right after the ack
        if "Could not publish 1 driver_position events" in caplog.text:
            break
        await asyncio.sleep(0.05)
    assert "Could not publish 1 driver_position events" in caplog.text
    await phone.disconnect()


async def test_other_company_dispatchers_see_no_positions(driver_token, other_dispatcher_token):
    stranger = await open_socket("/ws/company/", other_dispatcher_token)
    phone = await open_socket("/ws/driver/", driver_token)
    await phone.send_json_to({"type": "location_batch", "positions": [_fix(1)]})
    await phone.receive_json_from()
    assert await stranger.receive_nothing(timeout=0.3)
    await phone.disconnect()
    await stranger.disconnect()


# --- malformed input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("{not json", "invalid_json", None),
        ("[1, 2]", "invalid_message", None),
        ('{"positions": []}', "missing_field", "type"),
        ('{"type": "teleport"}', "unknown_type", "type"),
        ('{"type": 5}', "unknown_type", "type"),
        ('{"type": "location_batch"}', "missing_field", "positions"),
        ('{"type": "location_batch", "positions": "here"}', "invalid_field", "positions"),
        ('{"type": "location_batch", "positions": []}', "invalid_field", "positions"),
        ('{"type": "location_batch", "positions": [7]}', "invalid_field", "positions[0]"),
        (
            '{"type": "location_batch", "positions": [{"lat": "1", "lon": 2, "ts": 1}]}',
            "invalid_field",
            "positions[0].lat",
        ),
        (
            '{"type": "location_batch", "positions": [{"lat": 1, "lon": 2, '
            '"ts": "0001-01-01T00:05:00+01:00"}]}',
            "invalid_field",
            "positions[0].ts",
        ),
        ('{"type": "chat_message", "text": 42}', "invalid_field", "text"),
        ('{"type": "chat_message", "text": "   "}', "invalid_field", "text"),
        (
            '{"type": "booking_status", "booking_id": "nope", "status": "en_route"}',
            "invalid_field",
            "booking_id",
        ),
        ('{"type": "chat_message", "id": {"a": 1}, "text": "hi"}', "invalid_field", "id"),
    ],
)
async def test_malformed_frames_get_an_error_and_keep_the_socket(driver_token, frame, code, field):
    phone = await open_socket("/ws/driver/", driver_token)
    await phone.send_to(text_data=frame)
    error = await phone.receive_json_from()
    assert (error["type"], error["code"], error["field"]) == ("error", code, field)
    await phone.send_json_to({"type": "location_batch", "positions": [_fix(1)]})
    assert (await phone.receive_json_from())["type"] == "ack"
    await phone.disconnect()


async def test_binary_frame_gets_an_error(driver_token):
    phone = await open_socket("/ws/driver/", driver_token)
    await phone.send_to(bytes_data=b"\x00\x01")
    assert (await phone.receive_json_from())["code"] == "unsupported_frame"
    await phone.disconnect()


async def test_office_socket_does_not_take_positions(dispatcher_token):
    office = await open_socket("/ws/company/", dispatcher_token)
    await office.send_json_to({"type": "location_batch", "positions": [_fix(1)]})
    assert (await office.receive_json_from())["code"] == "type_not_allowed"
    await office.disconnect()


async def test_oversize_frame_closes_1009(driver_token):
    phone = await open_socket("/ws/driver/", driver_token)
    await phone.send_to(text_data='{"type": "chat_message", "text": "' + "x" * 40_000 + '"}')
    assert await phone.receive_output() == {"type": "websocket.close", "code": 1009}
    assert CLOSE_TOO_BIG == 1009
    await phone.disconnect()


async def test_flooding_closes_4429(driver_token, monkeypatch):
    # The bucket's clock stands still, so no token comes back however slowly a loaded machine
    # reads the 40 frames: exactly the burst of 30 is answered, then the socket closes.
    monkeypatch.setattr(consumers, "time", SimpleNamespace(monotonic=lambda: 1000.0))
    phone = await open_socket("/ws/driver/", driver_token)
    for _ in range(40):
        await phone.send_to(text_data="{}")
    kinds = []
    while True:
        output = await phone.receive_output()
        kinds.append(output.get("code") if output["type"] == "websocket.close" else "frame")
        if output["type"] == "websocket.close":
            break
    assert kinds[-1] == CLOSE_RATE_LIMITED and kinds.count("frame") == 30
    await phone.disconnect()


# --- booking status -------------------------------------------------------------------------------
async def test_driver_moves_its_booking_and_the_office_sees_it(
    assigned_booking, driver_token, dispatcher_token
):
    office = await open_socket("/ws/company/", dispatcher_token)
    phone = await open_socket("/ws/driver/", driver_token)
    booking_id = str(assigned_booking.id)
    await phone.send_json_to(
        {"type": "booking_status", "id": "s1", "booking_id": booking_id, "status": "en_route"}
    )
    ack = await phone.receive_json_from()
    assert (ack["type"], ack["id"], ack["booking"]["status"]) == ("ack", "s1", "en_route")
    updated = await receive_type(office, "booking_updated")
    assert updated["booking"] == {**updated["booking"], "id": booking_id, "status": "en_route"}
    stored = await database_sync_to_async(Booking.objects.get)(id=assigned_booking.id)
    assert stored.status == "en_route"
    await phone.disconnect()
    await office.disconnect()


async def test_bad_transition_is_an_error(assigned_booking, driver_token):
    phone = await open_socket("/ws/driver/", driver_token)
    message = {"type": "booking_status", "booking_id": str(assigned_booking.id)}
    await phone.send_json_to({**message, "status": "on_board"})  # assigned → on_board: no
    assert (await phone.receive_json_from())["code"] == "invalid_transition"
    await phone.send_json_to({**message, "status": "cancelled"})  # the office's, not a driver's
    assert (await phone.receive_json_from())["code"] == "invalid_transition"
    await phone.disconnect()


async def test_someone_elses_booking_is_unknown(company, other_company, driver_token):
    @database_sync_to_async
    def bookings() -> list[Booking]:
        colleague = DriverFactory(company=company)
        theirs = BookingFactory(
            company=company, driver=colleague, vehicle=colleague.default_vehicle, status="assigned"
        )
        foreign = BookingFactory(company=other_company)
        return [theirs, foreign]

    phone = await open_socket("/ws/driver/", driver_token)
    for booking in await bookings():
        await phone.send_json_to(
            {"type": "booking_status", "booking_id": str(booking.id), "status": "en_route"}
        )
        error = await phone.receive_json_from()
        assert (error["code"], error["field"]) == ("not_found", "booking_id")
    await phone.disconnect()


async def test_driver_receives_its_assignments(company, driver, driver_token):
    phone = await open_socket("/ws/driver/", driver_token)

    @database_sync_to_async
    def assign() -> Booking:
        return booking_assign(booking=BookingFactory(company=company), driver=driver)

    booking = await assign()
    event = await receive_type(phone, "assignment")
    assert (event["action"], event["booking"]["id"]) == ("assigned", str(booking.id))
    await phone.disconnect()


# --- chat -----------------------------------------------------------------------------------------
async def test_chat_reaches_the_team_is_stored_and_acked(
    driver, driver_token, dispatcher_token, other_dispatcher_token
):
    office = await open_socket("/ws/company/", dispatcher_token)
    stranger = await open_socket("/ws/company/", other_dispatcher_token)
    phone = await open_socket("/ws/driver/", driver_token)
    await phone.send_json_to({"type": "chat_message", "id": "c1", "text": " Stuck in traffic "})

    ack = await receive_type(phone, "ack")
    assert (ack["id"], ack["message"]["text"]) == ("c1", "Stuck in traffic")
    seen = await receive_type(office, "chat_message")
    assert seen["message"]["sender"] == {
        "id": str(driver.user_id),
        "email": driver.user.email,
        "role": "driver",
    }
    assert seen["message"]["id"] == ack["message"]["id"]
    assert await stranger.receive_nothing(timeout=0.3)
    stored = await database_sync_to_async(ChatMessage.objects.get)()
    assert (stored.company_id, stored.sender_id) == (driver.company_id, driver.user_id)
    for communicator in (phone, office, stranger):
        await communicator.disconnect()


async def test_office_chat_reaches_drivers(dispatcher_token, driver_token):
    office = await open_socket("/ws/company/", dispatcher_token)
    phone = await open_socket("/ws/driver/", driver_token)
    await office.send_json_to({"type": "chat_message", "text": "Take the A1"})
    assert (await receive_type(phone, "chat_message"))["message"]["text"] == "Take the A1"
    await phone.disconnect()
    await office.disconnect()


async def test_chat_costs_no_user_query(driver_token):
    phone = await open_socket("/ws/driver/", driver_token)
    async with QueryRecorder() as queries:
        await phone.send_json_to({"type": "chat_message", "text": "hello"})
        await receive_type(phone, "ack")
    assert not any("accounts_user" in q for q in queries.sql)
    assert [q.split()[0] for q in queries.statements()] == ["INSERT"]
    await phone.disconnect()
