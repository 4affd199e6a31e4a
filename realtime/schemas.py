"""Shapes of the messages the server sends on sockets (see realtime/PROTOCOL.md)."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# What a driver is told about a trip: it is theirs now, it changed, it was taken away.
AssignmentAction = Literal["assigned", "changed", "withdrawn"]
# DispatchRun.Status's values (dispatch/tests/test_runs.py checks the two stay one set).
RunStatus = Literal["queued", "running", "succeeded", "failed"]


class BookingSummary(TypedDict):
    id: str
    status: str
    driver: str | None
    scheduled_at: str
    pickup_address: str
    dropoff_address: str


class BookingUpdatedEvent(TypedDict):
    type: Literal["booking_updated"]
    booking: BookingSummary


class AssignmentEvent(TypedDict):
    type: Literal["assignment"]
    action: AssignmentAction
    booking: BookingSummary


class BookingReadyEvent(TypedDict):
    """A will-call return was released: the patient is ready from `pickup_earliest`."""

    type: Literal["booking_ready"]
    booking: BookingSummary
    released_at: str
    pickup_earliest: str
    pickup_latest: str
    via: Literal["office", "link"]


class InsertionSummary(TypedDict):
    """One place for a trip in a driver's remaining stops (`position`: 0 is the next stop)."""

    driver: str
    driver_name: str
    position: int
    dropoff_position: int
    extra_drive_seconds: int
    lateness_caused_seconds: int
    pickup_at: str


class InsertionProposedEvent(TypedDict):
    """Where a trip for today that just appeared fits, best first (up to three, maybe none);
    `applied`: the company inserts automatically and the first one was applied."""

    type: Literal["insertion_proposed"]
    booking: BookingSummary
    proposals: list[InsertionSummary]
    applied: bool


class DriverPositionEvent(TypedDict):
    """A driver's newest fix; speed in m/s, heading in degrees, accuracy in metres."""

    type: Literal["driver_position"]
    driver_id: str
    lat: float
    lon: float
    recorded_at: str
    speed: float | None
    heading: float | None
    accuracy: float | None


class ChatSender(TypedDict):
    id: str | None
    email: str
    role: str


class ChatMessageSummary(TypedDict):
    id: str
    sender: ChatSender
    text: str
    created_at: str
    to_driver: str | None  # a message from the office to one driver; null: to the team


class ChatMessageEvent(TypedDict):
    type: Literal["chat_message"]
    message: ChatMessageSummary


class DispatchRunEvent(TypedDict):
    """Progress and result of an automatic dispatch run (emitted by the dispatch app)."""

    type: Literal["dispatch_run"]
    run_id: str
    status: RunStatus
    progress: float
    detail: str


class HelloEvent(TypedDict):
    type: Literal["hello"]
    user_id: str
    role: str
    company_id: str
    driver_id: str | None
    expires_at: str


class AckEvent(TypedDict):
    type: Literal["ack"]
    id: str | int | None
    of: str
    accepted: NotRequired[int]
    booking: NotRequired[BookingSummary]
    message: NotRequired[ChatMessageSummary]


class ErrorEvent(TypedDict):
    type: Literal["error"]
    id: str | int | None
    code: str
    field: str | None
    detail: str
