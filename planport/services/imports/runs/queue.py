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

import os
import socket
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from planport.connectors import (
    GivenFile,
    parse_source,
)
from planport.domain.clock import Clock, utc_now
from planport.domain.enums import Permission
from planport.domain.errors import Conflict, Invalid, NotFound
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunErrorName, RunStatus, Trigger
from planport.domain.mapping import Mapping
from planport.domain.members import Actor
from planport.domain.runnable import Blocker, why_not_runnable
from planport.domain.summary import RunError
from planport.logs import get_logger
from planport.services.imports.block_import import prepare
from planport.services.imports.runs import hooks, run_rows, views
from planport.services.imports.runs.execute import Progress, execute
from planport.services.imports.runs.progress import cancel_locally
from planport.services.imports.runs.run_rows import NewRun, Outcome, RetryPolicy, RunRecipe
from planport.services.imports.runs.views import RunView
from planport.services.workspace import access
from planport.settings import Settings, get_settings
from planport.store.db import Database
from planport.store.files import FileStore
from planport.store.models import (
    ImportConfiguration,
    ImportRun,
)

log = get_logger("planport.runs")


# ---------------------------------------------------------------- queueing

# Where a member starts a run by hand, the fix for a configuration fed by uploads.
UPLOAD_FIX = "Use “Run with a new file” and upload one."
# The same, for a source system calling the Import API's trigger.
API_UPLOAD_FIX = "Push its file to /api/v1/import/push/csv instead."


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
    key: str | None = None,
) -> uuid.UUID:
    """Queue a run of a given file (wizard, command line, a configuration's new file); `key`
    names it in the file store (an upload), so an executor on any machine reads it.

    Returns the run's id; submit it to an executor. Raises before anything is queued when the
    actor lacks Import Data or Write (or Delete Item for a clearing import) or the mapping
    does not fit the block.
    """
    block = prepare(db, actor, block_id, mapping).block
    source = GivenFile(path=str(path.resolve()), name=file_name or path.name, key=key)
    recipe = RunRecipe.of(source, settings, mapping)
    return _queue_committed(db, NewRun.into(block, recipe, trigger, actor.id), configuration_id)


def start_configuration_run(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    *,
    trigger: Trigger = Trigger.MANUAL,
    api_key_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Queue a run of a configuration whose source needs no file ("Start an import right now",
    the Import API's trigger with the key `api_key_id`).

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
            fix = None
            if not_runnable.blocker is Blocker.UPLOAD:
                fix = API_UPLOAD_FIX if trigger is Trigger.API else UPLOAD_FIX
            raise Conflict(not_runnable.message(configuration.name, fix))
        assert configuration.block_id is not None
        source = parse_source(configuration.source)
        file_settings = FileSettings.model_validate_json(configuration.file_settings)
        mapping = Mapping.model_validate_json(configuration.mapping)
    block = prepare(db, actor, configuration.block_id, mapping).block
    recipe = RunRecipe.of(source, file_settings, mapping)
    new = replace(NewRun.into(block, recipe, trigger, actor.id), api_key_id=api_key_id)
    return _queue_committed(db, new, configuration_id)


def _queue_committed(db: Database, new: NewRun, configuration_id: uuid.UUID | None) -> uuid.UUID:
    """Queue `new` (of configuration `configuration_id`, checked to exist) in a transaction of
    its own; returns its id (to submit)."""
    with db.write() as session:
        configuration = _configuration_row(session, configuration_id)
        if configuration is not None:
            new = replace(new, configuration_id=configuration.id)
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


def run_again(
    db: Database, actor: Actor, run_id: uuid.UUID, *, app_settings: Settings | None = None
) -> uuid.UUID:
    """Queue a new run with the same configuration, source, file settings and mapping as run
    `run_id`, acting as `actor`. Returns the new run's id; submit it to an executor. With
    `app_settings`, a given file kept in the file store's bucket counts as available even when
    this machine does not hold it.

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
    if isinstance(source, GivenFile) and not given_file_kept(source, app_settings):
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
    return views.view_of(db, run_id)


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
        view = views.view_of(db, run_id)
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
    return views.view_of(db, run_id)


# ---------------------------------------------------------------- for executors and the sweeper


# ---------------------------------------------------------------- reading runs


def given_file_kept(source: GivenFile, settings: Settings | None) -> bool:
    """Whether a run's given file can still be read: on this machine, or (with `settings`
    naming a bucket) in the file store."""
    if Path(source.path).is_file():
        return True
    if source.key is None or settings is None:
        return False
    return FileStore.of(settings).exists(source.key)
