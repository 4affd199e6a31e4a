"""Rosters: a driver's week (`RosterEntry`), its days (`Shift`) and the absences that cut them.

Rules, in one place for the API, the admin, the nightly job and dispatch:
- Wall-clock times are in the company's zone. A shift whose end is at or before its start
  ends on the next day (a night shift, 22:00-06:00); a shift never lasts 24 hours or more.
- A break is a window (from `break_earliest`, over by `break_latest`) and its minutes; the
  window lies inside the shift. Break times before the shift's start time are on the next day.
- `Shift.start`/`end` are moments: the wall-clock time on its day in the zone, so a shift on a
  daylight-saving day lasts an hour more or less. A time the clock skips (02:30 on the spring
  change) is the moment after the jump; a repeated one is its first occurrence.
- Generation (`shifts_generate`) is idempotent: it creates missing shifts, updates or removes
  generated ones the roster changed, and never touches an `edited` or `off` shift or one that
  has begun.
- An absence cuts every shift it overlaps, edited ones included: a shift it covers goes; of
  the rest the longest part outside the absence stays (a driver has one shift a day).
- A driver's shifts never overlap: a night shift must end before the next day's starts. The
  office is refused an overlapping shift, or one an absence covers whole (a 400 naming the
  field); a week whose night shift runs into the next day's is refused; generation cuts a
  roster shift where it would run into a shift it does not touch (edited, or begun).
- A local day's shifts (`shifts_on_day`, what dispatch plans and the board draws) are those
  on at some moment of it: the day's own, and the night shift of the day before until it ends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, TypedDict
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.exceptions import Conflict, DomainError, NotFound
from drivers.models import WEEKDAYS, Absence, Driver, RosterEntry, Shift, Vehicle

# Days ahead the shifts exist for, until the company has its own setting (issue 11:
# `Company.order_horizon_days`, added with standing orders).
HORIZON_DAYS_DEFAULT = 14
MAX_BREAK_MINUTES = 240
DAY = timedelta(days=1)


class RosterInvalid(DomainError):
    code = "invalid"


class ShiftExists(Conflict):
    code = "shift_exists"


def company_horizon_days(company: Company) -> int:
    return int(getattr(company, "order_horizon_days", 0) or HORIZON_DAYS_DEFAULT)


# --- the rule for wall-clock times ------------------------------------------------------------
def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def shift_times_error(
    *,
    start: time,
    end: time,
    break_earliest: time | None = None,
    break_latest: time | None = None,
    break_minutes: int = 0,
) -> tuple[str, str] | None:
    """(field, message) when these wall-clock times break the roster rule, else None."""
    span = (_minutes(end) - _minutes(start)) % 1440
    if span == 0:
        return "end", "The shift must not end when it starts (an earlier end is the next day)."
    if not (break_minutes or break_earliest or break_latest):
        return None
    if not 1 <= break_minutes <= MAX_BREAK_MINUTES:
        return "break_minutes", f"A break lasts 1 to {MAX_BREAK_MINUTES} minutes."
    if break_earliest is None:
        return "break_earliest", "A break needs the time it may start from."
    if break_latest is None:
        return "break_latest", "A break needs the time it must be over by."
    window = f"{start:%H:%M}-{end:%H:%M}"
    first = (_minutes(break_earliest) - _minutes(start)) % 1440
    last = (_minutes(break_latest) - _minutes(start)) % 1440
    if first > span:
        return "break_earliest", f"The break must lie within the shift ({window})."
    if last > span or last == 0:
        return "break_latest", f"The break must lie within the shift ({window})."
    if last - first < break_minutes:
        return "break_latest", "The break's window is shorter than the break."
    return None


def _check_times(**times: Any) -> None:
    error = shift_times_error(**times)
    if error:
        raise RosterInvalid(error[1], field=error[0])


def local_moment(day: date, clock: time, tz: tzinfo) -> datetime:
    """The moment (UTC) the wall clock in `tz` shows `clock` on `day` (see the module rule)."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class ShiftTimes:
    """A shift's moments (UTC). No break: break_minutes 0 and no window."""

    start: datetime
    end: datetime
    break_earliest: datetime | None = None
    break_latest: datetime | None = None
    break_minutes: int = 0


def shift_times(
    day: date,
    tz: ZoneInfo,
    *,
    start: time,
    end: time,
    break_earliest: time | None = None,
    break_latest: time | None = None,
    break_minutes: int = 0,
) -> ShiftTimes:
    """The moments of a shift on `day` from wall-clock times that pass `shift_times_error`."""

    def on_timeline(clock: time) -> datetime:
        return local_moment(day if clock >= start else day + DAY, clock, tz)

    if not (break_minutes and break_earliest and break_latest):
        return ShiftTimes(local_moment(day, start, tz), on_timeline(end))
    return ShiftTimes(
        local_moment(day, start, tz),
        on_timeline(end),
        on_timeline(break_earliest),
        on_timeline(break_latest),
        break_minutes,
    )


def shift_cut(
    times: ShiftTimes, absences: Iterable[tuple[datetime, datetime]]
) -> ShiftTimes | None:
    """`times` without the absences: None when nothing is left, else the longest part.

    A break whose window no longer holds the break inside the part is dropped.
    """
    parts = [(times.start, times.end)]
    for gone_from, gone_to in absences:
        parts = [
            piece
            for a, b in parts
            for piece in ((a, min(b, gone_from)), (max(a, gone_to), b))
            if piece[0] < piece[1]
        ]
    if not parts:
        return None
    start, end = max(parts, key=lambda p: (p[1] - p[0], -p[0].timestamp()))
    if (start, end) == (times.start, times.end):
        return times
    cut = replace(times, start=start, end=end)
    if times.break_earliest is None or times.break_latest is None:
        return cut
    earliest, latest = max(times.break_earliest, start), min(times.break_latest, end)
    if latest - earliest < timedelta(minutes=times.break_minutes):
        return replace(cut, break_earliest=None, break_latest=None, break_minutes=0)
    return replace(cut, break_earliest=earliest, break_latest=latest)


# --- selectors --------------------------------------------------------------------------------
def roster_get(*, company_id: UUID | str, driver_id: UUID | str) -> QuerySet[RosterEntry]:
    return RosterEntry.objects.filter(company_id=company_id, driver_id=driver_id).order_by(
        "weekday"
    )


def shift_list(
    *,
    company_id: UUID | str,
    day: date | None = None,
    driver_id: UUID | str | None = None,
    on: tuple[date, tzinfo] | None = None,
) -> QuerySet[Shift]:
    """A company's shifts (the removed ones left out), with driver and vehicle joined: `day`
    those dated that day, `on` (a local day and the company's zone) those on during it."""
    qs = Shift.objects.filter(company_id=company_id, off=False).select_related(
        "driver__user", "vehicle"
    )
    if day is not None:
        qs = qs.filter(date=day)
    if on is not None:
        qs = qs.filter(id__in=shifts_on_day(company_id=company_id, day=on[0], tz=on[1]))
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    return qs.order_by("date", "start", "driver_id")


def shifts_on_day(*, company_id: UUID | str, day: date, tz: tzinfo) -> QuerySet[Shift]:
    """The shifts on at some moment of the local `day` (removed ones left out): those dated
    that day, and the night shifts of the day before that run past its midnight. Served by
    the (company, date) index."""
    begins, ends = local_moment(day, time.min, tz), local_moment(day + DAY, time.min, tz)
    return Shift.objects.filter(
        company_id=company_id,
        off=False,
        date__in=(day - DAY, day),
        start__lt=ends,
        end__gt=begins,
    )


def absence_list(
    *, company_id: UUID | str, driver_id: UUID | str | None = None
) -> QuerySet[Absence]:
    qs = Absence.objects.filter(company_id=company_id).select_related("driver__user")
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    return qs.order_by("-starts_at", "id")


def shift_covering(
    *, driver: Driver, earliest: datetime, latest: datetime, needs: timedelta
) -> Shift | None:
    """The driver's shift that is on between `earliest` and `latest` for `needs` at least.

    Looks at the shifts of the days of `earliest` and the day before (a night shift).
    """
    day = timezone.localtime(earliest, driver.company.tz).date()
    return (
        Shift.objects.filter(
            driver=driver,
            off=False,
            date__in=(day - DAY, day),
            start__lte=latest,
            end__gte=earliest + needs,
        )
        .select_related("vehicle")
        .order_by("start")
        .first()
    )


# --- services ---------------------------------------------------------------------------------
class ShiftClockInput(TypedDict, total=False):
    """A shift's wall-clock times and vehicle, as a roster entry and a day's shift take them."""

    start: time
    end: time
    vehicle: Vehicle | None
    break_earliest: time | None
    break_latest: time | None
    break_minutes: int


class RosterEntryInput(ShiftClockInput, total=False):
    weekday: int


def _check_vehicle(company_id: UUID | str, vehicle: Vehicle | None, field: str = "vehicle") -> None:
    if vehicle is not None and vehicle.company_id != company_id:
        raise NotFound("Unknown vehicle.", field=field)


def break_times(data: dict[str, Any]) -> dict[str, Any]:
    """The break arguments of `shift_times_error` from an input (absent means no break)."""
    return {
        "break_earliest": data.get("break_earliest"),
        "break_latest": data.get("break_latest"),
        "break_minutes": data.get("break_minutes") or 0,
    }


@transaction.atomic
def roster_set(*, driver: Driver, entries: Sequence[RosterEntryInput]) -> list[RosterEntry]:
    """Replace the driver's week, then regenerate its shifts over the horizon."""
    weekdays = [e["weekday"] for e in entries]
    if len(set(weekdays)) != len(weekdays):
        raise RosterInvalid("Each weekday may appear once.", field="entries")
    _check_week(entries)
    rows = []
    for entry in entries:
        _check_vehicle(driver.company_id, entry.get("vehicle"))
        breaks = break_times(dict(entry))
        _check_times(start=entry["start"], end=entry["end"], **breaks)
        rows.append(
            RosterEntry(
                company_id=driver.company_id,
                driver=driver,
                weekday=entry["weekday"],
                start=entry["start"],
                end=entry["end"],
                vehicle=entry.get("vehicle"),
                **breaks,
            )
        )
    Driver.objects.select_for_update().filter(id=driver.id).first()  # one week edit at a time
    RosterEntry.objects.filter(driver=driver).delete()
    created = RosterEntry.objects.bulk_create(rows)
    shifts_generate_horizon(company=driver.company, driver_ids=[driver.id])
    return created


def roster_week_error(entries: Sequence[RosterEntryInput]) -> str | None:
    """Why the week's shifts overlap, else None: a night shift must be over before the next
    weekday's shift starts (Sunday's runs into Monday's)."""
    by_weekday = {e["weekday"]: e for e in entries}
    for entry in entries:
        follows = by_weekday.get(entry["weekday"] % 7 + 1)
        start, end = entry["start"], entry["end"]
        if follows is None or end > start or follows["start"] >= end:
            continue
        day, next_day = WEEKDAYS[entry["weekday"]], WEEKDAYS[follows["weekday"]]
        return (
            f"{day}'s shift runs to {end:%H:%M} on {next_day}, after {next_day}'s starts "
            f"at {follows['start']:%H:%M}."
        )
    return None


def _check_week(entries: Sequence[RosterEntryInput]) -> None:
    error = roster_week_error(entries)
    if error:
        raise RosterInvalid(error, field="entries")


def roster_seed(*, driver: Driver) -> list[RosterEntry]:
    """The legacy single shift (`shift_start`/`shift_end`) as the same shift every weekday,
    with the driver's default vehicle; nothing when the driver has no such shift."""
    if driver.shift_start is None or driver.shift_end is None:
        return []
    week: list[RosterEntryInput] = [
        {"weekday": d, "start": driver.shift_start, "end": driver.shift_end} for d in range(1, 8)
    ]
    return roster_set(driver=driver, entries=week)


def shifts_generate_horizon(
    *, company: Company, driver_ids: Iterable[UUID | str] | None = None
) -> int:
    today = timezone.localtime(timezone.now(), company.tz).date()
    return shifts_generate(
        company=company,
        first=today,
        last=today + timedelta(days=company_horizon_days(company)),
        driver_ids=driver_ids,
    )


def shifts_generate_all() -> int:
    """Every active company's horizon (the nightly job); returns shifts changed."""
    return sum(
        shifts_generate_horizon(company=company) for company in Company.objects.filter(active=True)
    )


@dataclass(frozen=True)
class _Wanted:
    times: ShiftTimes
    vehicle_id: UUID | None


@transaction.atomic
def shifts_generate(
    *, company: Company, first: date, last: date, driver_ids: Iterable[UUID | str] | None = None
) -> int:
    """Make the shifts of days first..last (never before today) match the roster minus the
    absences. Idempotent; returns how many shifts it created, changed or removed.

    Five queries whatever the size (entries, absences, the shifts it leaves alone around and
    in the range, shifts, then the writes).
    """
    tz = company.tz
    now = timezone.now()
    first = max(first, timezone.localtime(now, tz).date())
    if last < first:
        return 0
    entries = RosterEntry.objects.filter(company=company, driver__active=True).select_related(
        "driver"
    )
    shifts = Shift.objects.filter(company=company, date__gte=first, date__lte=last)
    ids_or_none = None if driver_ids is None else list(driver_ids)
    if ids_or_none is not None:
        entries = entries.filter(driver_id__in=ids_or_none)
        shifts = shifts.filter(driver_id__in=ids_or_none)
    blocked = _absences_by_driver(company, first, last)
    for driver_id, spans in _kept_spans(company, first, last, now, driver_ids=ids_or_none).items():
        blocked[driver_id].extend(spans)
    wanted = _wanted(list(entries), first, last, tz, blocked)
    changed = 0
    for shift in shifts:
        key = (shift.driver_id, shift.date)
        want = wanted.pop(key, None)
        if shift.edited or shift.off or shift.start <= now:
            continue
        if want is None:
            shift.delete()
            changed += 1
        elif _differs(shift, want):
            _write(shift, want)
            shift.save(update_fields=[*_SHIFT_TIMES, "vehicle", "updated_at"])
            changed += 1
    new = [
        _write(Shift(company=company, driver_id=driver_id, date=day), want)
        for (driver_id, day), want in wanted.items()
    ]
    # A concurrent generation (the nightly job and a roster edit) may have made some already.
    Shift.objects.bulk_create(new, ignore_conflicts=True)
    return changed + len(new)


_SHIFT_TIMES = ("start", "end", "break_earliest", "break_latest", "break_minutes")


def _absences_by_driver(
    company: Company, first: date, last: date
) -> dict[UUID, list[tuple[datetime, datetime]]]:
    # A night shift of `last` runs into the next day; a day either side is plenty.
    since = local_moment(first - DAY, time.min, company.tz)
    until = local_moment(last + 2 * DAY, time.min, company.tz)
    out: dict[UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    for driver_id, starts_at, ends_at in Absence.objects.filter(
        company=company, ends_at__gt=since, starts_at__lt=until
    ).values_list("driver_id", "starts_at", "ends_at"):
        out[driver_id].append((starts_at, ends_at))
    return out


def _kept_spans(
    company: Company, first: date, last: date, now: datetime, *, driver_ids: list[Any] | None
) -> dict[UUID, list[tuple[datetime, datetime]]]:
    """Spans of the shifts a generation of first..last leaves as they are (the office's, those
    begun, and those of the days either side): a roster shift must not run into them."""
    kept = (
        Shift.objects.filter(company=company, off=False)
        .filter(date__gte=first - DAY, date__lte=last + DAY)
        .filter(Q(edited=True) | Q(start__lte=now) | Q(date__lt=first) | Q(date__gt=last))
    )
    if driver_ids is not None:
        kept = kept.filter(driver_id__in=driver_ids)
    out: dict[UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    for driver_id, start, end in kept.values_list("driver_id", "start", "end"):
        out[driver_id].append((start, end))
    return out


def _wanted(
    entries: list[RosterEntry],
    first: date,
    last: date,
    tz: ZoneInfo,
    absences: dict[UUID, list[tuple[datetime, datetime]]],
) -> dict[tuple[UUID, date], _Wanted]:
    by_weekday: dict[int, list[RosterEntry]] = defaultdict(list)
    for entry in entries:
        by_weekday[entry.weekday].append(entry)
    wanted: dict[tuple[UUID, date], _Wanted] = {}
    day = first
    while day <= last:
        for entry in by_weekday[day.isoweekday()]:
            times = shift_times(
                day,
                tz,
                start=entry.start,
                end=entry.end,
                break_earliest=entry.break_earliest,
                break_latest=entry.break_latest,
                break_minutes=entry.break_minutes,
            )
            cut = shift_cut(times, absences.get(entry.driver_id, ()))
            if cut is not None:
                vehicle = entry.vehicle_id or entry.driver.default_vehicle_id
                wanted[(entry.driver_id, day)] = _Wanted(cut, vehicle)
        day += DAY
    return wanted


def _differs(shift: Shift, want: _Wanted) -> bool:
    now = (*(getattr(shift, f) for f in _SHIFT_TIMES), shift.vehicle_id)
    return now != (*(getattr(want.times, f) for f in _SHIFT_TIMES), want.vehicle_id)


def _write(shift: Shift, want: _Wanted) -> Shift:
    for name in _SHIFT_TIMES:
        setattr(shift, name, getattr(want.times, name))
    shift.vehicle_id = want.vehicle_id
    return shift


class ShiftInput(ShiftClockInput, total=False):
    driver: Driver
    date: date


def _shift_fields(day: date, tz: ZoneInfo, data: ShiftInput) -> dict[str, Any]:
    clocks = {
        "start": data["start"],
        "end": data["end"],
        **break_times(dict(data)),
    }
    _check_times(**clocks)
    times = shift_times(day, tz, **clocks)
    return {name: getattr(times, name) for name in _SHIFT_TIMES}


@transaction.atomic
def shift_create(*, company: Company, data: ShiftInput) -> Shift:
    """The office adds a day's shift (kept by regeneration). A day the office removed the
    roster's shift from may get a new one; a day with a shift is a 409."""
    driver = data["driver"]
    if driver.company_id != company.id:
        raise NotFound("Unknown driver.", field="driver")
    _check_vehicle(company.id, data.get("vehicle"))
    fields = _shift_fields(data["date"], company.tz, data)
    _check_free(driver, data["date"], fields["start"], fields["end"], company.tz)
    vehicle = data.get("vehicle") or driver.default_vehicle
    shift = Shift.objects.select_for_update().filter(driver=driver, date=data["date"]).first()
    if shift is not None and not shift.off:
        raise ShiftExists("The driver already has a shift on this day.", field="date")
    shift = shift or Shift(company=company, driver=driver, date=data["date"])
    for name, value in fields.items():
        setattr(shift, name, value)
    shift.vehicle, shift.edited, shift.off = vehicle, True, False
    try:
        with transaction.atomic():
            shift.save()
    except IntegrityError:  # created meanwhile by a generation or another request
        raise ShiftExists("The driver already has a shift on this day.", field="date") from None
    return _absences_cut(shift)


def _check_free(
    driver: Driver,
    day: date,
    start: datetime,
    end: datetime,
    tz: tzinfo,
    *,
    other_than: Shift | None = None,
) -> None:
    """Refuse (400) a shift that overlaps the driver's shift of the day before or after (a
    night shift runs into the next day), or that an absence covers whole; an absence over
    part of it cuts it afterwards (`_absences_cut`)."""

    def hm(moment: datetime) -> str:
        return f"{timezone.localtime(moment, tz):%H:%M}"

    around = Shift.objects.filter(driver=driver, off=False, date__in=(day - DAY, day + DAY))
    if other_than is not None:
        around = around.exclude(id=other_than.id)
    clash = around.filter(start__lt=end, end__gt=start).order_by("start").first()
    if clash is not None:
        field = "start" if clash.start < start else "end"
        raise RosterInvalid(
            f"The driver's shift of {clash.date:%Y-%m-%d} runs {hm(clash.start)}-"
            f"{hm(clash.end)}: the shifts would overlap.",
            field=field,
        )
    gone = list(
        Absence.objects.filter(driver=driver, starts_at__lt=end, ends_at__gt=start).values_list(
            "starts_at", "ends_at"
        )
    )
    if gone and shift_cut(ShiftTimes(start, end), gone) is None:
        raise RosterInvalid("The driver is absent for the whole shift.", field="start")


def shift_clock(shift: Shift, tz: ZoneInfo) -> ShiftInput:
    """The shift as wall-clock times (the form the office edits it in)."""

    def clock(moment: datetime | None) -> time | None:
        return None if moment is None else timezone.localtime(moment, tz).time()

    return {
        "start": clock(shift.start) or time.min,
        "end": clock(shift.end) or time.min,
        "vehicle": shift.vehicle,
        "break_earliest": clock(shift.break_earliest),
        "break_latest": clock(shift.break_latest),
        "break_minutes": shift.break_minutes,
    }


@transaction.atomic
def shift_update(*, shift: Shift, changes: ShiftInput) -> Shift:
    """Change a day's shift; it is then the office's (regeneration leaves it alone)."""
    _check_vehicle(shift.company_id, changes.get("vehicle"))
    tz = shift.company.tz
    merged: ShiftInput = {**shift_clock(shift, tz), **changes}
    if "break_minutes" in changes and not changes["break_minutes"]:
        merged["break_earliest"] = merged["break_latest"] = None
    fields = _shift_fields(shift.date, tz, merged)
    _check_free(shift.driver, shift.date, fields["start"], fields["end"], tz, other_than=shift)
    for name, value in fields.items():
        setattr(shift, name, value)
    # No vehicle given (null) means the driver's default one, as in the roster.
    shift.vehicle, shift.edited = merged.get("vehicle") or shift.driver.default_vehicle, True
    shift.save(update_fields=[*_SHIFT_TIMES, "vehicle", "edited", "updated_at"])
    return _absences_cut(shift)


@transaction.atomic
def shift_delete(*, shift: Shift) -> None:
    """The driver does not work that day: the row stays, marked off, so the roster's next
    generation does not bring the shift back."""
    shift.off, shift.edited = True, True
    shift.save(update_fields=["off", "edited", "updated_at"])


def _absences_cut(shift: Shift) -> Shift:
    """An office shift still yields to the driver's absences (see the module rule)."""
    gone = Absence.objects.filter(
        driver_id=shift.driver_id, starts_at__lt=shift.end, ends_at__gt=shift.start
    ).values_list("starts_at", "ends_at")
    if not gone:
        return shift
    _shift_cut_apply(shift, list(gone))
    return shift


def _shift_cut_apply(shift: Shift, gone: list[tuple[datetime, datetime]]) -> None:
    times = ShiftTimes(*(getattr(shift, f) for f in _SHIFT_TIMES))
    cut = shift_cut(times, gone)
    if cut is None:
        shift.off = True
        shift.save(update_fields=["off", "updated_at"])
        return
    if cut != times:
        for name in _SHIFT_TIMES:
            setattr(shift, name, getattr(cut, name))
        shift.save(update_fields=[*_SHIFT_TIMES, "updated_at"])


@transaction.atomic
def absence_create(
    *,
    company: Company,
    driver: Driver,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    note: str = "",
) -> Absence:
    """Record an absence and cut the driver's shifts it overlaps (past ones too: a driver
    who went home sick at 10:00 worked until 10:00)."""
    if driver.company_id != company.id:
        raise NotFound("Unknown driver.", field="driver")
    if ends_at <= starts_at:
        raise RosterInvalid("The absence must end after it starts.", field="ends_at")
    absence = Absence(
        company=company, driver=driver, kind=kind, starts_at=starts_at, ends_at=ends_at, note=note
    )
    absence.full_clean()
    absence.save()
    overlapping = Shift.objects.select_for_update().filter(
        driver=driver, off=False, start__lt=ends_at, end__gt=starts_at
    )
    for shift in overlapping:
        # A generated shift removed by an absence is regenerated as removed: mark it off only
        # when the office made it, else delete it (the next generation finds nothing to add).
        times = ShiftTimes(*(getattr(shift, f) for f in _SHIFT_TIMES))
        if shift_cut(times, [(starts_at, ends_at)]) is None and not shift.edited:
            shift.delete()
        else:
            _shift_cut_apply(shift, [(starts_at, ends_at)])
    return absence


@transaction.atomic
def absence_delete(*, absence: Absence) -> None:
    """Remove an absence; the roster's shifts of those days come back (unless edited)."""
    driver, company = absence.driver, absence.company
    first = timezone.localtime(absence.starts_at, company.tz).date() - DAY
    last = timezone.localtime(absence.ends_at, company.tz).date()
    absence.delete()
    shifts_generate(company=company, first=first, last=last, driver_ids=[driver.id])
