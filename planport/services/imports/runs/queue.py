"""Import runs: queue, claim, execute, cancel, run again, and read them back.

A run is a row first. Every trigger (the wizard, "Start an import right now", a schedule, the
command line, run again) inserts an `import_run` row `queued` with everything an executor on
any machine needs: the source (a connectors spec), file settings, mapping and the actor whose
rights it uses. An executor claims it (`queued → running`, conditional), executes it with a
heartbeat, and finishes it with a write conditional on still owning it. See `_run_rows` for
the transitions and `_run_execution` for one execution.

Transactions are short: queueing, claiming, renewing and finishing each take their own,
except the block write, which is one transaction that also finishes the run.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from planport.connectors import (
    GivenFile,
    SourceSpec,
    parse_source,
)
from planport.domain.blocks import BlockDef
from planport.domain.clock import Clock, utc_now
from planport.domain.enums import Permission
from planport.domain.errors import Conflict, Invalid, NotFound
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunErrorName, RunStatus, Trigger
from planport.domain.mapping import Mapping
from planport.domain.members import Actor
from planport.domain.runnable import Blocker, why_not_runnable
from planport.domain.summary import ImportSummary, RunError
from planport.logs import get_logger
from planport.services.blocks.csv_files import spreadsheet_safe, stream_csv
from planport.services.blocks.definitions import load_block
from planport.services.imports.block_import import prepare
from planport.services.imports.runs import hooks, run_rows
from planport.services.imports.runs.execute import Progress, cancel_locally, execute, local_progress
from planport.services.imports.runs.new_run import NewRun, RunRecipe
from planport.services.imports.runs.run_rows import Outcome, RetryPolicy
from planport.services.workspace import access
from planport.settings import Settings, get_settings
from planport.store.db import Database
from planport.store.models import (
    ImportConfiguration,
    ImportRun,
    ImportRunReject,
    Member,
)

log = get_logger("planport.runs")

__all__ = [
    "Progress",
    "Retry",
    "RunView",
    "cancel_run",
    "claim_next",
    "claim_run",
    "execute_run",
    "fail_lost_runs",
    "follow_ups",
    "get_run",
    "list_runs",
    "queue_run",
    "rejects_csv",
    "resend_unclaimed",
    "run_again",
    "run_import",
    "start_configuration_run",
    "start_import",
    "worker_id",
]


@dataclass(frozen=True, slots=True)
class RunView:
    id: uuid.UUID
    application_id: uuid.UUID
    block_id: uuid.UUID | None
    block_name: str
    configuration_id: uuid.UUID | None
    trigger: Trigger
    actor_email: str | None
    status: RunStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    file_name: str | None
    file_size: int | None
    file_sha256: str | None
    rows_read: int
    inserted: int
    updated: int
    deleted: int
    skipped: int
    summary: ImportSummary | None
    errors: list[RunError] = field(default_factory=list)
    # What the run used, so a run from the history can be saved as a configuration.
    file_settings: FileSettings | None = None
    mapping: Mapping | None = None
    # The queue's side: progress while running, retries, cancellation.
    rows_done: int = 0
    attempt: int = 1
    retry_of: uuid.UUID | None = None
    not_before: datetime | None = None
    cancel_requested: bool = False
    worker: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def finished(self) -> bool:
        return self.status.finished


# ---------------------------------------------------------------- queueing

# Where a member starts a run by hand, the fix for a configuration fed by uploads.
UPLOAD_FIX = "Use “Run with a new file” and upload one."


def queue_run(
    session: Session, new: NewRun, *, now: datetime | None = None, flush: bool = True
) -> ImportRun:
    """Insert the queued run `new` in the caller's transaction (its id is set at once; with
    `flush` False the INSERT waits for the caller's next flush).

    No access check here: callers check the actor's rights (the scheduler relies on the
    owner's rights being checked again at execution time). Submit the id to an executor only
    after the transaction committed.
    """
    run = ImportRun(**new.row(now))
    session.add(run)
    if flush:
        session.flush()
    return run


def start_import(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    path: Path,
    settings: FileSettings,
    mapping: Mapping,
    *,
    file_name: str | None = None,
    trigger: Trigger = Trigger.MANUAL,
    configuration_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Queue a run of a given file (wizard, command line, a configuration's new file).

    Returns the run's id; submit it to an executor. Raises before anything is queued when the
    actor lacks Import Data or Write (or Delete Item for a clearing import) or the mapping
    does not fit the block.
    """
    block = prepare(db, actor, block_id, mapping).block
    source = GivenFile(path=str(path.resolve()), name=file_name or path.name)
    return _queue_committed(db, configuration_id, block, source, trigger, actor, settings, mapping)


def start_configuration_run(
    db: Database, actor: Actor, configuration_id: uuid.UUID, *, trigger: Trigger = Trigger.MANUAL
) -> uuid.UUID:
    """Queue a run of a configuration whose source needs no file ("Start an import right now").

    Returns the run's id; submit it to an executor. Raises Conflict for a configuration in
    error or one fed by uploads (it has no file to run on), and what `start_import` raises.
    """
    with db.read() as session:
        configuration = _configuration_row(session, configuration_id)
        assert configuration is not None
        access.require(session, actor, Permission.IMPORT_DATA, configuration.application_id)
        not_runnable = why_not_runnable(
            block_name=configuration.block_name,
            has_block=configuration.block_id is not None,
            error=configuration.error,
            source=configuration.source,
        )
        if not_runnable is not None:
            fix = UPLOAD_FIX if not_runnable.blocker is Blocker.UPLOAD else None
            raise Conflict(not_runnable.message(configuration.name, fix))
        assert configuration.block_id is not None
        source = parse_source(configuration.source)
        file_settings = FileSettings.model_validate_json(configuration.file_settings)
        mapping = Mapping.model_validate_json(configuration.mapping)
    block = prepare(db, actor, configuration.block_id, mapping).block
    return _queue_committed(
        db, configuration_id, block, source, trigger, actor, file_settings, mapping
    )


def _queue_committed(
    db: Database,
    configuration_id: uuid.UUID | None,
    block: BlockDef,
    source: SourceSpec,
    trigger: Trigger,
    actor: Actor,
    file_settings: FileSettings,
    mapping: Mapping,
) -> uuid.UUID:
    """Queue a run as `actor` in a transaction of its own; returns its id (to submit)."""
    recipe = RunRecipe.of(source, file_settings, mapping)
    with db.write() as session:
        configuration = _configuration_row(session, configuration_id)
        new = NewRun.into(
            block,
            recipe,
            trigger,
            actor.id,
            configuration_id=configuration.id if configuration is not None else None,
        )
        return queue_run(session, new).id


def _configuration_row(
    session: Session, configuration_id: uuid.UUID | None
) -> ImportConfiguration | None:
    if configuration_id is None:
        return None
    configuration = session.get(ImportConfiguration, configuration_id)
    if configuration is None:
        raise NotFound("This import configuration does not exist.")
    return configuration


def run_again(db: Database, actor: Actor, run_id: uuid.UUID) -> uuid.UUID:
    """Queue a new run with the same configuration, source, file settings and mapping as run
    `run_id`, acting as `actor`. Returns the new run's id; submit it to an executor.

    Raises Invalid when the run's given file is gone (an upload swept after its retention),
    and what `start_import` raises.
    """
    with db.read() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            raise NotFound("This import run does not exist.")
        access.require(session, actor, Permission.IMPORT_DATA, run.application_id)
        if run.block_id is None:
            raise Conflict(f"The block {run.block_name!r} of this run was deleted.")
        if run.source is None:
            raise Invalid("This run does not record what it imported; it cannot run again.")
        source = parse_source(run.source)
        configuration = (
            session.get(ImportConfiguration, run.configuration_id) if run.configuration_id else None
        )
        settings = FileSettings.model_validate_json(run.file_settings)
        mapping = Mapping.model_validate_json(run.mapping)
    if isinstance(source, GivenFile) and not Path(source.path).is_file():
        raise Invalid(
            f"The file {source.name} of this run is no longer available (uploads are kept for "
            "a limited time); import it again with a new upload."
        )
    block = prepare(db, actor, run.block_id, mapping).block
    with db.write() as session:
        new = NewRun.into(
            block,
            RunRecipe.of(source, settings, mapping),
            Trigger.RUN_AGAIN,
            actor.id,
            configuration_id=configuration.id if configuration is not None else None,
        )
        return queue_run(session, new).id


# ---------------------------------------------------------------- claiming and executing


def worker_id() -> str:
    """This thread's identity as a worker: `hostname:pid:thread name`. Unique among live
    workers, and says where to look when a run was lost."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def claim_run(db: Database, run_id: uuid.UUID, worker: str, *, now: datetime | None = None) -> bool:
    """Claim run `run_id` for `worker` (`queued → running`). Returns whether this call won:
    False when another worker has it, it is finished or cancelled, not yet due, or its
    configuration has a run running (it will be offered again when that one finishes)."""
    with db.write() as session:
        configuration_id = session.scalar(
            select(ImportRun.configuration_id).where(ImportRun.id == run_id)
        )
        return run_rows.claim(session, run_id, configuration_id, worker, now or utc_now())


def claim_next(db: Database, worker: str, *, now: datetime | None = None) -> uuid.UUID | None:
    """Claim the oldest due queued run anyone may take, for `worker`; None when there is none.

    Safe from any number of processes at once: candidates are picked with SKIP LOCKED on
    PostgreSQL and each claim is conditional.
    """
    moment = now or utc_now()
    with db.write() as session:
        for run_id, configuration_id in run_rows.candidates(session, moment):
            if run_rows.claim(session, run_id, configuration_id, worker, moment, wait=False):
                return run_id
    return None


def execute_run(
    db: Database,
    run_id: uuid.UUID,
    worker_id: str,
    on_progress: Progress | None = None,
    *,
    settings: Settings | None = None,
    clock: Clock = utc_now,
) -> RunView:
    """Execute run `run_id`, claimed by `worker_id`, and return it as it ended.

    A run lost meanwhile (failed by the sweeper, taken over) is returned as the row says, and
    this worker wrote nothing to it. After a finish, `hooks.after_finish` is called
    outside the finishing transaction; its errors are logged, never the run's.
    """
    settings = settings or get_settings()
    status = execute(db, run_id, worker_id, settings, on_progress, clock=clock)
    if status is not None:
        after_finish(db, run_id, settings)
    return _view_of(db, run_id)


def after_finish(db: Database, run_id: uuid.UUID, settings: Settings | None = None) -> None:
    """Call the finish hook; an error in it is logged and never fails the run."""
    try:
        hooks.after_finish(db, run_id, settings or get_settings())
    except Exception:
        log.exception("the after-finish hook failed", run_id=str(run_id))


def run_import(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    path: Path,
    settings: FileSettings,
    mapping: Mapping,
    *,
    file_name: str | None = None,
    trigger: Trigger = Trigger.MANUAL,
    configuration_id: uuid.UUID | None = None,
    on_progress: Progress | None = None,
    app_settings: Settings | None = None,
    worker: str | None = None,
) -> RunView:
    """Queue a run of `path` and execute it in the calling thread (the caller is its own
    executor, as the command line is); return it finished.

    When the run cannot be claimed at once (another run of its configuration is running) it
    stays queued and this call waits until it finished, claiming it as soon as it may.
    Raises what `start_import` raises.
    """
    me = worker or worker_id()
    run_id = start_import(
        db,
        actor,
        block_id,
        path,
        settings,
        mapping,
        file_name=file_name,
        trigger=trigger,
        configuration_id=configuration_id,
    )
    return _execute_here(db, run_id, me, on_progress, app_settings)


def _execute_here(
    db: Database,
    run_id: uuid.UUID,
    worker: str,
    on_progress: Progress | None,
    app_settings: Settings | None,
    *,
    poll_seconds: float = 0.5,
) -> RunView:
    while True:
        if claim_run(db, run_id, worker):
            return execute_run(db, run_id, worker, on_progress, settings=app_settings)
        view = _view_of(db, run_id)
        if view.finished:
            return view  # another executor (or a cancel) got there first
        time.sleep(poll_seconds)  # why: waiting for the configuration's running run to end


# ---------------------------------------------------------------- cancelling


def cancel_run(db: Database, actor: Actor, run_id: uuid.UUID) -> RunView:
    """Cancel a queued run at once, or ask a running one to stop (cooperatively: it stops at
    its next progress report and leaves its block unchanged). Returns the run.

    Raises NotFound, PermissionDenied without Import Data, Conflict when already finished.
    """
    with db.read() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            raise NotFound("This import run does not exist.")
        access.require(session, actor, Permission.IMPORT_DATA, run.application_id)
        if RunStatus(run.status).finished:
            raise Conflict(f"This run has already {RunStatus(run.status).value}.")
    # In this process first: on SQLite the run's block write holds the only write lock, and
    # stopping it is what lets the request's own write through.
    cancel_locally(run_id)
    outcome = Outcome(
        RunStatus.CANCELLED,
        errors=[RunError(RunErrorName.CANCELLED, f"Cancelled by {actor.email} before it started.")],
    )
    with db.write() as session:
        policy = RetryPolicy(0)
        finished_now = run_rows.finish(
            session, run_id, None, outcome, utc_now(), policy, from_status=RunStatus.QUEUED
        )
        if not finished_now:
            # Running (or claimed meanwhile): its heartbeat reads the flag within seconds.
            session.execute(
                update(ImportRun)
                .where(ImportRun.id == run_id, ImportRun.status == RunStatus.RUNNING.value)
                .values(cancel_requested=True)
            )
    if finished_now:
        after_finish(db, run_id)
    return _view_of(db, run_id)


# ---------------------------------------------------------------- for executors and the sweeper


def follow_ups(db: Database, run_id: uuid.UUID) -> list[tuple[uuid.UUID, datetime | None]]:
    """Queued runs that finishing `run_id` may have unblocked: its retry, and the runs of its
    configuration waiting behind it. (id, not_before) each, for executors fed by messages."""
    with db.read() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            return []
        behind = ImportRun.configuration_id == run.configuration_id
        if run.configuration_id is None:
            behind = ImportRun.retry_of == run_id
        rows = session.execute(
            select(ImportRun.id, ImportRun.not_before)
            .where(
                ImportRun.status == RunStatus.QUEUED.value, behind | (ImportRun.retry_of == run_id)
            )
            .order_by(ImportRun.created_at)
        )
        return [(row[0], row[1]) for row in rows]


def fail_lost_runs(
    db: Database, *, now: datetime, settings: Settings
) -> list[tuple[uuid.UUID, Retry | None]]:
    """Fail running runs whose heartbeat stopped (WorkerLost) and queue their retries.

    Returns (failed run, its retry or None) for each run this call failed; runs another
    sweeper failed first, or whose heartbeat came back, are left alone (conditional updates).
    The finish hook is called for each.
    """
    cutoff = now - timedelta(seconds=settings.worker_lost_after_seconds)
    policy = RetryPolicy(settings.run_retries, settings.retry_backoff_seconds)
    with db.read() as session:
        stale = run_rows.stale_running(session, cutoff)
    failed = []
    for run in stale:
        if _fail_lost(db, run, cutoff, now, policy):
            failed.append((run.id, _retry_of(db, run.id)))
            after_finish(db, run.id, settings)
    return failed


def _fail_lost(
    db: Database, run: ImportRun, cutoff: datetime, now: datetime, policy: RetryPolicy
) -> bool:
    since = run.heartbeat_at or run.started_at
    when = f"since {since:%Y-%m-%d %H:%M:%S} UTC" if since else "ever"
    if run.cancel_requested:
        # Asked to stop, and stopped: a cancel, not a loss to retry.
        outcome = Outcome(
            RunStatus.CANCELLED, errors=[RunError(RunErrorName.CANCELLED, "Cancelled.")]
        )
    else:
        message = (
            f"The worker running this import stopped (no heartbeat from {run.worker or '?'} "
            f"{when}). Nothing was written to {run.block_name}."
        )
        outcome = Outcome(
            RunStatus.FAILED, errors=[RunError(RunErrorName.WORKER_LOST, message)], transient=True
        )
    with db.write() as session:
        return run_rows.finish(
            session,
            run.id,
            run.worker,
            outcome,
            now,
            policy,
            extra=run_rows.stale_condition(cutoff),
        )


@dataclass(frozen=True, slots=True)
class Retry:
    """A retry queued for a failed run: its id and when it is due."""

    id: uuid.UUID
    not_before: datetime | None


def _retry_of(db: Database, run_id: uuid.UUID) -> Retry | None:
    with db.read() as session:
        row = session.execute(
            select(ImportRun.id, ImportRun.not_before).where(ImportRun.retry_of == run_id)
        ).first()
    return Retry(row[0], row[1]) if row else None


def resend_unclaimed(db: Database, *, now: datetime, after_seconds: float) -> list[uuid.UUID]:
    """Due queued runs nobody claimed for `after_seconds`: marked re-sent now, for a
    message-fed executor to send again. Each run is returned by one sweeper only."""
    cutoff = now - timedelta(seconds=after_seconds)
    with db.read() as session:
        waiting = run_rows.unclaimed(session, cutoff, now)
    resent = []
    for run_id in waiting:
        with db.write() as session:
            if run_rows.mark_resent(session, run_id, cutoff, now):
                resent.append(run_id)
    return resent


# ---------------------------------------------------------------- reading runs


def get_run(db: Database, actor: Actor, run_id: uuid.UUID) -> RunView:
    """Raises NotFound, or PermissionDenied without Read in the run's application."""
    with db.read() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            raise NotFound("This import run does not exist.")
        access.require(session, actor, Permission.READ, run.application_id)
        return _run_view(session, run)


def list_runs(db: Database, actor: Actor, block_id: uuid.UUID, *, limit: int = 20) -> list[RunView]:
    """The block's latest runs, newest first."""
    with db.read() as session:
        load_block(session, actor, block_id, Permission.READ)
        runs = session.scalars(
            select(ImportRun)
            .where(ImportRun.block_id == block_id)
            .order_by(ImportRun.created_at.desc())
            .limit(limit)
        )
        return [_run_view(session, r) for r in runs]


def rejects_csv(db: Database, actor: Actor, run_id: uuid.UUID) -> Iterator[str]:
    """The run's rejected rows as CSV (line, reason, column, value, description)."""
    get_run(db, actor, run_id)  # access check now, not when iteration starts
    return _stream_rejects(db, run_id)


def _stream_rejects(db: Database, run_id: uuid.UUID) -> Iterator[str]:
    header = ["Line", "Reason", "Column", "Value", "Description", "Row"]
    statement = (
        select(
            ImportRunReject.line,
            ImportRunReject.reason,
            ImportRunReject.column_name,
            ImportRunReject.value,
            ImportRunReject.description,
            ImportRunReject.row_text,
        )
        .where(ImportRunReject.run_id == run_id)
        .order_by(ImportRunReject.position)
    )
    return stream_csv(db, header, statement, lambda row: [spreadsheet_safe(str(c)) for c in row])


def _view_of(db: Database, run_id: uuid.UUID) -> RunView:
    with db.read() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            raise NotFound("This import run does not exist.")
        return _run_view(session, run)


def _run_view(session: Session, run: ImportRun) -> RunView:
    actor = session.get(Member, run.actor_id) if run.actor_id else None
    summary = ImportSummary.from_json(json.loads(run.summary)) if run.summary else None
    errors = [RunError(**e) for e in json.loads(run.errors)] if run.errors else []
    rows_done = run.rows_done
    if run.status == RunStatus.RUNNING.value:
        # SQLite cannot take progress writes during the block write; this process knows.
        rows_done = max(rows_done, local_progress(run.id) or 0)
    return RunView(
        id=run.id,
        application_id=run.application_id,
        block_id=run.block_id,
        block_name=run.block_name,
        configuration_id=run.configuration_id,
        trigger=Trigger(run.trigger),
        actor_email=actor.email if actor else None,
        status=RunStatus(run.status),
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        file_name=run.file_name,
        file_size=run.file_size,
        file_sha256=run.file_sha256,
        rows_read=run.rows_read,
        inserted=run.inserted,
        updated=run.updated,
        deleted=run.deleted,
        skipped=run.skipped,
        summary=summary,
        errors=errors,
        file_settings=FileSettings.model_validate_json(run.file_settings),
        mapping=Mapping.model_validate_json(run.mapping),
        rows_done=rows_done,
        attempt=run.attempt,
        retry_of=run.retry_of,
        not_before=run.not_before,
        cancel_requested=run.cancel_requested,
        worker=run.worker,
    )
