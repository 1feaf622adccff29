"""Run history: every run, scheduled or not, and the fires that did not become runs.

Entries are newest first by the time they concern (a run's scheduled-for or creation time, a
fire's scheduled-for instant), so a gap in a schedule's runs always has an explanation beside
it: missed (outside the grace period) or skipped (a run was still waiting).
Retention keeps runs for `retention` (default 6 months) and always the last 50 runs of each
configuration, whatever their age.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select
from sqlalchemy.orm import Session

from planport.domain.enums import Permission
from planport.domain.errors import Invalid
from planport.domain.imports import RunStatus, Trigger
from planport.domain.members import Actor
from planport.domain.schedules import FireOutcome
from planport.services.workspace import access
from planport.store.db import Database, rowcount
from planport.store.models import (
    AlertMessage,
    ApiKey,
    ImportConfiguration,
    ImportRun,
    Member,
    ScheduleFire,
)

DEFAULT_RETENTION = timedelta(days=183)
KEEP_LAST_RUNS = 50
PAGE = 50
_ALL = 1_000_000  # no limit: the entries at one instant are as many as fire at once
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    configuration_id: uuid.UUID | None = None
    block_id: uuid.UUID | None = None
    statuses: frozenset[str] = frozenset()  # run statuses, or "missed"/"skipped"
    triggers: frozenset[Trigger] = frozenset()
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A run, or a fire that did not become one (`run_id` None, `status` missed/skipped)."""

    when: datetime  # scheduled-for, else created
    status: str
    trigger: Trigger
    configuration_id: uuid.UUID | None
    configuration_name: str | None
    block_name: str
    run_id: uuid.UUID | None
    actor_email: str | None
    scheduled_for: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    attempt: int
    rows_read: int
    inserted: int
    updated: int
    deleted: int
    skipped: int
    error: str | None
    # A run the Import API started: the key's name and the file it pushed.
    api_key_name: str | None = None
    file_name: str | None = None
    file_size: int | None = None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def is_fire(self) -> bool:
        return self.run_id is None


# A Select's row type is spelled differently by SQLAlchemy 2.0 (Select[tuple[...]]) and 2.1
# (Select[...]); the filters only add WHERE clauses, so they take the query untyped.
_RunQuery = Any

_FIRE_STATUSES = {FireOutcome.MISSED.value, FireOutcome.SKIPPED.value}


def list_history(
    db: Database,
    actor: Actor,
    application_id: uuid.UUID,
    given: HistoryFilter = HistoryFilter(),
    *,
    limit: int = PAGE,
    before: datetime | None = None,
) -> list[HistoryEntry]:
    """Up to `limit` entries newest first, older than `before` (keyset paging: pass the last
    entry's `when` for the next page). A page never ends in the middle of entries sharing one
    instant (schedules firing at the same minute): it then holds all of them, a little more than
    `limit`, so that the next page, strictly older, loses none. Raises PermissionDenied without
    Import Data, Invalid for a bad filter."""
    if given.since and given.until and given.since > given.until:
        raise Invalid("The start of the period is after its end.", field="since")
    with db.read() as session:
        access.require(session, actor, Permission.IMPORT_DATA, application_id)
        entries = _entries(session, application_id, given, limit, before)
        if len(entries) <= limit:
            return entries
        boundary = entries[limit - 1].when
        # Everything at the boundary instant, however many: `since` is inclusive.
        at_boundary = replace(given, since=boundary, until=None)
        tied = _entries(session, application_id, at_boundary, _ALL, boundary + _TICK)
        return [e for e in entries if e.when > boundary] + tied


def _entries(
    session: Session,
    application_id: uuid.UUID,
    given: HistoryFilter,
    limit: int,
    before: datetime | None,
) -> list[HistoryEntry]:
    """Up to `limit` + 1 runs and fires (the extra one tells whether the page is full), newest
    first."""
    entries = _runs(session, application_id, given, limit + 1, before)
    if _wants_fires(given):
        entries += _fires(session, application_id, given, limit + 1, before)
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[: limit + 1]


def _wants_fires(given: HistoryFilter) -> bool:
    if given.triggers and Trigger.SCHEDULE not in given.triggers:
        return False
    return not given.statuses or bool(given.statuses & _FIRE_STATUSES)


def _runs(
    session: Session,
    application_id: uuid.UUID,
    given: HistoryFilter,
    limit: int,
    before: datetime | None,
) -> list[HistoryEntry]:
    when: ColumnElement[datetime] = func.coalesce(ImportRun.scheduled_for, ImportRun.created_at)
    statement = (
        select(ImportRun, ImportConfiguration.name, Member.email, ApiKey.name)
        .outerjoin(ImportConfiguration, ImportConfiguration.id == ImportRun.configuration_id)
        .outerjoin(Member, Member.id == ImportRun.actor_id)
        .outerjoin(ApiKey, ApiKey.id == ImportRun.api_key_id)
        .where(ImportRun.application_id == application_id)
        .order_by(when.desc())
        .limit(limit)
    )
    statement = _run_filters(statement, given, when, before)
    return [_run_entry(*row) for row in session.execute(statement)]


def _run_filters(
    statement: _RunQuery,
    given: HistoryFilter,
    when: ColumnElement[datetime],
    before: datetime | None,
) -> _RunQuery:
    if given.configuration_id:
        statement = statement.where(ImportRun.configuration_id == given.configuration_id)
    if given.block_id:
        statement = statement.where(ImportRun.block_id == given.block_id)
    statuses = given.statuses - _FIRE_STATUSES
    if given.statuses and not statuses:
        return statement.where(false())
    if statuses:
        statement = statement.where(ImportRun.status.in_(sorted(statuses)))
    if given.triggers:
        statement = statement.where(ImportRun.trigger.in_(sorted(t.value for t in given.triggers)))
    if given.since:
        statement = statement.where(when >= given.since)
    if given.until:
        statement = statement.where(when < given.until)
    if before:
        statement = statement.where(when < before)
    return statement


def _fires(
    session: Session,
    application_id: uuid.UUID,
    given: HistoryFilter,
    limit: int,
    before: datetime | None,
) -> list[HistoryEntry]:
    statement = (
        select(ScheduleFire, ImportConfiguration.name, ImportConfiguration.block_name)
        .join(ImportConfiguration, ImportConfiguration.id == ScheduleFire.configuration_id)
        .where(
            ImportConfiguration.application_id == application_id,
            ScheduleFire.outcome.in_(sorted(given.statuses & _FIRE_STATUSES or _FIRE_STATUSES)),
        )
        .order_by(ScheduleFire.scheduled_for.desc())
        .limit(limit)
    )
    if given.configuration_id:
        statement = statement.where(ScheduleFire.configuration_id == given.configuration_id)
    if given.block_id:
        statement = statement.where(ImportConfiguration.block_id == given.block_id)
    for bound, keep in ((given.since, True), (given.until, False), (before, False)):
        if bound is not None:
            statement = statement.where(
                ScheduleFire.scheduled_for >= bound if keep else ScheduleFire.scheduled_for < bound
            )
    return [_fire_entry(fire, name, block) for fire, name, block in session.execute(statement)]


def _run_entry(
    run: ImportRun, configuration_name: str | None, email: str | None, key_name: str | None
) -> HistoryEntry:
    return HistoryEntry(
        when=run.scheduled_for or run.created_at,
        status=run.status,
        trigger=Trigger(run.trigger),
        configuration_id=run.configuration_id,
        configuration_name=configuration_name,
        block_name=run.block_name,
        run_id=run.id,
        actor_email=email,
        scheduled_for=run.scheduled_for,
        started_at=run.started_at,
        finished_at=run.finished_at,
        attempt=run.attempt,
        rows_read=run.rows_read,
        inserted=run.inserted,
        updated=run.updated,
        deleted=run.deleted,
        skipped=run.skipped,
        error=_first_error(run),
        api_key_name=key_name,
        file_name=run.file_name if key_name is not None else None,
        file_size=run.file_size if key_name is not None else None,
    )


def _fire_entry(fire: ScheduleFire, name: str, block_name: str) -> HistoryEntry:
    outcome = FireOutcome(fire.outcome)
    reason = (
        "Planport was not running at this time, and the fire is older than the schedule's "
        "grace period."
        if outcome is FireOutcome.MISSED
        else "A run of this configuration was still waiting behind a running one."
    )
    return HistoryEntry(
        when=fire.scheduled_for,
        status=outcome.value,
        trigger=Trigger.SCHEDULE,
        configuration_id=fire.configuration_id,
        configuration_name=name,
        block_name=block_name,
        run_id=None,
        actor_email=None,
        scheduled_for=fire.scheduled_for,
        started_at=None,
        finished_at=None,
        attempt=0,
        rows_read=0,
        inserted=0,
        updated=0,
        deleted=0,
        skipped=0,
        error=reason,
    )


def _first_error(run: ImportRun) -> str | None:
    if not run.errors:
        return None
    errors = json.loads(run.errors)
    return str(errors[0]["description"]) if errors else None


# ---------------------------------------------------------------- retention


def purge(db: Database, now: datetime, *, retention: timedelta = DEFAULT_RETENTION) -> int:
    """Delete finished runs older than `retention`, except each configuration's last
    KEEP_LAST_RUNS runs, and fires and delivered alert messages older than `retention`.
    Returns the runs deleted."""
    cutoff = now - retention
    finished = [s.value for s in RunStatus if s.finished]
    ranked = (
        select(
            ImportRun.id,
            func.row_number()
            .over(partition_by=ImportRun.configuration_id, order_by=ImportRun.created_at.desc())
            .label("position"),
        )
        .where(ImportRun.configuration_id.is_not(None))
        .subquery()
    )
    kept = select(ranked.c.id).where(ranked.c.position <= KEEP_LAST_RUNS)
    with db.write() as session:
        deleted = session.execute(
            delete(ImportRun).where(
                ImportRun.created_at < cutoff,
                ImportRun.status.in_(finished),
                or_(ImportRun.configuration_id.is_(None), ImportRun.id.not_in(kept)),
            )
        )
        session.execute(
            delete(ScheduleFire).where(
                and_(ScheduleFire.scheduled_for < cutoff, ScheduleFire.run_id.is_(None))
            )
        )
        session.execute(
            delete(AlertMessage).where(
                AlertMessage.created_at < cutoff, AlertMessage.status != "pending"
            )
        )
        return rowcount(deleted)


def latest_runs(session: Session, configuration_ids: list[uuid.UUID]) -> dict[uuid.UUID, ImportRun]:
    """The newest run of each configuration (for the page's sections)."""
    if not configuration_ids:
        return {}
    newest = (
        select(ImportRun.configuration_id, func.max(ImportRun.created_at).label("at"))
        .where(ImportRun.configuration_id.in_(configuration_ids))
        .group_by(ImportRun.configuration_id)
        .subquery()
    )
    found = session.scalars(
        select(ImportRun).join(
            newest,
            and_(
                ImportRun.configuration_id == newest.c.configuration_id,
                ImportRun.created_at == newest.c.at,
            ),
        )
    )
    return {run.configuration_id: run for run in found if run.configuration_id}
