"""Executing one claimed run: owner's rights, source, the block write, the finish.

The executor that claimed the run calls `execute` on a thread of its own. While it runs, a
heartbeat thread renews the row every few seconds (and writes live progress); a renewal that
finds the row no longer ours (the sweeper failed it as lost) makes the import stop at its next
progress callback, and the finishing write, conditional on still owning the run, refuses anyway.

The block write and the finish are one transaction: the import runs inside a savepoint, the
run row is finished inside it when the import succeeded (so "block changed" and "run completed"
commit together or not at all), and after a failure the savepoint is rolled back and the
failure recorded in the same outer transaction.

On SQLite the import is prepared in a scratch file instead, and only its last short
transaction (the block's new content and the run's finish, together) writes Planport's
database (`_sqlite_lane`): the database's one write lock is never held for a whole import.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, update
from sqlalchemy.engine import NestedTransaction
from sqlalchemy.orm import Session

from planport import connectors
from planport.connectors import FetchContext, Fetched, GivenFile, SourceSpec, SourceUnavailable
from planport.domain.blocks import BlockDef
from planport.domain.clock import Clock
from planport.domain.clock import utc_now as _utc_now
from planport.domain.enums import AccountType, Permission
from planport.domain.errors import NotFound, PermissionDenied, PlanportError
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunErrorName, RunStatus
from planport.domain.mapping import Mapping, check_mapping
from planport.domain.members import Actor
from planport.domain.summary import RunError
from planport.engine.pipeline import ImportFailed, ImportResult
from planport.engine.reader import FileUnreadable, Source, file_digest, open_source
from planport.engine.writers import MergeRefused
from planport.logs import get_logger
from planport.services.blocks import lane as sqlite_lane
from planport.services.blocks.definitions import load_block, to_def
from planport.services.blocks.lane import ATTEMPTS, BlockChanged, Lane, LeaseLost, block_lease
from planport.services.imports.block_import import (
    FileDoesNotMatch,
    ImportStep,
    ImportTarget,
    lock_block,
    refuse_unmatched_file,
    run_permissions,
    run_step,
    target_of,
)
from planport.services.imports.runs import progress
from planport.services.imports.runs.progress import Active
from planport.services.imports.runs.run_rows import (
    Outcome,
    RetryPolicy,
    finish,
)
from planport.services.workspace import access
from planport.settings import Settings
from planport.store.db import Database, rowcount
from planport.store.models import Block, ImportRun, Member

log = get_logger("planport.runs")
Progress = Callable[[int], None]


class RunCancelled(Exception):
    """Raised inside the import when a cancel was requested: the block write rolls back."""


class RunLost(Exception):
    """Raised inside the import when this worker no longer owns the run: stop, finish nothing."""


class _Refused(Exception):
    """The run cannot start (owner's rights, block deleted, source unavailable…)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.errors[0].description if outcome.errors else "refused")
        self.outcome = outcome


def _failed(name: RunErrorName, message: str, *, transient: bool = False) -> Outcome:
    return Outcome(RunStatus.FAILED, errors=[RunError(name, message)], transient=transient)


# ---------------------------------------------------------------- runs executing here


# ---------------------------------------------------------------- the heartbeat


# ---------------------------------------------------------------- one execution


@dataclass(slots=True)
class _Job:
    """What one run needs, read from its row."""

    run_id: uuid.UUID
    actor: Actor
    target: ImportTarget
    source: SourceSpec
    file_settings: FileSettings
    mapping: Mapping


def execute(
    db: Database,
    run_id: uuid.UUID,
    worker: str,
    settings: Settings,
    on_progress: Progress | None = None,
    *,
    clock: Clock = _utc_now,
) -> RunStatus | None:
    """Execute run `run_id`, which `worker` has claimed, to its end.

    Returns the status it finished with, or None when the run was not (or no longer) this
    worker's: then nothing was written. Raises only for bugs, after failing the run.
    """
    active = progress.register(run_id)
    heartbeat = progress.Heartbeat(
        db,
        run_id,
        worker,
        active,
        every=settings.heartbeat_seconds,
        lost_after=settings.worker_lost_after_seconds,
        clock=clock,
    )
    workdir = settings.data_dir / "work" / str(run_id)
    heartbeat.start()
    try:
        return _Execution(db, run_id, worker, settings, active, on_progress, clock, workdir).run()
    finally:
        heartbeat.stop()
        progress.unregister(run_id)
        # The work folder holds fetched copies only: never kept after the run.
        shutil.rmtree(workdir, ignore_errors=True)


class _Execution:
    def __init__(
        self,
        db: Database,
        run_id: uuid.UUID,
        worker: str,
        settings: Settings,
        active: Active,
        on_progress: Progress | None,
        clock: Clock,
        workdir: Path,
    ) -> None:
        self.db, self.run_id, self.worker, self.settings = db, run_id, worker, settings
        self.active, self.on_progress, self.clock, self.workdir = (
            active,
            on_progress,
            clock,
            workdir,
        )
        self.policy = RetryPolicy(settings.run_retries, settings.retry_backoff_seconds)
        self.bug: BaseException | None = None
        self.renew_lease: Callable[[], None] | None = None

    def run(self) -> RunStatus | None:
        try:
            job = self._job()
            if job is None:
                return None
            fetched = self._fetch(job)
            self._checkpoint()
            source = self._open(job, fetched)
            self._checkpoint()
        except _Refused as refused:
            return self._finish_alone(refused.outcome)
        except RunLost:
            return None
        except Exception as error:
            self._finish_alone(_unexpected(error))
            raise
        return self._write(job, source)

    # ---- before the block write: each step refuses with an outcome

    def _job(self) -> _Job | None:
        with self.db.read() as session:
            run = session.get(ImportRun, self.run_id)
            if run is None or run.status != RunStatus.RUNNING.value or run.worker != self.worker:
                return None
            actor = _owner(session, run)
            block = _block(session, run)
            file_settings = FileSettings.model_validate_json(run.file_settings)
            mapping = Mapping.model_validate_json(run.mapping)
            _require_rights(session, run, actor, block, mapping)
            if run.source is None:
                raise _Refused(
                    _failed(RunErrorName.SOURCE_MISSING, "This run does not say what to import.")
                )
            try:
                source = connectors.parse_source(run.source)
            except PlanportError as error:
                raise _Refused(_failed(RunErrorName.SOURCE_INVALID, error.message)) from None
            target = target_of(session, block)
        return _Job(self.run_id, actor, target, source, file_settings, mapping)

    def _fetch(self, job: _Job) -> Fetched:
        """The source's file in the run's work folder. A download never holds a transaction."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        context = FetchContext(
            db=self.db,
            settings=self.settings,
            block=job.target.block,
            workdir=self.workdir,
            load_block=lambda block_id: self._readable_block(job.actor, block_id),
        )
        try:
            fetched = connectors.fetch(job.source, context)
        except SourceUnavailable as error:
            if isinstance(job.source, GivenFile):
                # The file given with the run: to its reader a file that cannot be read, as
                # before runs had sources (the Import Summary's documented reason).
                # A file store that cannot be reached now is retried like any source.
                message = f"The file {job.source.name} could not be read: {error.message}"
                outcome = _failed(RunErrorName.FILE_UNREADABLE, message, transient=error.transient)
                raise _Refused(outcome) from None
            raise _Refused(
                _failed(RunErrorName.SOURCE_UNAVAILABLE, error.message, transient=error.transient)
            ) from None
        except PermissionDenied as error:
            raise _Refused(_failed(RunErrorName.OWNER_LACKS_ACCESS, error.message)) from None
        except PlanportError as error:
            raise _Refused(_failed(RunErrorName.SOURCE_UNAVAILABLE, error.message)) from None
        if fetched.file_settings is not None:
            job.file_settings = fetched.file_settings
        if fetched.mapping is not None:
            job.mapping = fetched.mapping
        return fetched

    def _readable_block(self, actor: Actor, block_id: uuid.UUID) -> BlockDef:
        with self.db.read() as session:
            return to_def(load_block(session, actor, block_id, Permission.READ))

    def _open(self, job: _Job, fetched: Fetched) -> Source:
        # The mapping in effect (the connector's, if it gave one) must still fit the block:
        # its definition may have changed since the run was queued.
        problems = check_mapping(job.target.block, job.mapping)
        if problems:
            raise _Refused(_failed(RunErrorName.MAPPING_DOES_NOT_FIT, " ".join(problems)))
        try:
            size, digest = file_digest(fetched.path)
            self._record_file(job, fetched.name, size, digest)
            source = open_source(fetched.path, job.file_settings)
            refuse_unmatched_file(job.target.block, job.mapping, source)
        except FileUnreadable as error:
            raise _Refused(_failed(RunErrorName.FILE_UNREADABLE, error.message)) from None
        except FileDoesNotMatch as error:
            raise _Refused(_failed(RunErrorName.FILE_DOES_NOT_MATCH, error.message)) from None
        except OSError as error:
            message = f"The file could not be read: {error.strerror or error}."
            raise _Refused(_failed(RunErrorName.FILE_UNREADABLE, message)) from None
        return source

    def _record_file(self, job: _Job, name: str, size: int, digest: str) -> None:
        with self.db.write() as session:
            recorded = session.execute(
                update(ImportRun)
                .where(
                    ImportRun.id == self.run_id,
                    ImportRun.worker == self.worker,
                    ImportRun.status == RunStatus.RUNNING.value,
                )
                .values(
                    file_name=name[:500],
                    file_size=size,
                    file_sha256=digest,
                    file_settings=job.file_settings.model_dump_json(),
                    mapping=job.mapping.model_dump_json(),
                )
            )
        if rowcount(recorded) != 1:
            raise RunLost()

    def _checkpoint(self) -> None:
        if self.active.lost.is_set():
            raise RunLost()
        if self.active.cancel.is_set():
            raise _Refused(_cancelled())

    def _step(self, job: _Job, source: Source) -> ImportStep:
        """The whole file into the block, reporting progress (no row limit, no preview)."""
        return ImportStep(job.target, source, job.mapping, on_progress=self._progress)

    def _progress(self, rows: int) -> None:
        """The engine's progress callback: where a cancel or a lost run stops the import."""
        self.active.rows_done = rows
        if self.active.lost.is_set():
            raise RunLost()
        if self.active.cancel.is_set():
            raise RunCancelled()
        if self.renew_lease is not None:
            self.renew_lease()
        if self.on_progress is not None:
            self.on_progress(rows)

    # ---- the block write and the finish: one transaction

    def _write(self, job: _Job, source: Source) -> RunStatus | None:
        if sqlite_lane.applies(self.db):
            status = self._write_in_lane(job, source)
        else:
            status = self._write_together(job, source)
        if self.bug is not None:
            raise self.bug
        return status

    def _write_together(self, job: _Job, source: Source) -> RunStatus | None:
        with self.db.write_connection() as connection:
            outer = connection.begin()
            try:
                status = self._write_in(connection, job, source)
            except BaseException:
                outer.rollback()
                raise
            if status is None:
                outer.rollback()
            else:
                outer.commit()
        return status

    # ---- SQLite: prepare in a scratch file, move in, finish in one short transaction

    def _write_in_lane(self, job: _Job, source: Source) -> RunStatus | None:
        ttl = timedelta(seconds=self.settings.worker_lost_after_seconds)
        try:
            with block_lease(
                self.db, job.target.block.id, self.run_id, ttl, self.clock, self._lane_checkpoint
            ) as renew:
                self.renew_lease = renew
                return self._lane_attempts(job, source)
        except RunLost:
            return None
        except LeaseLost:
            log.warning("block lease taken over; stopping", run_id=str(self.run_id))
            return None
        except RunCancelled:
            return self._finish_alone(_cancelled())
        finally:
            self.renew_lease = None

    def _lane_attempts(self, job: _Job, source: Source) -> RunStatus | None:
        path = self.workdir / "scratch.sqlite"
        lane = Lane(self.db, job.target.block, job.target.lists, path, self._lane_checkpoint)
        for attempt in range(1, ATTEMPTS + 1):
            result = self._lane_prepare(lane, job, source)
            if isinstance(result, Outcome):
                return self._finish_alone(result)
            try:
                lane.move_in()
                status = self._lane_finish(lane, result)
            except BlockChanged as changed:
                if attempt == ATTEMPTS:
                    message = f"{changed.message} The import was not written; it can run again."
                    return self._finish_alone(
                        _failed(RunErrorName.BLOCK_CHANGED, message, transient=True)
                    )
                log.info("block changed while importing; preparing again", run_id=str(self.run_id))
                source.invalid_rows.clear()
                continue
            if status is RunStatus.COMPLETED:
                lane.after_commit()
            return status
        raise AssertionError("unreachable")

    def _lane_prepare(self, lane: Lane, job: _Job, source: Source) -> ImportResult | Outcome:
        """The import into the scratch file, or the outcome that ends the run."""
        try:
            return lane.prepare(lambda connection: run_step(connection, self._step(job, source)))
        except KeyboardInterrupt as interrupt:
            self.bug = interrupt
            return _cancelled()
        except (RunLost, RunCancelled, LeaseLost):
            raise
        except Exception as error:
            outcome = _failure(error)
            if outcome is None:
                self.bug = error
                outcome = _unexpected(error)
            return outcome

    def _lane_finish(self, lane: Lane, result: ImportResult) -> RunStatus | None:
        completed = Outcome(RunStatus.COMPLETED, result.summary, result.rejected_rows)
        self._lane_checkpoint()
        with lane.finishing() as connection:
            if self._finish_in(connection, completed) is not None:
                connection.commit()
                return RunStatus.COMPLETED
        # Not finished: a cancel arrived at the last moment, or the run is no longer ours.
        return self._finish_alone(_cancelled())

    def _lane_checkpoint(self) -> None:
        if self.active.lost.is_set():
            raise RunLost()
        if self.active.cancel.is_set():
            raise RunCancelled()
        if self.renew_lease is not None:
            self.renew_lease()

    def _write_in(self, connection: Connection, job: _Job, source: Source) -> RunStatus | None:
        lock_block(connection, job.target.block)
        savepoint = connection.begin_nested()
        try:
            result = run_step(connection, self._step(job, source))
        except RunLost:
            savepoint.rollback()
            return None
        except RunCancelled:
            savepoint.rollback()
            return self._finish_in(connection, _cancelled())
        except KeyboardInterrupt as interrupt:
            # Ctrl-C on the command line that is its own executor: a cancel, not a lost run
            # to retry elsewhere; recorded, then the interrupt goes on after the commit.
            savepoint.rollback()
            self.bug = interrupt
            return self._finish_in(connection, _cancelled())
        except Exception as error:
            savepoint.rollback()
            outcome = _failure(error)
            if outcome is None:
                # Recorded and committed first, raised after the commit (see `_write`).
                self.bug = error
                outcome = _unexpected(error)
            return self._finish_in(connection, outcome)
        return self._complete(connection, savepoint, result)

    def _complete(
        self, connection: Connection, savepoint: NestedTransaction, result: ImportResult
    ) -> RunStatus | None:
        completed = Outcome(RunStatus.COMPLETED, result.summary, result.rejected_rows)
        if self.active.lost.is_set():
            savepoint.rollback()
            return None
        if self.active.cancel.is_set():
            # A cancel asked for before the finish wins, even if the import got to its end.
            savepoint.rollback()
            return self._finish_in(connection, _cancelled())
        if self._finish_in(connection, completed) is not None:
            savepoint.commit()
            return RunStatus.COMPLETED
        # Not finished: a cancel arrived at the last moment, or the run is no longer ours.
        savepoint.rollback()
        return self._finish_in(connection, _cancelled())

    def _finish_in(self, connection: Connection, outcome: Outcome) -> RunStatus | None:
        """Finish inside the block write's transaction (its own savepoint)."""
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            done = finish(session, self.run_id, self.worker, outcome, self.clock(), self.policy)
            session.commit()
        return outcome.status if done else None

    def _finish_alone(self, outcome: Outcome) -> RunStatus | None:
        with self.db.write() as session:
            done = finish(session, self.run_id, self.worker, outcome, self.clock(), self.policy)
        return outcome.status if done else None


# ---------------------------------------------------------------- rights and outcomes


def _owner(session: Session, run: ImportRun) -> Actor:
    member = session.get(Member, run.actor_id) if run.actor_id else None
    if member is None:
        raise _Refused(
            _failed(
                RunErrorName.OWNER_LACKS_ACCESS, "The member this run acts for no longer exists."
            )
        )
    if not member.is_active:
        raise _Refused(
            _failed(
                RunErrorName.OWNER_LACKS_ACCESS,
                f"{member.email} is no longer active in this workspace.",
            )
        )
    return Actor(
        id=member.id,
        email=member.email,
        display_name=member.display_name,
        account_type=AccountType(member.account_type),
        time_zone=member.time_zone,
    )


def _block(session: Session, run: ImportRun) -> BlockDef:
    block = session.get(Block, run.block_id) if run.block_id else None
    if block is None:
        raise _Refused(
            _failed(RunErrorName.BLOCK_DELETED, f"The block {run.block_name!r} was deleted.")
        )
    return to_def(block)


def _require_rights(
    session: Session, run: ImportRun, actor: Actor, block: BlockDef, mapping: Mapping
) -> None:
    """At execution time, not only when queued: a schedule's owner may have lost access since."""
    held = access.permissions_in(session, actor, block.application_id)
    missing = [p.label for p in run_permissions(mapping) if p not in held]
    if missing:
        who = "The schedule's owner " if run.trigger == "schedule" else ""
        raise _Refused(
            _failed(
                RunErrorName.OWNER_LACKS_ACCESS,
                f"{who}{actor.email} lacks the {' and '.join(missing)} permission"
                f"{'s' if len(missing) > 1 else ''} on {block.name!r} needed to run this import.",
            )
        )


def _cancelled() -> Outcome:
    return Outcome(
        RunStatus.CANCELLED,
        errors=[RunError(RunErrorName.CANCELLED, "The import was cancelled; nothing was written.")],
    )


def _failure(error: Exception) -> Outcome | None:
    """The outcome of an error raised by the block write, or None for a bug."""
    if isinstance(error, ImportFailed):
        found = error.result
        outcome = _failed(error.name, error.message)
        if found is not None:
            outcome.summary, outcome.rejected = found.summary, found.rejected_rows
        return outcome
    if isinstance(error, MergeRefused):
        return _failed(error.name, error.message)
    if isinstance(error, FileUnreadable):
        return _failed(RunErrorName.FILE_UNREADABLE, error.message)
    if isinstance(error, OSError):
        return _failed(
            RunErrorName.FILE_UNREADABLE, f"The file could not be read: {error.strerror or error}."
        )
    if isinstance(error, NotFound):
        return _failed(RunErrorName.BLOCK_DELETED, error.message)
    return None


def _unexpected(error: BaseException) -> Outcome:
    # A bug, not the user's doing: the run is failed (never left running) and the error
    # propagates to the logs with its traceback.
    return _failed(
        RunErrorName.UNEXPECTED_ERROR, f"Planport failed unexpectedly ({type(error).__name__})."
    )
