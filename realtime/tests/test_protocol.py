"""parse_message: every inbound type, its limits, and the field each error names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import orjson
import pytest

from realtime.protocol import (
    MAX_POSITIONS,
    BookingStatus,
    ChatText,
    LocationBatch,
    ProtocolError,
    parse_message,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALL = frozenset({"location_batch", "booking_status", "chat_message"})


def parse(message: object, allowed: frozenset[str] = ALL):
    return parse_message(orjson.dumps(message).decode(), allowed=allowed, now=NOW)


def error_of(message: object) -> tuple[str, str | None]:
    with pytest.raises(ProtocolError) as caught:
        parse(message)
    return caught.value.code, caught.value.field


def test_location_batch_accepts_iso_and_epoch_ms_and_optional_fields():
    ms = int((NOW - timedelta(seconds=5)).timestamp() * 1000)
    batch = parse(
        {
            "type": "location_batch",
            "id": "a",
            "positions": [
                {"lat": 46.5, "lon": 6.6, "ts": "2026-12-01T09:59:00+01:00", "speed": 3},
                {"lat": -1, "lon": 179.5, "ts": ms, "heading": 359.9, "accuracy": 4.5},
            ],
        }
    )
    assert isinstance(batch, LocationBatch) and batch.id == "a"
    first, second = batch.positions
    assert first.recorded_at == NOW - timedelta(minutes=1) and first.speed == 3.0
    assert second.recorded_at == NOW - timedelta(seconds=5) and second.heading == 359.9


def test_duplicate_timestamps_in_one_batch_are_one_fix():
    fix = {"lat": 1, "lon": 1, "ts": "2026-12-01T08:59:00Z"}
    assert len(parse({"type": "location_batch", "positions": [fix, fix]}).positions) == 1


@pytest.mark.parametrize(
    ("fix", "field"),
    [
        ({"lon": 1, "ts": "2026-12-01T08:59:00Z"}, "positions[0].lat"),
        ({"lat": 91, "lon": 1, "ts": "2026-12-01T08:59:00Z"}, "positions[0].lat"),
        ({"lat": 1, "lon": -181, "ts": "2026-12-01T08:59:00Z"}, "positions[0].lon"),
        ({"lat": True, "lon": 1, "ts": "2026-12-01T08:59:00Z"}, "positions[0].lat"),
        ({"lat": 1, "lon": 1}, "positions[0].ts"),
        ({"lat": 1, "lon": 1, "ts": "yesterday"}, "positions[0].ts"),
        ({"lat": 1, "lon": 1, "ts": "2026-12-01T08:59:00"}, "positions[0].ts"),  # naive
        ({"lat": 1, "lon": 1, "ts": "2026-12-01T09:10:00Z"}, "positions[0].ts"),  # future
        ({"lat": 1, "lon": 1, "ts": "2026-11-01T09:00:00Z"}, "positions[0].ts"),  # too old
        ({"lat": 1, "lon": 1, "ts": 10**18}, "positions[0].ts"),
        # Year 1 and 9999 with an offset overflowed the conversion to UTC (a dropped socket).
        ({"lat": 1, "lon": 1, "ts": "0001-01-01T00:05:00+01:00"}, "positions[0].ts"),
        ({"lat": 1, "lon": 1, "ts": "0001-01-01T00:05:00Z"}, "positions[0].ts"),
        ({"lat": 1, "lon": 1, "ts": "9999-12-31T23:55:00-01:00"}, "positions[0].ts"),
        ({"lat": 1, "lon": 1, "ts": -62135596800000}, "positions[0].ts"),
        ({"lat": 1, "lon": 1, "ts": [1]}, "positions[0].ts"),
        ({"lat": 1, "lon": 1, "ts": "2026-12-01T08:59:00Z", "speed": -1}, "positions[0].speed"),
        (
            {"lat": 1, "lon": 1, "ts": "2026-12-01T08:59:00Z", "heading": "N"},
            "positions[0].heading",
        ),
    ],
)
def test_bad_fix_names_its_field(fix, field):
    good = {"lat": 1, "lon": 1, "ts": "2026-12-01T08:58:00Z"}
    assert error_of({"type": "location_batch", "positions": [fix, good]}) == (
        "missing_field" if "required" in _detail(fix) else "invalid_field",
        field,
    )


def _detail(fix: dict[str, object]) -> str:
    try:
        parse({"type": "location_batch", "positions": [fix]})
    except ProtocolError as exc:
        return exc.detail
    return ""


def test_batch_size_is_bounded():
    fix = {"lat": 1, "lon": 1}
    positions = [{**fix, "ts": f"2026-12-01T08:{m:02d}:00Z"} for m in range(MAX_POSITIONS)]
    assert len(parse({"type": "location_batch", "positions": positions}).positions) == 50
    positions.append({**fix, "ts": "2026-12-01T07:00:00Z"})
    assert error_of({"type": "location_batch", "positions": positions}) == (
        "invalid_field",
        "positions",
    )


def test_booking_status_and_chat():
    booking_id = uuid4()
    status = parse({"type": "booking_status", "booking_id": str(booking_id), "status": "en_route"})
    assert status == BookingStatus(id=None, booking_id=booking_id, status="en_route")
    assert parse({"type": "chat_message", "id": 3, "text": "x" * 2000}) == ChatText(3, "x" * 2000)
    assert error_of({"type": "chat_message", "text": "x" * 2001}) == ("invalid_field", "text")
    assert error_of({"type": "booking_status", "booking_id": str(booking_id)}) == (
        "missing_field",
        "status",
    )


def test_errors_carry_the_client_id():
    with pytest.raises(ProtocolError) as caught:
        parse({"type": "chat_message", "id": "m-9"})
    assert caught.value.client_id == "m-9"


def test_types_not_allowed_on_this_socket():
    with pytest.raises(ProtocolError) as caught:
        parse({"type": "location_batch", "positions": []}, allowed=frozenset({"chat_message"}))
    assert caught.value.code == "type_not_allowed"


def test_overlong_client_id_and_bool_id_are_rejected():
    assert error_of({"type": "chat_message", "id": "i" * 65, "text": "a"}) == (
        "invalid_field",
        "id",
    )
    assert error_of({"type": "chat_message", "id": True, "text": "a"}) == ("invalid_field", "id")
