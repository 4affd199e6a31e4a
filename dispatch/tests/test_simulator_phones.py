"""The simulator's phones against a stand-in server speaking the driver socket's protocol: how
they cope with a server that has `arrived` and a no-show wait (the ETA work), or has neither.

The stand-in is a real websocket server on loopback (websockets); the log-in is an httpx mock
transport. The real server is exercised in test_simulate_day.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve

from dispatch.engine.geo import Location
from dispatch.simulator import runner
from dispatch.simulator.runner import Playback, play
from dispatch.simulator.script import NO_SHOW, Delay, DriverDay, Leg, Stop, script_build

pytestmark = pytest.mark.asyncio
ZURICH = ZoneInfo("Europe/Zurich")
HOME, P1, D1, P2, D2 = (Location(46.50 + i / 100, 6.60) for i in range(5))


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=ZURICH)


def ten_minutes(a: Location, b: Location) -> Leg:
    return Leg(0.0 if a == b else 600.0, (a, b))


DAY = DriverDay(
    "d1",
    "d1@x.test",
    "Driver One",
    (
        Stop("start", None, HOME, None, 0, seq=0, departure=at(8)),
        Stop("pickup", "a", P1, at(9), 120, seq=1, planned_leg_s=900),
        Stop("dropoff", "a", D1, None, 120, seq=2, planned_leg_s=900),
        Stop("pickup", "b", P2, at(10), 120, seq=3, planned_leg_s=900),
        Stop("dropoff", "b", D2, None, 120, seq=4, planned_leg_s=900),
    ),
    statuses={"a": "assigned", "b": "assigned"},
)


class StandIn:
    """Answers like ws/driver/: acks everything, except `arrived` when it does not know it
    and the first `early_no_shows` no-shows (the no-show wait is not over)."""

    def __init__(
        self, *, knows_arrived: bool, early_no_shows: int = 0, lose_ack_of: str | None = None
    ) -> None:
        self.knows_arrived, self.early_no_shows = knows_arrived, early_no_shows
        self.lose_ack_of = lose_ack_of  # applied, then the socket closes (4401) before the ack
        self.mute = False  # answers no status at all (a server stuck)
        self.applied: dict[str, str] = {}
        self.statuses: list[str] = []
        self.fixes = 0
        self.bearer: str | None = None

    async def __call__(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.bearer = ws.request.headers.get("Authorization")
        await ws.send(json.dumps({"type": "hello", "driver_id": "d1"}))
        async for frame in ws:
            message = json.loads(frame)
            if self.mute and message["type"] == "booking_status":
                continue
            lose = self.lose_ack_of is not None and message.get("status") == self.lose_ack_of
            if lose and message["booking_id"] == "a":
                self.lose_ack_of = None
                self.statuses.append(message["status"])
                self.applied["a"] = message["status"]
                await ws.close(4401)
                return
            await ws.send(json.dumps(self.answer(message)))

    def answer(self, message: dict) -> dict:
        ack = {"type": "ack", "id": message["id"], "of": message["type"]}
        if message["type"] == "location_batch":
            self.fixes += len(message["positions"])
            return {**ack, "accepted": len(message["positions"])}
        status = message["status"]
        self.statuses.append(status)
        refuse = status == "arrived" and not self.knows_arrived
        refuse |= self.applied.get(message["booking_id"]) == status  # already there
        if status == "no_show" and self.early_no_shows:
            self.early_no_shows -= 1
            refuse = True
        if not refuse:
            self.applied[message["booking_id"]] = status
        if refuse:
            return {"type": "error", "id": message["id"], "code": "invalid_transition",
                    "field": "status", "detail": "Not now."}  # fmt: skip
        return {**ack, "booking": {"id": message["booking_id"], "status": status}}


def _api(stand_in: StandIn) -> httpx.MockTransport:
    """The API's log-in, token refresh and a driver's GET of its booking."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/refresh":
            return httpx.Response(200, json={"access": "token-2"})
        if request.url.path.startswith("/api/bookings/"):
            booking = request.url.path.rsplit("/", 1)[1]
            return httpx.Response(200, json={"id": booking, "status": stand_in.applied[booking]})
        assert request.url.path == "/api/auth/login"
        user = {"id": "u1", "email": "d1@x.test", "role": "driver", "driver_id": "d1"}
        return httpx.Response(200, json={"access": "token-1", "refresh": "r", "user": user})

    return httpx.MockTransport(answer)


async def _play(stand_in: StandIn, delays: list[Delay], max_seconds: float = 60) -> runner.Summary:
    script = script_build(DAY, delays=delays, router=ten_minutes)
    assert script.begins is not None
    lines: list[str] = []
    playback = Playback(
        scripts=[script],
        start=script.begins,
        until=None,
        speed=3000,  # over the command's limit: the day in about two seconds
        max_seconds=max_seconds,
        tz=ZURICH,
        password="pw",
        log=lines.append,
    )
    async with serve(stand_in, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        return await play(
            playback,
            http_url="http://api.test",
            ws_url=f"ws://127.0.0.1:{port}/ws/driver/",
            transport=_api(stand_in),
        )


async def test_a_server_with_arrived_and_a_no_show_wait(monkeypatch):
    monkeypatch.setattr(runner, "NO_SHOW_RETRY_S", 0.1)
    stand_in = StandIn(knows_arrived=True, early_no_shows=1)

    summary = await _play(stand_in, [Delay("a", NO_SHOW)])

    assert stand_in.bearer == "Bearer token-1"
    # The early no-show is asked again while the driver drives on to its next trip.
    assert stand_in.statuses.count("no_show") == 2
    assert stand_in.statuses[:3] == ["en_route", "arrived", "no_show"]
    assert stand_in.statuses[-3:] == ["arrived", "on_board", "completed"]
    assert summary.arrived_supported is True and summary.no_shows_waiting == set()
    assert summary.statuses == {"en_route": 2, "arrived": 2, "no_show": 1, "on_board": 1,
                                "completed": 1}  # fmt: skip
    assert summary.errors == [] and summary.refused == {}
    assert summary.positions == stand_in.fixes > 0
    # What the phone sent, in order, for benches timing the server's reaction (the no-show
    # asked again is not a new message of the script).
    sent = summary.sent
    assert [m.real for m in sent] == sorted(m.real for m in sent)
    assert [m.kind for m in sent if m.kind != "positions"] == [
        "en_route", "arrived", "no_show", "en_route", "arrived", "on_board", "completed"
    ]  # fmt: skip
    batches = [m for m in sent if m.kind == "positions"]
    assert len(batches) == summary.batches and all(m.where is not None for m in batches)
    assert {m.booking for m in sent if m.kind == "arrived"} == {"a", "b"}


async def test_a_server_without_arrived_is_asked_once():
    stand_in = StandIn(knows_arrived=False)

    summary = await _play(stand_in, [])

    assert stand_in.statuses == [
        "en_route", "arrived", "on_board", "completed", "en_route", "on_board", "completed"
    ]  # fmt: skip
    assert summary.arrived_supported is False
    assert summary.refused == {} and summary.errors == []
    assert summary.stopped == "day played to the end"


async def test_a_status_whose_ack_was_lost_is_checked_over_the_api():
    stand_in = StandIn(knows_arrived=True, lose_ack_of="on_board")

    summary = await _play(stand_in, [])

    # Applied, socket closed (token expired) before the ack; sent again on a fresh token and
    # refused as already done; the API shows it on board: counted once, no error.
    assert stand_in.statuses[:4] == ["en_route", "arrived", "on_board", "on_board"]
    assert stand_in.bearer == "Bearer token-2"
    assert summary.reconnects == 1
    assert summary.statuses["on_board"] == 2 and summary.statuses["completed"] == 2
    assert summary.refused == {} and summary.errors == []


async def test_stopping_cuts_off_a_phone_stuck_waiting_for_the_server(monkeypatch):
    monkeypatch.setattr(runner, "STOP_GRACE_S", 0.5)
    stand_in = StandIn(knows_arrived=True)
    stand_in.mute = True

    summary = await _play(stand_in, [], max_seconds=1)

    assert summary.stopped == "--max-seconds 1 reached"
    assert summary.errors == ["phones still waiting for the server were cut off"]
    assert stand_in.statuses == [] and summary.statuses == {}
