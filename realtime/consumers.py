"""Websocket consumers: `ws/driver/` for drivers' phones, `ws/company/` for the office.

A consumer authenticates once at connect (realtime/auth.py), keeps the token's claims as
`self.user`, joins only the groups those claims name, then adapts: parse a frame
(realtime/protocol.py), call one service through a `database_sync_to_async` helper, answer
with an `ack` or an `error`. Per message: no user query, no group lookups.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from time import perf_counter
from typing import Any, ClassVar

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from atmr import metrics
from atmr.chat.services import chat_message_send, chat_sender
from atmr.exceptions import DomainError, NotFound
from bookings.models import Booking, ReasonCode
from bookings.reasons import ReasonCodeInvalid, reason_code_choose
from bookings.selectors import booking_list
from bookings.services import booking_set_status
from drivers.locations import DriverBatch
from realtime.auth import (
    BEARER_SUBPROTOCOL,
    CLOSE_FORBIDDEN,
    SocketAuthError,
    SocketUser,
    authenticate_socket,
    bearer_subprotocol,
)
from realtime.events import (
    booking_summary,
    build_ack,
    build_error,
    build_hello,
    chat_message_summary,
)
from realtime.groups import group_for_company_chat, group_for_company_dispatch, group_for_driver
from realtime.positions import location_writer
from realtime.protocol import (
    MAX_FRAME_CHARS,
    BookingStatus,
    ChatText,
    Inbound,
    LocationBatch,
    ProtocolError,
    parse_message,
)
from realtime.schemas import BookingSummary, ChatMessageSummary

logger = logging.getLogger(__name__)

# Close codes besides realtime/auth.py's 4401 / 4403 (all listed in PROTOCOL.md).
CLOSE_TOO_BIG = 1009  # a frame over MAX_FRAME_CHARS
CLOSE_RATE_LIMITED = 4429  # more frames than RateBucket allows


class RateBucket:
    """Token bucket per socket: bursts of `capacity` frames, `per_second` sustained."""

    __slots__ = ("capacity", "per_second", "tokens", "updated")

    def __init__(self, capacity: float = 30.0, per_second: float = 10.0) -> None:
        self.capacity, self.per_second = capacity, per_second
        self.tokens, self.updated = capacity, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        elapsed, self.updated = now - self.updated, now
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


# --- ORM access, only through these helpers (positions: realtime/positions.py) -----------
@database_sync_to_async
def set_booking_status(user: SocketUser, message: BookingStatus) -> BookingSummary:
    """The driver's own booking only: another's, or another company's, is unknown."""
    bookings = booking_list(company_id=user.company_id, driver_id=user.driver_id)
    try:
        booking = bookings.get(id=message.booking_id)
    except Booking.DoesNotExist:
        raise NotFound("Unknown booking.", field="booking_id") from None
    assert booking.driver is not None  # the driver filter above guarantees it
    try:
        code = None
        if message.reason_code:
            code = reason_code_choose(
                company_id=user.company_id, value=message.reason_code, kind=ReasonCode.Kind.NO_SHOW
            )
        booking = booking_set_status(
            booking=booking,
            status=message.status,
            driver=booking.driver,
            code=code,
            reason=message.reason,
        )
    except ReasonCodeInvalid as exc:
        exc.field = "reason_code"  # the services' `code` is this message's `reason_code`
        raise
    return booking_summary(booking)


@database_sync_to_async
def send_chat(user: SocketUser, message: ChatText) -> ChatMessageSummary:
    sent = chat_message_send(author=user, text=message.text, to_driver_id=message.to_driver)
    return chat_message_summary(sent, chat_sender(user))


def _dumps(data: Any) -> str:
    return orjson.dumps(data).decode()


# --- consumers ----------------------------------------------------------------------------------
class _CompanySocket(AsyncWebsocketConsumer):
    roles: ClassVar[frozenset[str]]
    inbound_types: ClassVar[frozenset[str]]
    kind: ClassVar[str]  # the `socket` label of atmr_ws_* metrics

    user: SocketUser | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every handler.

        That call hops to the one shared sync thread for every frame and every group event
        (about 2,000 hops/s per worker at 10,000 phones, queued behind chat and booking
        queries). These consumers never touch the ORM on the loop thread: every query runs in
        a `database_sync_to_async` helper, which closes stale connections itself, before and
        after.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.joined: list[str] = []
        self.closing = False
        self.bucket = RateBucket()
        self.expiry: asyncio.TimerHandle | None = None
        # A browser drops a socket whose server does not pick one of the offered subprotocols.
        subprotocol = BEARER_SUBPROTOCOL if bearer_subprotocol(self.scope) else None
        try:
            user = await authenticate_socket(self.scope)
            self.check_role(user)
        except SocketAuthError as exc:
            # Accept first so the client sees the close code (a refused handshake is a bare 403).
            await self.accept(subprotocol=subprotocol)
            await self.close_with(exc.close_code)
            return
        self.user = user
        for group in self.groups_for(user):
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)
        await self.accept(subprotocol=subprotocol)
        metrics.WS_CONNECTIONS_OPENED.labels(self.kind).inc()
        self.schedule_expiry(user)
        await self.send(text_data=_dumps(build_hello(user, user.expires_at)))

    def check_role(self, user: SocketUser) -> None:
        if user.role not in self.roles:
            raise SocketAuthError(CLOSE_FORBIDDEN, f"A {user.role} cannot open this socket.")

    def groups_for(self, user: SocketUser) -> list[str]:
        raise NotImplementedError

    def schedule_expiry(self, user: SocketUser) -> None:
        """Close with 4401 when the access token expires: the client refreshes, reconnects."""
        # The token's `exp` is in real time (simplejwt reads the system clock), whatever
        # timezone.now says (simulate_day's demo clock).
        delay = (user.expires_at - datetime.now(UTC)).total_seconds()
        loop = asyncio.get_running_loop()
        self.expiry = loop.call_later(max(delay, 0.0), self._expire)

    def _expire(self) -> None:
        self.expiry_task = asyncio.ensure_future(self.close_with(4401))

    async def close_with(self, code: int) -> None:
        if not self.closing:
            self.closing = True
            await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []
        if self.user is not None:
            metrics.WS_CONNECTIONS_CLOSED.labels(self.kind).inc()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user is None or self.closing:
            return
        if text_data is None:
            await self.send_error("unsupported_frame", "Send JSON as text frames.")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.close_with(CLOSE_TOO_BIG)
            return
        if not self.bucket.take():
            await self.close_with(CLOSE_RATE_LIMITED)
            return
        started = perf_counter()
        try:
            message = parse_message(text_data, allowed=self.inbound_types, now=timezone.now())
        except ProtocolError as exc:
            await self.send_error(exc.code, exc.detail, field=exc.field, client_id=exc.client_id)
            return
        metrics.WS_MESSAGES.labels(self.kind, message.type).inc()
        try:
            await self.handle(self.user, message)
        except DomainError as exc:
            await self.send_error(exc.code, exc.detail, field=exc.field, client_id=message.id)
        except Exception:
            logger.exception("Socket message %s failed", message.type)
            await self.send_error(
                "server_error", "Not processed; retry later.", client_id=message.id
            )
        else:  # every handled frame was answered with its ack
            metrics.WS_ACKS.labels(message.type).inc()
            metrics.WS_ACK_SECONDS.labels(message.type).observe(perf_counter() - started)

    async def handle(self, user: SocketUser, message: Inbound) -> None:
        if isinstance(message, ChatText):
            summary = await send_chat(user, message)
            await self.send_json({**build_ack(message.type, message.id), "message": summary})
        else:  # parse_message only lets through this socket's inbound_types
            raise NotImplementedError(message.type)

    async def send_json(self, data: Any) -> None:
        await self.send(text_data=_dumps(data))

    async def send_error(
        self,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        client_id: str | int | None = None,
    ) -> None:
        metrics.WS_ERRORS.labels(code).inc()
        await self.send_json(build_error(code, detail, field=field, client_id=client_id))

    async def broadcast(self, message: dict[str, Any]) -> None:
        """Every group event (realtime/publish.py's envelope) goes to the client as is."""
        if not self.closing:
            await self.send(text_data=_dumps(message["event"]))

    async def broadcast_batch(self, message: dict[str, Any]) -> None:
        """Several events in one layer message (realtime/publish.py's `apublish_batch`, e.g.
        the positions writer's per-company fan-out): still one frame per event."""
        for event in message["events"]:
            if self.closing:
                return
            await self.send(text_data=_dumps(event))


class DriverConsumer(_CompanySocket):
    """A driver's phone: sends positions, trip progress and chat; receives its assignments."""

    roles = frozenset({"driver"})
    kind = "driver"
    inbound_types = frozenset({"location_batch", "booking_status", "chat_message"})

    def check_role(self, user: SocketUser) -> None:
        super().check_role(user)
        if user.driver_id is None:
            raise SocketAuthError(CLOSE_FORBIDDEN, "This log-in has no driver record.")

    def groups_for(self, user: SocketUser) -> list[str]:
        assert user.driver_id is not None
        return [group_for_driver(user.driver_id), group_for_company_chat(user.company_id)]

    async def handle(self, user: SocketUser, message: Inbound) -> None:
        if isinstance(message, LocationBatch):
            assert user.driver_id is not None
            batch = DriverBatch(user.company_id, user.driver_id, message.positions)
            await location_writer.store(batch)  # returns once committed; it publishes
            ack = build_ack(message.type, message.id)
            await self.send_json({**ack, "accepted": len(message.positions)})
        elif isinstance(message, BookingStatus):
            summary = await set_booking_status(user, message)
            await self.send_json({**build_ack(message.type, message.id), "booking": summary})
        else:
            await super().handle(user, message)


class CompanyConsumer(_CompanySocket):
    """A dispatcher's or company admin's screen: live positions, bookings, chat."""

    roles = frozenset({"admin", "dispatcher"})
    kind = "company"
    inbound_types = frozenset({"chat_message"})

    def groups_for(self, user: SocketUser) -> list[str]:
        return [
            group_for_company_dispatch(user.company_id),
            group_for_company_chat(user.company_id),
        ]
