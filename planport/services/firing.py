"""Firing due schedules: one scheduler tick, safe to run from any number of processes.

Each tick claims the schedules whose `next_fire_at` has come (PostgreSQL: `FOR UPDATE SKIP
LOCKED`, so concurrent schedulers take disjoint schedules; SQLite: one scheduler holds a lease),
records each fire under its primary key (schedule, scheduled-for instant) with `ON CONFLICT DO
NOTHING`, queues the runs in the same transaction and advances `next_fire_at`. A fire therefore
happens exactly once: a second scheduler either skips the locked row or finds the fire recorded.

A batch of schedules costs a fixed handful of statements (claim, configurations, blocks, waiting
runs, runs, fires, schedules), not a few per schedule: a thousand schedules due at 09:00 fire
within the second.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
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

TICK_BATCH = 250  # schedules claimed per transaction: short transactions, bounded memory
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

    def merge(self, other: TickReport) -> None:
        self.claimed += other.claimed
        self.fired += other.fired
        self.missed += other.missed
        self.skipped += other.skipped
        self.broken += other.broken
        self.queued += other.queued
        self.finished += other.finished


@dataclass(slots=True)
class _Fire:
    """A fire decided in memory, before the batch writes it."""

    schedule: ImportSchedule
    instant: datetime
    outcome: FireOutcome
    run_id: uuid.UUID | None = None
    problem: tuple[str, str] | None = None


def fire_due(
    db: Database,
    now: datetime,
    *,
    batch: int = TICK_BATCH,
    on_commit: Callable[[TickReport], None] | None = None,
) -> TickReport:
    """Fire every schedule due at `now` (aware UTC), `batch` schedules per transaction.

    `on_commit` gets each batch's own report right after its commit, so the executor starts
    the first runs of a large burst while the next batch is fired. Returns the whole tick.
    """
    report = TickReport()
    while True:
        part = TickReport()
        with db.write() as session:
            due = _claim_due(session, now, batch)
            if due:
                _fire_batch(session, due, now, part)
        part.claimed = len(due)
        if on_commit is not None:
            on_commit(part)
        report.merge(part)
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


def _fire_batch(
    session: Session, due: Sequence[ImportSchedule], now: datetime, report: TickReport
) -> None:
    fires = [fire for schedule in due for fire in _plan(schedule, now, report)]
    to_run = [f for f in fires if f.outcome is FireOutcome.RUN]
    if to_run:
        _decide_runs(session, to_run, now)
    recorded = _insert_fires(session, fires)
    _drop_runs_of_fires_recorded_elsewhere(session, fires, recorded)
    for fire in fires:
        if (fire.schedule.id, fire.instant) in recorded:
            _count(fire, report)


def _plan(schedule: ImportSchedule, now: datetime, report: TickReport) -> list[_Fire]:
    """The schedule's due fires (missed ones, and at most one to run), and its next fire."""
    planned = schedule.next_fire_at
    assert planned is not None
    try:
        times = stored_times(schedule)
    except Invalid as error:
        # A broken schedule says why on the page; it stops being polled until edited.
        schedule.error, schedule.next_fire_at = error.message, None
        report.broken += 1
        return []
    grace = timedelta(seconds=schedule.grace_seconds)
    due = due_fires(times, planned, now, grace, limit=MISSED_LISTED)
    fires = [_Fire(schedule, missed, FireOutcome.MISSED) for missed in due.missed]
    if due.run is not None:
        fires.append(_Fire(schedule, due.run, FireOutcome.RUN))
    if fires:
        schedule.last_fire_at = fires[-1].instant
    schedule.next_fire_at = due.next_fire
    return fires


def _decide_runs(session: Session, fires: list[_Fire], now: datetime) -> None:
    """Queue a run per fire, or mark it skipped when a run of its configuration already
    waits (at most one waits behind a running one); a configuration that cannot run gets a
    run failed at once, so the history, the Failed flag and the alerts all say why."""
    wanted = {f.schedule.configuration_id for f in fires}
    found = session.scalars(
        select(ImportConfiguration).where(ImportConfiguration.id.in_(wanted))
    ).all()
    by_id = {c.id: c for c in found}
    blocks = _blocks_of(session, found)
    waiting = _waiting(session, wanted)
    values = []
    for fire in fires:
        configuration = by_id[fire.schedule.configuration_id]
        if configuration.id in waiting:
            fire.outcome = FireOutcome.SKIPPED
            continue
        fire.problem = _cannot_run(session, configuration)
        row = _run_values(fire, configuration, blocks, now)
        fire.run_id = row["id"]
        values.append(row)
        if fire.problem is None:
            waiting.add(configuration.id)
    if values:
        # One executemany: the runs exist before the fires that name them.
        session.execute(insert(ImportRun), values)
    for fire in fires:
        if fire.run_id is not None and fire.problem is not None:
            name, message = fire.problem
            outcome = Outcome(RunStatus.FAILED, errors=[RunError(name, message)])
            _run_rows.finish(
                session,
                fire.run_id,
                None,
                outcome,
                now,
                RetryPolicy(retries=0),
                from_status=RunStatus.QUEUED,
            )


def _blocks_of(session: Session, found: Sequence[ImportConfiguration]) -> dict[uuid.UUID, Block]:
    ids = {c.block_id for c in found if c.block_id is not None}
    return {b.id: b for b in session.scalars(select(Block).where(Block.id.in_(ids)))}


def _waiting(session: Session, configuration_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    rows = session.scalars(
        select(ImportRun.configuration_id).where(
            ImportRun.configuration_id.in_(configuration_ids),
            ImportRun.status == RunStatus.QUEUED.value,
        )
    )
    return {r for r in rows if r is not None}


@functools.lru_cache(maxsize=256)
def _recipe(
    file_settings: str, mapping: str, source: str
) -> tuple[FileSettings, Mapping, SourceSpec]:
    """A configuration's stored recipe, parsed once per distinct text (a burst of fires of
    similar configurations parses a few, not thousands)."""
    try:
        spec = parse_source(source)
    except Invalid:
        spec = UploadSource()  # the run fails at once with the reason (_cannot_run)
    return (
        FileSettings.model_validate_json(file_settings),
        Mapping.model_validate_json(mapping),
        spec,
    )


def _run_values(
    fire: _Fire,
    configuration: ImportConfiguration,
    blocks: dict[uuid.UUID, Block],
    now: datetime,
) -> dict[str, Any]:
    block = blocks.get(configuration.block_id) if configuration.block_id else None
    settings, mapping, source = _recipe(
        configuration.file_settings, configuration.mapping, configuration.source
    )
    return runs.queued_run_values(
        configuration=configuration,
        block=block or _deleted_block(configuration),
        source=source,
        trigger=Trigger.SCHEDULE,
        actor_id=fire.schedule.owner_id,
        file_settings=settings,
        mapping=mapping,
        schedule_id=fire.schedule.id,
        scheduled_for=fire.instant,
        now=now,
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


def _deleted_block(configuration: ImportConfiguration) -> Block:
    """A stand-in naming the deleted block, so the failed run still tells what it was for."""
    return Block(
        id=None, application_id=configuration.application_id, name=configuration.block_name
    )


def _insert_fires(session: Session, fires: list[_Fire]) -> set[tuple[uuid.UUID, datetime]]:
    """Insert the fires in one statement; returns the keys this call inserted (the unique
    key arbitrates: a fire another scheduler recorded first is not returned)."""
    if not fires:
        return set()
    rows = [
        {
            "schedule_id": f.schedule.id,
            "scheduled_for": f.instant,
            "configuration_id": f.schedule.configuration_id,
            "outcome": f.outcome.value,
            "run_id": f.run_id,
        }
        for f in fires
    ]
    table = ScheduleFire.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # RETURNING, not the row count: psycopg reports none for INSERT through SQLAlchemy 2.1.
    # Given a list, SQLAlchemy sends it in a few batched statements compiled once.
    statement = (
        dialect.insert(table)
        .on_conflict_do_nothing()
        .returning(table.c.schedule_id, table.c.scheduled_for)
    )
    found = session.execute(statement, rows)
    return {(r.schedule_id, _aware(r.scheduled_for)) for r in found}


def _aware(instant: datetime) -> datetime:
    # The RETURNING row bypasses the model's type on SQLite, which keeps no zone.
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def _drop_runs_of_fires_recorded_elsewhere(
    session: Session, fires: list[_Fire], recorded: set[tuple[uuid.UUID, datetime]]
) -> None:
    """A fire already recorded was another scheduler's: the run queued for it here goes."""
    lost = [
        f.run_id
        for f in fires
        if f.run_id is not None and (f.schedule.id, f.instant) not in recorded
    ]
    if lost:
        session.execute(delete(ImportRun).where(ImportRun.id.in_(lost)))
        for fire in fires:
            if fire.run_id in lost:
                fire.run_id = None


def _count(fire: _Fire, report: TickReport) -> None:
    if fire.outcome is FireOutcome.MISSED:
        report.missed += 1
    elif fire.outcome is FireOutcome.SKIPPED:
        report.skipped += 1
    elif fire.run_id is not None:
        report.fired += 1
        target = report.queued if fire.problem is None else report.finished
        target.append(fire.run_id)
