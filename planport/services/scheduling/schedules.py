"""Schedules: when import configurations run by themselves.

A schedule belongs to one configuration whose source needs no file at run time. Whoever last
edits a schedule, or what its configuration does (source, file settings, mapping), becomes its
owner, and its runs act with the owner's rights. Every change
recomputes `next_fire_at` from "now", so re-enabling or editing a schedule never replays the
past. Only members with Import Data in the application see or change schedules.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planport.domain.clock import Clock, utc_now
from planport.domain.enums import Permission
from planport.domain.errors import Conflict, Invalid, NotFound
from planport.domain.members import Actor
from planport.domain.runnable import why_not_runnable
from planport.scheduling import (
    Repeat,
    ScheduleTimes,
    describe,
    fires,
    next_fire,
    parsed_times,
    repeat_json,
)
from planport.services.workspace import access
from planport.services.workspace.members import clean_email
from planport.store.db import Database
from planport.store.models import (
    ImportConfiguration,
    ImportRun,
    ImportSchedule,
    Member,
)

MAX_SCHEDULES_PER_CONFIGURATION = 4
DEFAULT_GRACE = timedelta(hours=1)
MAX_GRACE = timedelta(days=7)
# Starts a planning model can mean. Outside them the time-zone arithmetic overflows
# (year 1 has no instant before it, year 9999 none after it) and no plan needs them.
EARLIEST_START = datetime(1970, 1, 1)
LATEST_START = datetime(2199, 12, 31, 23, 59)
SHOWN_FIRES = 5


@dataclass(frozen=True, slots=True)
class ScheduleInput:
    """What the schedule form gives. `start` is a wall-clock time in `time_zone` (naive)."""

    start: datetime
    time_zone: str
    repeat: Repeat
    enabled: bool = True
    grace: timedelta = DEFAULT_GRACE
    alerts_enabled: bool = True
    alert_recipients: tuple[str, ...] = ()  # empty: the owner
    pause_after_failures: int | None = None  # None: never pause

    @property
    def times(self) -> ScheduleTimes:
        return ScheduleTimes(self.start, self.time_zone, self.repeat)


@dataclass(frozen=True, slots=True)
class ScheduleView:
    id: uuid.UUID
    application_id: uuid.UUID
    configuration_id: uuid.UUID
    configuration_name: str
    block_name: str
    owner_email: str | None
    times: ScheduleTimes
    description: str
    enabled: bool
    grace: timedelta
    alerts_enabled: bool
    alert_recipients: tuple[str, ...]
    pause_after_failures: int | None
    paused_reason: str | None
    next_fire_at: datetime | None
    next_fires: list[datetime]
    error: str | None
    last_run_status: str | None
    updated_at: datetime

    @property
    def input(self) -> ScheduleInput:
        """The schedule as the form edits it."""
        return ScheduleInput(
            self.times.start,
            self.times.zone,
            self.times.repeat,
            self.enabled,
            self.grace,
            self.alerts_enabled,
            self.alert_recipients,
            self.pause_after_failures,
        )


@dataclass(frozen=True, slots=True)
class SameMinute:
    """Schedules of one application that next fire in the same minute (Pigment's advice:
    stagger them, so imports into a model do not queue behind each other)."""

    minute: datetime
    schedule_ids: list[uuid.UUID] = field(default_factory=list)


# ---------------------------------------------------------------- the stored repeat


def stored_times(schedule: ImportSchedule) -> ScheduleTimes:
    """Raises Invalid when the stored schedule cannot be evaluated."""
    return parsed_times(schedule.start_local, schedule.time_zone, schedule.repeat)


# ---------------------------------------------------------------- use cases


def create_schedule(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    given: ScheduleInput,
    *,
    clock: Clock = utc_now,
) -> ScheduleView:
    """Schedule a configuration; the actor becomes the owner.

    Raises NotFound, PermissionDenied (no Import Data), Invalid (a bad field, a configuration
    fed by uploads or in error) and Conflict (a fifth schedule).
    """
    checked = _checked(given)
    with db.write() as session:
        configuration = _configuration(session, actor, configuration_id, lock=True)
        _refuse_unschedulable(configuration)
        _refuse_fifth(session, configuration)
        schedule = ImportSchedule(
            application_id=configuration.application_id,
            configuration_id=configuration.id,
        )
        _apply(schedule, checked, actor, clock())
        session.add(schedule)
        session.flush()
        return _view(session, schedule, clock())


def update_schedule(
    db: Database,
    actor: Actor,
    schedule_id: uuid.UUID,
    given: ScheduleInput,
    *,
    clock: Clock = utc_now,
) -> ScheduleView:
    """Replace the schedule's fields; the actor becomes its owner. The next fire is planned
    from now: past fires are never replayed. Raises as `create_schedule`."""
    checked = _checked(given)
    with db.write() as session:
        schedule = _schedule(session, actor, schedule_id)
        configuration = _configuration(session, actor, schedule.configuration_id)
        if checked.enabled:
            _refuse_unschedulable(configuration)
        _apply(schedule, checked, actor, clock())
        session.flush()
        return _view(session, schedule, clock())


def set_enabled(
    db: Database, actor: Actor, schedule_id: uuid.UUID, enabled: bool, *, clock: Clock = utc_now
) -> ScheduleView:
    """The toggle. Disabling stops future fires at once; enabling plans from now (no replay).
    Toggling is an edit: the actor becomes the owner."""
    with db.write() as session:
        schedule = _schedule(session, actor, schedule_id)
        configuration = _configuration(session, actor, schedule.configuration_id)
        if enabled:
            _refuse_unschedulable(configuration)
        times = _times_or_none(schedule)
        given = ScheduleInput(
            start=datetime.fromisoformat(schedule.start_local),
            time_zone=schedule.time_zone,
            repeat=times.repeat if times else Repeat.none(),
            enabled=enabled,
            grace=timedelta(seconds=schedule.grace_seconds),
            alerts_enabled=schedule.alerts_enabled,
            alert_recipients=tuple(json.loads(schedule.alert_recipients)),
            pause_after_failures=schedule.pause_after_failures,
        )
        if times is None:
            raise Invalid(f"This schedule cannot be evaluated: {schedule.error} Edit it.")
        _apply(schedule, given, actor, clock())
        session.flush()
        return _view(session, schedule, clock())


def delete_schedule(db: Database, actor: Actor, schedule_id: uuid.UUID) -> None:
    """Delete a schedule; its past runs stay in the history."""
    with db.write() as session:
        session.delete(_schedule(session, actor, schedule_id))


def get_schedule(
    db: Database, actor: Actor, schedule_id: uuid.UUID, *, clock: Clock = utc_now
) -> ScheduleView:
    with db.read() as session:
        return _view(session, _schedule(session, actor, schedule_id), clock())


def list_schedules(
    db: Database, actor: Actor, application_id: uuid.UUID, *, clock: Clock = utc_now
) -> list[ScheduleView]:
    """The application's schedules, by configuration name, then by creation."""
    with db.read() as session:
        access.require(session, actor, Permission.IMPORT_DATA, application_id)
        found = session.scalars(
            select(ImportSchedule)
            .join(ImportConfiguration, ImportConfiguration.id == ImportSchedule.configuration_id)
            .where(ImportSchedule.application_id == application_id)
            .order_by(ImportConfiguration.name_key, ImportSchedule.created_at)
        )
        now = clock()
        return [_view(session, s, now) for s in found]


def preview_fires(
    given: ScheduleInput, *, count: int = SHOWN_FIRES, clock: Clock = utc_now
) -> list[datetime]:
    """The next `count` fires of a schedule being edited, from now. Raises Invalid."""
    return fires(_checked(given).times, count, after=clock() - timedelta(microseconds=1))


def same_minute_groups(views: Sequence[ScheduleView]) -> list[SameMinute]:
    """Enabled schedules whose next fires fall in the same minute, two or more per group."""
    groups: dict[datetime, list[uuid.UUID]] = {}
    for view in views:
        if view.enabled and view.next_fire_at is not None:
            minute = view.next_fire_at.replace(second=0, microsecond=0)
            groups.setdefault(minute, []).append(view.id)
    return [SameMinute(m, ids) for m, ids in sorted(groups.items()) if len(ids) > 1]


def stagger(
    db: Database,
    actor: Actor,
    schedule_ids: Sequence[uuid.UUID],
    *,
    minutes: int = 5,
    clock: Clock = utc_now,
) -> list[ScheduleView]:
    """Move the start of each schedule after the first by `minutes` more than the previous
    one (0, 5, 10… minutes later). Each moved schedule is an edit: the actor owns it."""
    if not 1 <= minutes <= 120:
        raise Invalid("Stagger schedules by 1 to 120 minutes.", field="minutes")
    moved = []
    for position, schedule_id in enumerate(schedule_ids):
        current = get_schedule(db, actor, schedule_id, clock=clock)
        if position == 0:
            moved.append(current)
            continue
        start = current.times.start + timedelta(minutes=minutes * position)
        given = replace(current.input, start=start)
        moved.append(update_schedule(db, actor, schedule_id, given, clock=clock))
    return moved


# ---------------------------------------------------------------- checks


def _checked(given: ScheduleInput) -> ScheduleInput:
    """Validate the form's values (the times validate themselves). Raises Invalid."""
    check_start(given.start)
    _ = given.times
    check_grace(given.grace)
    check_pause_after(given.pause_after_failures)
    return replace(given, alert_recipients=clean_recipients(given.alert_recipients))


def check_start(start: datetime) -> None:
    """Raises Invalid (field `start`) for a start before 1970 or after 2199."""
    if not EARLIEST_START <= start.replace(tzinfo=None) <= LATEST_START:
        raise Invalid(
            f"The start {start:%Y-%m-%d %H:%M} is out of range: give a date and time "
            "between 1970-01-01 00:00 and 2199-12-31 23:59.",
            field="start",
        )


def grace_of_minutes(minutes: int) -> timedelta:
    """The grace period of `minutes`. Raises Invalid (field `grace`) as `check_grace`,
    before a huge number of minutes overflows a timedelta."""
    if not 0 <= minutes <= MAX_GRACE.total_seconds() // 60:
        raise Invalid(_GRACE_RANGE, field="grace")
    return timedelta(minutes=minutes)


_GRACE_RANGE = "The grace period is between 0 minutes and 7 days (10,080 minutes)."


def check_grace(grace: timedelta) -> None:
    """Raises Invalid (field `grace`) outside 0 minutes to 7 days."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise Invalid(_GRACE_RANGE, field="grace")


def check_pause_after(failures: int | None) -> None:
    """Raises Invalid (field `pause_after_failures`) outside 1 to 100; None is "never"."""
    if failures is not None and not 1 <= failures <= 100:
        raise Invalid(
            "Pause after 1 to 100 consecutive failures, or never.", field="pause_after_failures"
        )


def clean_recipients(given: Sequence[str]) -> tuple[str, ...]:
    """Clean, de-duplicated addresses in the order given. Raises Invalid naming the bad one."""
    cleaned: list[str] = []
    for raw in given:
        if not raw.strip():
            continue
        try:
            email = clean_email(raw)
        except Invalid as error:
            raise Invalid(error.message, field="alert_recipients") from None
        if email not in cleaned:
            cleaned.append(email)
    if len(cleaned) > 20:
        raise Invalid("A schedule alerts at most 20 recipients.", field="alert_recipients")
    return tuple(cleaned)


def _refuse_unschedulable(configuration: ImportConfiguration) -> None:
    """Refuse (Invalid, field `configuration`) to schedule what cannot run by itself."""
    not_runnable = why_not_runnable(
        block_name=configuration.block_name,
        has_block=configuration.block_id is not None,
        error=configuration.error,
        source=configuration.source,
    )
    if not_runnable is not None:
        raise Invalid(not_runnable.message(configuration.name), field="configuration")


def _refuse_fifth(session: Session, configuration: ImportConfiguration) -> None:
    count = session.scalar(
        select(func.count())
        .select_from(ImportSchedule)
        .where(ImportSchedule.configuration_id == configuration.id)
    )
    if (count or 0) >= MAX_SCHEDULES_PER_CONFIGURATION:
        raise Conflict(
            f"Import configuration {configuration.name!r} already has "
            f"{MAX_SCHEDULES_PER_CONFIGURATION} schedules, the most one configuration can have. "
            "Edit or delete one of them instead.",
            field="configuration",
        )


def _apply(schedule: ImportSchedule, given: ScheduleInput, actor: Actor, now: datetime) -> None:
    """Write the fields; the editor becomes the owner; plan the next fire from now."""
    times = given.times
    schedule.owner_id = actor.id
    schedule.start_local = times.start.isoformat(timespec="minutes")
    schedule.time_zone = times.zone
    schedule.repeat = repeat_json(times.repeat)
    schedule.enabled = given.enabled
    schedule.grace_seconds = int(given.grace.total_seconds())
    schedule.alerts_enabled = given.alerts_enabled
    schedule.alert_recipients = json.dumps(list(given.alert_recipients))
    schedule.pause_after_failures = given.pause_after_failures
    schedule.paused_reason = None
    schedule.error = None
    # A fire exactly at "now" still counts: the editor may have meant "right now".
    schedule.next_fire_at = (
        next_fire(times, now - timedelta(microseconds=1)) if given.enabled else None
    )
    schedule.updated_at = now


# ---------------------------------------------------------------- loading and views


def _configuration(
    session: Session, actor: Actor, configuration_id: uuid.UUID, *, lock: bool = False
) -> ImportConfiguration:
    statement = select(ImportConfiguration).where(ImportConfiguration.id == configuration_id)
    if lock:
        # Two members adding a fifth schedule at once: the row lock makes the count exact
        # (SQLite's write transaction is already exclusive).
        statement = statement.with_for_update()
    configuration = session.scalar(statement)
    if configuration is None:
        raise NotFound("This import configuration does not exist.")
    access.require(session, actor, Permission.IMPORT_DATA, configuration.application_id)
    return configuration


def _schedule(session: Session, actor: Actor, schedule_id: uuid.UUID) -> ImportSchedule:
    schedule = session.get(ImportSchedule, schedule_id)
    if schedule is None:
        raise NotFound("This schedule does not exist.")
    access.require(session, actor, Permission.IMPORT_DATA, schedule.application_id)
    return schedule


def _times_or_none(schedule: ImportSchedule) -> ScheduleTimes | None:
    try:
        return stored_times(schedule)
    except Invalid as error:
        schedule.error = error.message
        return None


def _view(session: Session, schedule: ImportSchedule, now: datetime) -> ScheduleView:
    configuration = session.get(ImportConfiguration, schedule.configuration_id)
    assert configuration is not None
    owner = session.get(Member, schedule.owner_id) if schedule.owner_id else None
    times = _times_or_none(schedule)
    shown = (
        fires(times, SHOWN_FIRES, after=now - timedelta(microseconds=1))
        if times is not None and schedule.enabled
        else []
    )
    last = session.scalar(
        select(ImportRun.status)
        .where(ImportRun.schedule_id == schedule.id)
        .order_by(ImportRun.created_at.desc())
        .limit(1)
    )
    return ScheduleView(
        id=schedule.id,
        application_id=schedule.application_id,
        configuration_id=schedule.configuration_id,
        configuration_name=configuration.name,
        block_name=configuration.block_name,
        owner_email=owner.email if owner else None,
        times=times or ScheduleTimes(datetime(2000, 1, 1), "UTC", Repeat.none()),
        description=describe(times) if times else "(cannot be evaluated)",
        enabled=schedule.enabled,
        grace=timedelta(seconds=schedule.grace_seconds),
        alerts_enabled=schedule.alerts_enabled,
        alert_recipients=tuple(json.loads(schedule.alert_recipients)),
        pause_after_failures=schedule.pause_after_failures,
        paused_reason=schedule.paused_reason,
        next_fire_at=schedule.next_fire_at,
        next_fires=shown,
        error=schedule.error,
        last_run_status=last,
        updated_at=schedule.updated_at,
    )
