"""Firing due schedules: one scheduler tick, safe to run from any number of processes.

Each tick claims the schedules whose `next_fire_at` has come (PostgreSQL: `FOR UPDATE SKIP
LOCKED`, so concurrent schedulers take disjoint schedules; SQLite: one scheduler holds a lease),
records each fire under its primary key (schedule, scheduled-for instant) with `ON CONFLICT DO
NOTHING`, queues the run in the same transaction and advances `next_fire_at`. A fire therefore
happens exactly once: a second scheduler either skips the locked row or finds the fire recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from planport.connectors import SourceSpec, UploadSource, needs_file, parse_source
from planport.domain.errors import Invalid
from planport.domain.imports import RunStatus, Trigger
from planport.domain.schedules import FireOutcome
from planport.engine.file_settings import FileSettings
from planport.engine.mapping import Mapping
from planport.engine.summary import RunError
from planport.scheduling import due_fires
from planport.services import _run_rows, configurations, runs
from planport.services._run_rows import Outcome, RetryPolicy
from planport.services.schedules import stored_times
from planport.store.db import Database
from planport.store.models import (
    Block,
    ImportConfiguration,
    ImportRun,
    ImportSchedule,
    ScheduleFire,
)

TICK_BATCH = 200  # schedules claimed per transaction: short transactions, bounded memory
MISSED_LISTED = 100  # missed fires recorded per schedule after a long downtime


@dataclass(slots=True)
class TickReport:
    """What one tick did. `queued` are the runs to hand to the executor after commit;
    `finished` are runs that failed at once (the hooks run for them after commit)."""

    claimed: int = 0
    fired: int = 0
    missed: int = 0
    skipped: int = 0
    broken: int = 0
    queued: list[uuid.UUID] = field(default_factory=list)
    finished: list[uuid.UUID] = field(default_factory=list)


def fire_due(db: Database, now: datetime, *, batch: int = TICK_BATCH) -> TickReport:
    """Fire every schedule due at `now` (aware UTC), `batch` schedules per transaction."""
    report = TickReport()
    while True:
        with db.write() as session:
            due = _claim_due(session, now, batch)
            for schedule in due:
                _fire(session, schedule, now, report)
        report.claimed += len(due)
        if len(due) < batch:
            return report


def next_due_at(db: Database) -> datetime | None:
    """The earliest planned fire of an enabled schedule (an indexed look-up), for sleeping."""
    with db.read() as session:
        return session.scalar(
            select(func.min(ImportSchedule.next_fire_at)).where(ImportSchedule.enabled)
        )


def _claim_due(session: Session, now: datetime, batch: int) -> Sequence[ImportSchedule]:
    statement = (
        select(ImportSchedule)
        .where(ImportSchedule.enabled, ImportSchedule.next_fire_at <= now)
        .order_by(ImportSchedule.next_fire_at)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return session.scalars(statement).all()


def _fire(session: Session, schedule: ImportSchedule, now: datetime, report: TickReport) -> None:
    planned = schedule.next_fire_at
    assert planned is not None
    try:
        times = stored_times(schedule)
    except Invalid as error:
        # A broken schedule says why on the page; it stops being polled until edited.
        schedule.error, schedule.next_fire_at = error.message, None
        report.broken += 1
        return
    due = due_fires(times, planned, now, timedelta(seconds=schedule.grace_seconds))
    for missed in due.missed:
        if _record(session, schedule, missed, FireOutcome.MISSED):
            report.missed += 1
    if due.run is not None:
        _run_fire(session, schedule, due.run, now, report)
    schedule.last_fire_at = due.run or (due.missed[-1] if due.missed else schedule.last_fire_at)
    schedule.next_fire_at = due.next_fire


def _run_fire(
    session: Session,
    schedule: ImportSchedule,
    instant: datetime,
    now: datetime,
    report: TickReport,
) -> None:
    """Queue the fire's run, or record it skipped when one already waits (at most one run of
    a configuration waits behind a running one)."""
    if not _record(session, schedule, instant, FireOutcome.RUN):
        return  # another scheduler recorded this fire: it is not ours to run
    configuration = session.get(ImportConfiguration, schedule.configuration_id)
    assert configuration is not None
    if _has_waiting_run(session, configuration.id):
        _set_outcome(session, schedule, instant, FireOutcome.SKIPPED, None)
        report.skipped += 1
        return
    run = _queue(session, schedule, configuration, instant, now)
    _set_outcome(session, schedule, instant, FireOutcome.RUN, run.id)
    report.fired += 1
    if run.status == RunStatus.QUEUED.value:
        report.queued.append(run.id)
    else:
        report.finished.append(run.id)


def _queue(
    session: Session,
    schedule: ImportSchedule,
    configuration: ImportConfiguration,
    instant: datetime,
    now: datetime,
) -> ImportRun:
    """The fire's run, queued as the schedule's owner; or failed at once when the
    configuration cannot run (so the history, the Failed flag and the alerts all say why)."""
    problem = _cannot_run(session, configuration)
    block = session.get(Block, configuration.block_id) if configuration.block_id else None
    run = runs.queue_run(
        session,
        configuration=configuration,
        block=block or _deleted_block(configuration),
        source=_source_or_upload(configuration),
        trigger=Trigger.SCHEDULE,
        actor_id=schedule.owner_id,
        file_settings=FileSettings.model_validate_json(configuration.file_settings),
        mapping=Mapping.model_validate_json(configuration.mapping),
        schedule_id=schedule.id,
        scheduled_for=instant,
        now=now,
    )
    if problem is not None:
        name, message = problem
        outcome = Outcome(RunStatus.FAILED, errors=[RunError(name, message)])
        _run_rows.finish(
            session,
            run.id,
            None,
            outcome,
            now,
            RetryPolicy(retries=0),
            from_status=RunStatus.QUEUED,
        )
        session.refresh(run)
    return run


def _source_or_upload(configuration: ImportConfiguration) -> SourceSpec:
    try:
        return parse_source(configuration.source)
    except Invalid:
        return UploadSource()  # the run fails at once with the reason (_cannot_run)


def _deleted_block(configuration: ImportConfiguration) -> Block:
    """A stand-in naming the deleted block, so the failed run still tells what it was for."""
    assert configuration.block_id is None
    return Block(
        id=None, application_id=configuration.application_id, name=configuration.block_name
    )


def _cannot_run(session: Session, configuration: ImportConfiguration) -> tuple[str, str] | None:
    configurations.revalidate(session, configuration)
    if configuration.error is not None:
        return (
            "ConfigurationInError",
            f"Import configuration {configuration.name!r} is in error: {configuration.error}",
        )
    try:
        source = parse_source(configuration.source)
    except Invalid as error:
        return "ConfigurationInError", error.message
    if needs_file(source):
        return (
            "NoFileToImport",
            f"Import configuration {configuration.name!r} imports a file uploaded with each "
            "run; a schedule has no file to give it. Change its source to a server folder or "
            "another block.",
        )
    return None


def _has_waiting_run(session: Session, configuration_id: uuid.UUID) -> bool:
    session.flush()  # earlier fires of this tick count too
    waiting = session.scalar(
        select(func.count())
        .select_from(ImportRun)
        .where(
            ImportRun.configuration_id == configuration_id,
            ImportRun.status == RunStatus.QUEUED.value,
        )
    )
    return bool(waiting)


def _record(
    session: Session, schedule: ImportSchedule, instant: datetime, outcome: FireOutcome
) -> bool:
    """Insert the fire; False when it was already recorded (the unique key arbitrates)."""
    values = {
        "schedule_id": schedule.id,
        "scheduled_for": instant,
        "configuration_id": schedule.configuration_id,
        "outcome": outcome.value,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # RETURNING, not the row count: psycopg reports none for INSERT through SQLAlchemy 2.1.
    statement = (
        dialect.insert(ScheduleFire.__table__)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(ScheduleFire.__table__.c.schedule_id)
    )
    return session.execute(statement).first() is not None


def _set_outcome(
    session: Session,
    schedule: ImportSchedule,
    instant: datetime,
    outcome: FireOutcome,
    run_id: uuid.UUID | None,
) -> None:
    fire = session.get(ScheduleFire, (schedule.id, instant))
    assert fire is not None
    fire.outcome, fire.run_id = outcome.value, run_id
