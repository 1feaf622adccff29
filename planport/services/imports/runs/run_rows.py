"""The run row: the one place a new run's columns are written (`NewRun`), and its
transitions, each one conditional so the database arbitrates.

Every trigger builds a `NewRun` (the wizard, "Start an import right now", the command line,
run again, a schedule's fire, a retry) and either adds it (`queue.queue_run`) or inserts many
at once (a scheduler tick, `NewRun.row`).

    queued ──claim──► running ──finish──► completed | failed | cancelled
       │                 │
       └──cancel──► cancelled          └──sweeper (heartbeat stale)──► failed (WorkerLost)

Every transition is an `UPDATE … WHERE <the state it expects>` whose row count says whether
this caller won. A claim on PostgreSQL picks its candidates with `FOR UPDATE SKIP LOCKED` and
serialises claims of one configuration with a transaction-scoped advisory lock; SQLite's single
writer (BEGIN IMMEDIATE) serialises them all. Finishing a run also records the outcome on its
configuration and queues a retry when the policy allows, in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, insert, literal, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from planport import connectors
from planport.connectors import SourceSpec, source_json
from planport.domain.blocks import BlockDef
from planport.domain.clock import utc_now
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus, Trigger
from planport.domain.mapping import Mapping
from planport.domain.summary import ImportSummary, RejectedRow, RunError
from planport.store.db import rowcount
from planport.store.models import (
    Block,
    ImportConfiguration,
    ImportRun,
    ImportRunReject,
    UTCDateTime,
)

REJECT_BATCH = 5000
CANDIDATES = 8  # rows one claim looks at: enough to step over runs of busy configurations
# Advisory lock namespace (the two-int4 key space, apart from the block locks' bigint keys).
CONFIGURATION_LOCK = 4_001


# ---------------------------------------------------------------- a new run


@dataclass(frozen=True, slots=True)
class RunRecipe:
    """What a run imports, as its row stores it: the same for every run of one configuration
    text, so a caller queueing many runs (a scheduler tick) computes it once per text."""

    file_name: str | None
    file_settings: str
    mapping: str
    source: str | None  # None only on runs queued before runs recorded their source

    @classmethod
    def of(cls, source: SourceSpec, file_settings: FileSettings, mapping: Mapping) -> RunRecipe:
        return cls(
            file_name=connectors.label(source),
            file_settings=file_settings.model_dump_json(),
            mapping=mapping.model_dump_json(),
            source=source_json(source),
        )


@dataclass(frozen=True, slots=True)
class NewRun:
    """A queued run before it has a row: what it imports (`recipe`), into which block, from
    which configuration, why (`trigger`, the schedule's fire) and with whose rights (`actor_id`:
    the member who started it, or the schedule's owner). A retry is the same run again
    (`retry`), one attempt further and not before its backoff."""

    recipe: RunRecipe
    application_id: uuid.UUID
    block_id: uuid.UUID | None
    block_name: str
    trigger: Trigger
    actor_id: uuid.UUID | None
    configuration_id: uuid.UUID | None = None
    schedule_id: uuid.UUID | None = None
    scheduled_for: datetime | None = None
    attempt: int = 1
    retry_of: uuid.UUID | None = None
    not_before: datetime | None = None
    api_key_id: uuid.UUID | None = None  # the key of a run the Import API triggered

    @classmethod
    def into(
        cls,
        block: BlockDef | Block,
        recipe: RunRecipe,
        trigger: Trigger,
        actor_id: uuid.UUID | None,
        *,
        configuration_id: uuid.UUID | None = None,
    ) -> NewRun:
        """A run of `recipe` into `block`, started by `trigger` with `actor_id`'s rights."""
        return cls(
            recipe=recipe,
            application_id=block.application_id,
            block_id=block.id,
            block_name=block.name,
            trigger=trigger,
            actor_id=actor_id,
            configuration_id=configuration_id,
        )

    @classmethod
    def retry(cls, run: ImportRun, not_before: datetime) -> NewRun:
        """Run `run` again with everything it used, as its next attempt."""
        recipe = RunRecipe(run.file_name, run.file_settings, run.mapping, run.source)
        return cls(
            recipe=recipe,
            application_id=run.application_id,
            block_id=run.block_id,
            block_name=run.block_name,
            trigger=Trigger(run.trigger),
            actor_id=run.actor_id,
            configuration_id=run.configuration_id,
            schedule_id=run.schedule_id,
            scheduled_for=run.scheduled_for,
            attempt=run.attempt + 1,
            retry_of=run.id,
            not_before=not_before,
            api_key_id=run.api_key_id,
        )

    def fired(self, schedule_id: uuid.UUID, scheduled_for: datetime) -> NewRun:
        """This run as the run of a schedule's fire at `scheduled_for`."""
        return replace(self, schedule_id=schedule_id, scheduled_for=scheduled_for)

    def row(self, now: datetime | None = None) -> dict[str, Any]:
        """The column values of the queued run, a new id included."""
        recipe = self.recipe
        row: dict[str, Any] = {
            "id": uuid.uuid4(),
            "application_id": self.application_id,
            "block_id": self.block_id,
            "block_name": self.block_name,
            "configuration_id": self.configuration_id,
            "trigger": self.trigger.value,
            "actor_id": self.actor_id,
            "status": RunStatus.QUEUED.value,
            "schedule_id": self.schedule_id,
            "scheduled_for": self.scheduled_for,
            "attempt": self.attempt,
            "created_at": now or utc_now(),
            "file_name": recipe.file_name,
            "file_settings": recipe.file_settings,
            "mapping": recipe.mapping,
            "source": recipe.source,
        }
        if self.retry_of is not None:
            # Only a retry names these: a burst of fires inserted in one executemany carries
            # no all-NULL columns (measured: 1,000 fires took 0.27 s with them, 0.05 s without).
            row |= {"retry_of": self.retry_of, "not_before": self.not_before}
        if self.api_key_id is not None:
            row["api_key_id"] = self.api_key_id
        return row


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and when a run that failed for a transient reason is tried again."""

    retries: int = 2
    backoff_seconds: float = 30.0

    def delay(self, attempt: int) -> timedelta | None:
        """The wait before attempt `attempt + 1`, or None when no retry is left.

        Exponential: backoff, 2 × backoff, 4 × backoff…
        """
        if attempt > self.retries:
            return None
        return timedelta(seconds=self.backoff_seconds * 2 ** (attempt - 1))


@dataclass(slots=True)
class Outcome:
    """How a run ended. `transient` failures may be retried by the policy."""

    status: RunStatus
    summary: ImportSummary | None = None
    rejected: list[RejectedRow] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    transient: bool = False


# ---------------------------------------------------------------- claiming


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(ImportRun.not_before.is_(None), ImportRun.not_before <= now)


def _configuration_idle() -> ColumnElement[bool]:
    """No other run of the same configuration is running (never two at once)."""
    other = aliased(ImportRun)
    return ~exists().where(
        other.configuration_id == ImportRun.configuration_id,
        other.status == RunStatus.RUNNING.value,
    )


def claim(
    session: Session,
    run_id: uuid.UUID,
    configuration_id: uuid.UUID | None,
    worker: str,
    now: datetime,
    *,
    wait: bool = True,
) -> bool:
    """Move a due queued run to running for `worker`, in the caller's transaction.

    Returns False when the run is not queued, not due, cancelled, or its configuration already
    has a running run. With `wait=False` a concurrent claim of the same configuration makes it
    return False at once instead of waiting for that claim's transaction.
    """
    if configuration_id is not None and not _lock_configuration(
        session, configuration_id, wait=wait
    ):
        return False
    moved = session.execute(
        update(ImportRun)
        .where(
            ImportRun.id == run_id,
            ImportRun.status == RunStatus.QUEUED.value,
            ImportRun.cancel_requested.is_(False),
            _due(now),
            _configuration_idle(),
        )
        .values(status=RunStatus.RUNNING.value, worker=worker, started_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(moved) == 1


def _lock_configuration(session: Session, configuration_id: uuid.UUID, *, wait: bool) -> bool:
    """PostgreSQL: claims of one configuration's runs take turns, so two claimers cannot each
    see "nothing running" and both start a run. Held until the claim's transaction ends.
    SQLite needs nothing: its write transactions never overlap."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = int.from_bytes(configuration_id.bytes[:4], "big", signed=True)
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), _lock_args(key))
        return True
    taken = session.scalar(text("SELECT pg_try_advisory_xact_lock(:ns, :key)"), _lock_args(key))
    return bool(taken)


def _lock_args(key: int) -> dict[str, int]:
    return {"ns": CONFIGURATION_LOCK, "key": key}


def candidates(session: Session, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """The oldest due queued runs (id, configuration id), locked for this transaction.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent claimers each get other rows instead of
    queueing behind one another. One query on the indexed status column.
    """
    query = (
        select(ImportRun.id, ImportRun.configuration_id)
        .where(
            ImportRun.status == RunStatus.QUEUED.value,
            ImportRun.cancel_requested.is_(False),
            _due(now),
        )
        .order_by(ImportRun.created_at)
        .limit(CANDIDATES)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [(row[0], row[1]) for row in session.execute(query)]


# ---------------------------------------------------------------- while running


def renew(session: Session, run_id: uuid.UUID, worker: str, now: datetime, rows_done: int) -> bool:
    """Renew the heartbeat (and live progress) if `worker` still owns the running run.

    Returns False when it does not: the run was failed by the sweeper or finished elsewhere.
    """
    renewed = session.execute(
        update(ImportRun)
        .where(*_owned(run_id, worker))
        .values(heartbeat_at=now, rows_done=rows_done)
        .execution_options(synchronize_session=False)
    )
    return rowcount(renewed) == 1


def cancel_requested(session: Session, run_id: uuid.UUID) -> bool:
    return bool(session.scalar(select(ImportRun.cancel_requested).where(ImportRun.id == run_id)))


def _owned(run_id: uuid.UUID, worker: str | None) -> list[ColumnElement[bool]]:
    owned = [ImportRun.id == run_id, ImportRun.status == RunStatus.RUNNING.value]
    if worker is not None:
        owned.append(ImportRun.worker == worker)
    return owned


# ---------------------------------------------------------------- finishing


def finish(
    session: Session,
    run_id: uuid.UUID,
    worker: str | None,
    outcome: Outcome,
    now: datetime,
    policy: RetryPolicy,
    *,
    from_status: RunStatus = RunStatus.RUNNING,
    extra: ColumnElement[bool] | None = None,
) -> bool:
    """Finish the run in the caller's transaction if it is still in `from_status` (and, when
    running, owned by `worker`); record the outcome on its configuration; queue a retry.

    Returns False, having written nothing, when the condition no longer holds. A completed
    outcome also requires that no cancel was requested, so an acknowledged cancel always
    leaves the block unchanged.
    """
    where = (
        _owned(run_id, worker)
        if from_status is RunStatus.RUNNING
        else [ImportRun.id == run_id, ImportRun.status == from_status.value]
    )
    if outcome.status is RunStatus.COMPLETED:
        where.append(ImportRun.cancel_requested.is_(False))
    if extra is not None:
        where.append(extra)
    finished = session.execute(
        update(ImportRun)
        .where(*where)
        .values(status=outcome.status.value, finished_at=now, **_finished_values(outcome))
        .execution_options(synchronize_session=False)
    )
    if rowcount(finished) != 1:
        return False
    _insert_rejects(session, run_id, outcome.rejected)
    run = session.get(ImportRun, run_id, populate_existing=True)
    assert run is not None
    _record_on_configuration(session, run, outcome.status, now)
    if outcome.status is RunStatus.FAILED and outcome.transient:
        queue_retry(session, run, now, policy)
    return True


def _finished_values(outcome: Outcome) -> dict[str, Any]:
    summary = outcome.summary
    values: dict[str, Any] = {"errors": json.dumps([e.__dict__ for e in outcome.errors])}
    if summary is not None:
        summary.errors = outcome.errors
        values["summary"] = json.dumps(summary.to_json())
        for name in ("rows_read", "inserted", "updated", "deleted", "skipped"):
            values[name] = getattr(summary, name)
        values["rows_done"] = summary.rows_read
    return values


def _insert_rejects(session: Session, run_id: uuid.UUID, rejected: list[RejectedRow]) -> None:
    for start in range(0, len(rejected), REJECT_BATCH):
        session.execute(
            insert(ImportRunReject),
            [
                {
                    "run_id": run_id,
                    "position": start + i,
                    "line": r.line,
                    "reason": r.reason,
                    "column_name": r.column[:500],
                    "value": r.value,
                    "description": r.description,
                    "row_text": r.row_text,
                }
                for i, r in enumerate(rejected[start : start + REJECT_BATCH])
            ],
        )


def _record_on_configuration(
    session: Session, run: ImportRun, status: RunStatus, now: datetime
) -> None:
    """The configuration's latest outcome: the "Failed" flag shows from a failure until a later
    run completes; a cancelled run changes nothing. The failure streak that alerts fold
    (consecutive failures, since when) is the alert policy's, kept by services/alerting.py."""
    if run.configuration_id is None or status is RunStatus.CANCELLED:
        return
    session.execute(
        update(ImportConfiguration)
        .where(ImportConfiguration.id == run.configuration_id)
        .values(last_run_status=status.value)
        .execution_options(synchronize_session=False)
    )


def queue_retry(
    session: Session, run: ImportRun, now: datetime, policy: RetryPolicy
) -> ImportRun | None:
    """A new run trying `run` again after the policy's backoff, or None when none is left."""
    delay = policy.delay(run.attempt)
    if delay is None:
        return None
    retry = ImportRun(**NewRun.retry(run, not_before=now + delay).row(now))
    session.add(retry)
    session.flush()
    return retry


# ---------------------------------------------------------------- what the sweeper looks at


def stale_running(session: Session, cutoff: datetime) -> list[ImportRun]:
    """Running runs whose heartbeat stopped before `cutoff` (or never started)."""
    return list(
        session.scalars(
            select(ImportRun).where(ImportRun.status == RunStatus.RUNNING.value, _stale(cutoff))
        )
    )


def _stale(cutoff: datetime) -> ColumnElement[bool]:
    return or_(
        ImportRun.heartbeat_at < cutoff,
        and_(ImportRun.heartbeat_at.is_(None), ImportRun.started_at < cutoff),
        and_(ImportRun.heartbeat_at.is_(None), ImportRun.started_at.is_(None)),
    )


def stale_condition(cutoff: datetime) -> ColumnElement[bool]:
    """The staleness test again inside the failing UPDATE: a heartbeat renewed since the
    sweeper looked wins, and the run is left alone."""
    return _stale(cutoff)


def unclaimed(session: Session, cutoff: datetime, now: datetime) -> list[uuid.UUID]:
    """Due queued runs waiting since before `cutoff` (since creation or their last re-send)."""
    waiting = func.coalesce(ImportRun.not_before, ImportRun.created_at)
    return list(
        session.scalars(
            select(ImportRun.id).where(
                ImportRun.status == RunStatus.QUEUED.value,
                ImportRun.cancel_requested.is_(False),
                _due(now),
                waiting < literal(cutoff, UTCDateTime()),
            )
        )
    )


def mark_resent(session: Session, run_id: uuid.UUID, cutoff: datetime, now: datetime) -> bool:
    """Record that the run's message is sent again now (`not_before` = now: due as before, and
    the next re-send waits a full threshold). False when another sweeper did it first or the
    run was claimed meanwhile."""
    waiting = func.coalesce(ImportRun.not_before, ImportRun.created_at)
    moved = session.execute(
        update(ImportRun)
        .where(
            ImportRun.id == run_id,
            ImportRun.status == RunStatus.QUEUED.value,
            waiting < literal(cutoff, UTCDateTime()),
        )
        .values(not_before=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(moved) == 1
