"""What the Import Scheduling page shows: one section per import configuration of an
application, with its schedules, its latest run (and its live progress), the Failed flag and
whether it can be scheduled at all.

One read, for the page and for the fragment it polls while a run is queued or running.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from planport.connectors import needs_file, parse_source
from planport.domain.enums import Permission
from planport.domain.errors import Invalid
from planport.domain.imports import RunStatus, Trigger
from planport.domain.members import Actor
from planport.services import access, history, schedules
from planport.services._run_execution import local_progress
from planport.services.schedules import Clock, SameMinute, ScheduleView
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportRun, utc_now

_ACTIVE = frozenset({RunStatus.QUEUED.value, RunStatus.RUNNING.value})


@dataclass(frozen=True, slots=True)
class LatestRun:
    """The newest run of a configuration, as its section shows it."""

    id: uuid.UUID
    status: str
    trigger: Trigger
    rows_done: int
    rows_read: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    attempt: int = 1
    not_before: datetime | None = None  # a retry waits until then

    @property
    def active(self) -> bool:
        return self.status in _ACTIVE


@dataclass(frozen=True, slots=True)
class Section:
    """One import configuration: its schedules and how its runs are going.

    `not_schedulable` says why the configuration cannot be scheduled (fed by uploads, in
    error), or is None. `failed` is the Failed flag: the latest finished run failed.
    """

    configuration_id: uuid.UUID
    name: str
    block_id: uuid.UUID | None
    block_name: str
    not_schedulable: str | None
    schedules: list[ScheduleView]
    latest: LatestRun | None
    failed: bool

    @property
    def active(self) -> bool:
        return self.latest is not None and self.latest.active

    @property
    def full(self) -> bool:
        return len(self.schedules) >= schedules.MAX_SCHEDULES_PER_CONFIGURATION


@dataclass(frozen=True, slots=True)
class Overview:
    application_id: uuid.UUID
    sections: list[Section]
    same_minute: list[SameMinute] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Some run is queued or running: the page keeps polling while this holds."""
        return any(s.active for s in self.sections)

    @property
    def schedule_count(self) -> int:
        return sum(len(s.schedules) for s in self.sections)

    @property
    def schedulable(self) -> list[Section]:
        return [s for s in self.sections if s.not_schedulable is None]

    def schedule(self, schedule_id: uuid.UUID) -> ScheduleView | None:
        for section in self.sections:
            for view in section.schedules:
                if view.id == schedule_id:
                    return view
        return None


def scheduling_overview(
    db: Database, actor: Actor, application_id: uuid.UUID, *, clock: Clock = utc_now
) -> Overview:
    """The page's sections, by block then configuration name. Raises NotFound for an unknown
    application and PermissionDenied without Import Data."""
    views = schedules.list_schedules(db, actor, application_id, clock=clock)
    by_configuration: dict[uuid.UUID, list[ScheduleView]] = {}
    for view in views:
        by_configuration.setdefault(view.configuration_id, []).append(view)
    with db.read() as session:
        access.require(session, actor, Permission.IMPORT_DATA, application_id)
        found = _configurations(session, application_id)
        latest = history.latest_runs(session, [c.id for c in found])
        sections = [_section(c, by_configuration.get(c.id, []), latest.get(c.id)) for c in found]
    return Overview(application_id, sections, schedules.same_minute_groups(views))


def _configurations(session: Session, application_id: uuid.UUID) -> Sequence[ImportConfiguration]:
    return session.scalars(
        select(ImportConfiguration)
        .where(ImportConfiguration.application_id == application_id)
        .order_by(ImportConfiguration.block_name, ImportConfiguration.name_key)
    ).all()


def _section(
    configuration: ImportConfiguration, views: list[ScheduleView], run: ImportRun | None
) -> Section:
    return Section(
        configuration_id=configuration.id,
        name=configuration.name,
        block_id=configuration.block_id,
        block_name=configuration.block_name,
        not_schedulable=not_schedulable(configuration),
        schedules=views,
        latest=_latest(run) if run is not None else None,
        failed=configuration.last_run_status == RunStatus.FAILED.value,
    )


def not_schedulable(configuration: ImportConfiguration) -> str | None:
    """Why the configuration cannot run by itself, or None (the same rules the schedule use
    cases enforce: no block, in error, or a file uploaded with each run)."""
    if configuration.block_id is None:
        return f"Its block {configuration.block_name!r} was deleted."
    if configuration.error is not None:
        return f"It is in error: {configuration.error}"
    try:
        spec = parse_source(configuration.source)
    except Invalid as error:
        return error.message
    if needs_file(spec):
        return (
            "It imports a file uploaded with each run, so it cannot run by itself. Change its "
            "source to a server folder or another block to schedule it."
        )
    return None


def _latest(run: ImportRun) -> LatestRun:
    errors = json.loads(run.errors) if run.errors else []
    # On SQLite the row's progress cannot be written while the run holds the write lock for
    # its block; an executor in this process knows the live count.
    live = local_progress(run.id) if run.status == RunStatus.RUNNING.value else None
    return LatestRun(
        id=run.id,
        status=run.status,
        trigger=Trigger(run.trigger),
        rows_done=max(run.rows_done, live or 0),
        rows_read=run.rows_read,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        error=str(errors[0]["description"]) if errors else None,
        attempt=run.attempt,
        not_before=run.not_before,
    )
