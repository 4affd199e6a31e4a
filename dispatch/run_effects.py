"""What a dispatch run does to the world: tell the office where it stands, give trips to drivers.

Shared by the services (start, apply) and the execution (which applies `auto` runs itself),
so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Case, UUIDField, Value, When
from django.utils import timezone

from atmr.list_cache import lists_changed
from bookings.models import Booking
from dispatch.eta_schedule import etas_refresh_enqueue
from dispatch.models import DispatchRun
from realtime.events import (
    build_assignment,
    build_booking_updated,
    build_dispatch_run,
    is_run_status,
)
from realtime.groups import group_for_company_dispatch, group_for_driver
from realtime.publish import publish, publish_many_on_commit, publish_on_commit


def run_summary(run: DispatchRun) -> str:
    if run.status == DispatchRun.Status.FAILED:
        return run.error
    if run.status == DispatchRun.Status.SUCCEEDED:
        return f"{run.assigned_count} planned, {run.unassigned_count} unassigned"
    return run.progress_detail


def run_announce(run: DispatchRun) -> None:
    """Tell the company's dispatchers where the run stands, once the change is committed."""
    status = run.status
    if not is_run_status(status):  # the model's choices are the event's statuses
        raise ValueError(f"A dispatch run cannot be {status!r}.")
    done = status in (DispatchRun.Status.SUCCEEDED, DispatchRun.Status.FAILED)
    event = build_dispatch_run(
        run_id=str(run.id),
        status=status,
        progress=1.0 if done else run.progress,
        detail=run_summary(run),
    )
    publish_on_commit(group_for_company_dispatch(run.company_id), event)


def run_progress_publish(run: DispatchRun, fraction: float, detail: str) -> None:
    """A running run's progress, sent at once (the executing process holds no transaction)."""
    event = build_dispatch_run(
        run_id=str(run.id), status="running", progress=fraction, detail=detail
    )
    publish(group_for_company_dispatch(run.company_id), event)


def run_assignments_apply(run: DispatchRun) -> None:
    """Give the run's new trips to their drivers, move the trips a re-plan moved and
    withdraw those it has no place for. Caller holds the transaction.

    A booking edited (or assigned by hand) since the run loaded it is left alone and listed
    in `run.skipped`: the dispatcher's later word wins over the plan. A moved trip must still
    be its previous driver's, a new one still pending.
    """
    now = timezone.now()
    planned = list(
        run.assignments.filter(is_new=True).values_list(
            "booking_id", "driver_id", "vehicle_id", "booking_version", "previous_driver_id"
        )
    )
    dropped = [
        (UUID(d["booking"]), UUID(d["driver"]), datetime.fromisoformat(d["version"]))
        for d in (run.diff or {}).get("unassigned", [])
    ]
    # Lock the rows, then keep those still as the run read them.
    current = {
        pk: (status, driver, version)
        for pk, status, driver, version in Booking.objects.select_for_update()
        .filter(id__in=[p[0] for p in planned] + [d[0] for d in dropped])
        .values_list("id", "status", "driver_id", "updated_at")
    }

    def unchanged(booking_id: UUID, version: datetime, previous: UUID | None) -> bool:
        status = Booking.Status.ASSIGNED if previous else Booking.Status.PENDING
        return current.get(booking_id) == (status, previous, version)

    fresh = [p for p in planned if unchanged(p[0], p[3], p[4])]
    gone = [d for d in dropped if unchanged(d[0], d[2], d[1])]
    skipped = [p[0] for p in planned if p not in fresh] + [d[0] for d in dropped if d not in gone]
    assigned = [p[0] for p in fresh]
    if fresh:
        uuid: UUIDField[UUID | str, UUID] = UUIDField()
        Booking.objects.filter(id__in=assigned).update(
            status=Booking.Status.ASSIGNED,
            driver_id=Case(*[When(id=p[0], then=Value(p[1])) for p in fresh], output_field=uuid),
            vehicle_id=Case(*[When(id=p[0], then=Value(p[2])) for p in fresh], output_field=uuid),
            updated_at=now,
        )
    if gone:
        Booking.objects.filter(id__in=[d[0] for d in gone]).update(
            status=Booking.Status.PENDING, driver_id=None, vehicle_id=None, updated_at=now
        )
    if fresh or gone:
        lists_changed(run.company_id)  # update() sends no signal
    _publish_applied(run, fresh, gone)
    run.skipped, run.applied_at = [str(b) for b in skipped], now
    run.save(update_fields=["skipped", "applied_at"])
    # The applied plan is the live plan now: every driver's ETAs follow it.
    company_id = str(run.company_id)
    transaction.on_commit(lambda: etas_refresh_enqueue(company_id, None))


def _publish_applied(
    run: DispatchRun,
    fresh: Sequence[tuple[UUID, UUID, UUID | None, datetime, UUID | None]],
    gone: Sequence[tuple[UUID, UUID, datetime]],
) -> None:
    """Each new driver gets `assigned`, each previous one `withdrawn`; the office hears of
    every moved or withdrawn trip."""
    was = {p[0]: p[4] for p in fresh if p[4]} | {d[0]: d[1] for d in gone}
    office = group_for_company_dispatch(run.company_id)
    messages: list[tuple[str, Any]] = []
    rows = Booking.objects.filter(id__in=[p[0] for p in fresh] + [d[0] for d in gone])
    for booking in rows:
        if booking.id in was:
            messages.append(
                (group_for_driver(was[booking.id]), build_assignment(booking, "withdrawn"))
            )
            messages.append((office, build_booking_updated(booking)))
        if booking.driver_id is not None:
            messages.append(
                (group_for_driver(booking.driver_id), build_assignment(booking, "assigned"))
            )
    publish_many_on_commit(messages)
