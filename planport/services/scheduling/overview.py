"""What the Import Scheduling page shows: one section per import configuration of an
application that can be scheduled (or has schedules), with its schedules, its latest run (and
its live progress) and its Success or Failed flag; the configurations that cannot be scheduled
are folded under one line that says why and how to make them schedulable.

One read, for the page and for the fragment it polls while a run is queued or running.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from planport.domain.clock import Clock, utc_now
from planport.domain.enums import Permission
from planport.domain.imports import RunStatus, Trigger
from planport.domain.members import Actor
from planport.domain.runnable import Blocker, why_not_runnable
from planport.services.imports.runs.progress import local_progress
from planport.services.scheduling import history, schedules
from planport.services.scheduling.schedules import SameMinute, ScheduleView
from planport.services.workspace import access
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportRun

_ACTIVE = frozenset({RunStatus.QUEUED.value, RunStatus.RUNNING.value})


# (what the configurations do, singular and plural; the fix, singular and plural)
_BLOCKER_WORDS: dict[Blocker, tuple[str, str, str, str]] = {
    Blocker.UPLOAD: (
        "reads an uploaded file",
        "read an uploaded file",
        "give it a server-folder or block source",
        "give them a server-folder or block source",
    ),
    Blocker.IN_ERROR: (
        "is in error",
        "are in error",
        "repair it from its configuration page",
        "repair them from their configuration pages",
    ),
    Blocker.DELETED_BLOCK: (
        "lost its block",
        "lost their blocks",
        "delete it, or save a new configuration for another block",
        "delete them, or save new configurations for other blocks",
    ),
    Blocker.BAD_SOURCE: (
        "has a source that cannot be read",
        "have sources that cannot be read",
        "set its source again",
        "set their sources again",
    ),
}


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
    error), or is None; `blocker` is the kind of reason. `outcome` is the Success or Failed
    flag: the status of the latest finished run (completed or failed), None before any.
    """

    configuration_id: uuid.UUID
    name: str
    block_id: uuid.UUID | None
    block_name: str
    not_schedulable: str | None
    schedules: list[ScheduleView]
    latest: LatestRun | None
    outcome: RunStatus | None
    blocker: Blocker | None = None

    @property
    def failed(self) -> bool:
        return self.outcome is RunStatus.FAILED

    @property
    def succeeded(self) -> bool:
        return self.outcome is RunStatus.COMPLETED

    @property
    def folded(self) -> bool:
        """Cannot be scheduled and has no schedule to look after: folded on the page."""
        return self.not_schedulable is not None and not self.schedules

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

    @property
    def shown(self) -> list[Section]:
        """The sections the page shows in full: schedulable, or with schedules."""
        return [s for s in self.sections if not s.folded]

    @property
    def folded(self) -> list[Section]:
        return [s for s in self.sections if s.folded]

    @property
    def folded_line(self) -> str | None:
        """One sentence saying why the folded configurations cannot be scheduled and how to
        make them schedulable, or None when none is folded."""
        return folded_line([s.blocker for s in self.folded if s.blocker is not None])

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
    blocked = blocker(configuration)
    return Section(
        configuration_id=configuration.id,
        name=configuration.name,
        block_id=configuration.block_id,
        block_name=configuration.block_name,
        not_schedulable=blocked[1] if blocked else None,
        schedules=views,
        latest=_latest(run) if run is not None else None,
        outcome=_outcome(configuration.last_run_status),
        blocker=blocked[0] if blocked else None,
    )


def _outcome(last_run_status: str | None) -> RunStatus | None:
    if last_run_status in (RunStatus.COMPLETED.value, RunStatus.FAILED.value):
        return RunStatus(last_run_status)
    return None


def not_schedulable(configuration: ImportConfiguration) -> str | None:
    """Why the configuration cannot run by itself, or None (the same rules the schedule use
    cases enforce: no block, in error, or a file uploaded with each run)."""
    blocked = blocker(configuration)
    return blocked[1] if blocked else None


def blocker(configuration: ImportConfiguration) -> tuple[Blocker, str] | None:
    """The kind of reason the configuration cannot run by itself and the reason in words,
    or None when it can."""
    not_runnable = why_not_runnable(
        block_name=configuration.block_name,
        has_block=configuration.block_id is not None,
        error=configuration.error,
        source=configuration.source,
    )
    if not_runnable is None:
        return None
    return not_runnable.blocker, not_runnable.said_of("It")


def folded_line(blockers: Sequence[Blocker]) -> str | None:
    """ "4 configurations read an uploaded file and cannot be scheduled: give them a
    server-folder or block source." for one kind of reason; for several, each kind with its
    count and fix. None for no blockers."""
    if not blockers:
        return None
    # The most common reason first: it is the one most worth fixing.
    counts = dict(sorted(Counter(blockers).items(), key=lambda item: -item[1]))
    if len(counts) == 1:
        [(kind, count)] = counts.items()
        what = f"{_configurations_count(count)} {_does(kind, count)}"
        return f"{what} and cannot be scheduled: {_fix(kind, count)}."
    parts = [f"{n} {_does(kind, n)} ({_fix(kind, n)})" for kind, n in counts.items()]
    return f"{_configurations_count(len(blockers))} cannot be scheduled: {'; '.join(parts)}."


def _configurations_count(count: int) -> str:
    return f"{count} configuration{'' if count == 1 else 's'}"


def _does(kind: Blocker, count: int) -> str:
    words = _BLOCKER_WORDS[kind]
    return words[0] if count == 1 else words[1]


def _fix(kind: Blocker, count: int) -> str:
    words = _BLOCKER_WORDS[kind]
    return words[2] if count == 1 else words[3]


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
