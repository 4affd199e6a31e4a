"""Shared by the admin tests: logged-in back-office clients, form data, and an event listener."""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

from channels.layers import get_channel_layer
from django.test import Client as WebClient

# The zone the admin reads and shows times in, for these tests: the companies' default zone,
# set as the server's zone too (`use_admin_zone`), so it holds with or without a per-company
# time-zone middleware.
ADMIN_ZONE = "Europe/Zurich"
# Long enough for a loaded machine: the first event must arrive within it.
EVENT_TIMEOUT_S = 10.0
# How long "nothing more" is watched for; a slow machine can only make this check pass.
QUIET_S = 0.3


def web_for(user: Any) -> WebClient:
    web = WebClient()
    web.force_login(user)
    return web


def use_admin_zone(settings: Any) -> None:
    settings.TIME_ZONE = ADMIN_ZONE


def local(moment: Any) -> tuple[str, str]:
    """The admin's split date and time widgets' values for `moment` (in ADMIN_ZONE)."""
    moment = moment.astimezone(ZoneInfo(ADMIN_ZONE))
    return moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S")


def booking_change_data(booking: Any, **overrides: Any) -> dict[str, Any]:
    """The change form of `booking` as the admin shows it, with `overrides` typed in."""
    form: dict[str, Any] = {
        "pickup_address": booking.pickup_address,
        "pickup_lat": booking.pickup_lat,
        "pickup_lon": booking.pickup_lon,
        "dropoff_address": booking.dropoff_address,
        "dropoff_lat": booking.dropoff_lat,
        "dropoff_lon": booking.dropoff_lon,
        "passengers": booking.passengers,
        "mobility": booking.mobility,
        "price": "" if booking.price is None else booking.price,
        "notes": booking.notes,
        "driver": booking.driver_id or "",
        "status": booking.status,
        "cancel_reason": booking.cancel_reason,
        "cancel_code": booking.cancel_code_id or "",
    }
    if booking.urgent:
        form["urgent"] = "on"
    for name in ("scheduled_at", "pickup_earliest", "pickup_latest", "appointment_at"):
        value = getattr(booking, name)
        form[f"{name}_0"], form[f"{name}_1"] = local(value) if value else ("", "")
    return {**form, **overrides}


LIVE_DAY_EVENTS = frozenset({"eta_updated", "late_risk"})


class EventListener:
    """Listens on the real channel layer, as a driver's phone or a dispatcher's board does."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.channels: dict[str, str] = {}

    def subscribe(self, *groups: str) -> None:
        for group in groups:
            self.channels[group] = self.loop.run_until_complete(self._add(group))

    async def _add(self, group: str) -> str:
        channel = await self.layer.new_channel()
        await self.layer.group_add(group, channel)
        return channel

    def events(self, group: str, count: int) -> list[dict[str, Any]]:
        """The `count` events sent to `group`, checking that no other one follows."""
        channel = self.channels[group]
        received = [self._receive(channel, EVENT_TIMEOUT_S) for _ in range(count)]
        assert None not in received, f"{group}: {received}"
        extra = self._receive(channel, QUIET_S)
        assert extra is None, f"{group}: unexpected {extra}"
        return received  # type: ignore[return-value]

    def _receive(self, channel: str, timeout: float) -> dict[str, Any] | None:
        # Every trip change also refreshes its driver's ETAs (dispatch/eta_schedule.py); those
        # events have their own tests (dispatch/tests/test_eta.py), these check the rest.
        while True:
            try:
                message = self.loop.run_until_complete(
                    asyncio.wait_for(self.layer.receive(channel), timeout)
                )
            except TimeoutError:
                return None
            if message["event"]["type"] not in LIVE_DAY_EVENTS:
                return message["event"]

    def close(self) -> None:
        for group, channel in self.channels.items():
            self.loop.run_until_complete(self.layer.group_discard(group, channel))
        self.loop.close()


def cancel_action(web: WebClient, *bookings: Any, follow: bool = False, **fields: Any) -> Any:
    """The booking list's "cancel" action on `bookings`; `fields` fill its form (confirm, code,
    reason); without confirm it answers with the form."""
    data = {"action": "cancel_bookings", "_selected_action": [b.id for b in bookings], **fields}
    return web.post("/admin/bookings/booking/", data, follow=follow)
