"""What a dispatch run does to the world: tell the office where it stands, give trips to drivers.

Shared by the services (start, apply) and the execution (which applies `auto` runs itself),
so neither imports the other.
"""

from __future__ import annotations

from uuid import UUID

from django.db import transaction
from django.db.models import Case, UUIDField, Value, When
from django.utils import timezone

from atmr.list_cache import lists_changed
from bookings.models import Booking
from dispatch.eta_schedule import etas_refresh_enqueue
from dispatch.models import DispatchRun
from realtime.events import build_assignment, build_dispatch_run, is_run_status
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
    """Give the run's new trips to their drivers. Caller holds the transaction.

    A booking edited (or assigned by hand) since the run loaded it is left alone and listed
    in `run.skipped`: the dispatcher's later word wins over the plan.
    """
    now = timezone.now()
    planned = list(
        run.assignments.filter(is_new=True).values_list(
            "booking_id", "driver_id", "vehicle_id", "booking_version"
        )
    )
    # Lock the rows, then keep those still pending and unchanged since the run read them.
    current = dict(
        Booking.objects.select_for_update()
        .filter(id__in=[p[0] for p in planned], status=Booking.Status.PENDING)
        .values_list("id", "updated_at")
    )
    fresh = [p for p in planned if current.get(p[0]) == p[3]]
    skipped = [p[0] for p in planned if current.get(p[0]) != p[3]]
    assigned = [p[0] for p in fresh]
    if fresh:
        uuid: UUIDField[UUID | str, UUID] = UUIDField()
        Booking.objects.filter(id__in=assigned).update(
            status=Booking.Status.ASSIGNED,
            driver_id=Case(*[When(id=b, then=Value(d)) for b, d, _, _ in fresh], output_field=uuid),
            vehicle_id=Case(
                *[When(id=b, then=Value(v)) for b, _, v, _ in fresh], output_field=uuid
            ),
            updated_at=now,
        )
        lists_changed(run.company_id)  # update() sends no signal
    publish_many_on_commit(
        (group_for_driver(booking.driver_id), build_assignment(booking, "assigned"))
        for booking in Booking.objects.filter(id__in=assigned)
        if booking.driver_id is not None  # set just above; narrows the nullable column
    )
    run.skipped, run.applied_at = [str(b) for b in skipped], now
    run.save(update_fields=["skipped", "applied_at"])
    # The applied plan is the live plan now: every driver's ETAs follow it.
    company_id = str(run.company_id)
    transaction.on_commit(lambda: etas_refresh_enqueue(company_id, None))
