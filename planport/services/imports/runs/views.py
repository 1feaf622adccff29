"""Reading runs back: one run as its page shows it, a block's recent runs, a run's rejects,
and what "Run again" on an Import Summary would do, for its confirmation: which file it reads
(and when that file came), and whether newer imports into the block would be overwritten.

Run again re-imports the run's own file when it was given with the run (an upload), and reads
a configuration's own source (a server folder, another block) as it is now."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planport.connectors import BlockSource, FolderSource, GivenFile, parse_source
from planport.connectors.folder import describe
from planport.domain.enums import Permission
from planport.domain.errors import Invalid, NotFound
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus, Trigger
from planport.domain.mapping import Mapping
from planport.domain.members import Actor
from planport.domain.summary import ImportSummary, RunError
from planport.services.blocks.csv_files import spreadsheet_safe, stream_csv
from planport.services.blocks.definitions import load_block
from planport.services.imports.runs.progress import local_progress
from planport.services.workspace import access
from planport.settings import Settings
from planport.store.db import Database
from planport.store.files import FileStore
from planport.store.models import (
    ApiKey,
    Block,
    ImportConfiguration,
    ImportRun,
    ImportRunReject,
    Member,
)


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
    api_key_name: str | None = None  # the key of a run the Import API started

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def finished(self) -> bool:
        return self.status.finished


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


def view_of(db: Database, run_id: uuid.UUID) -> RunView:
    with db.read() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            raise NotFound("This import run does not exist.")
        return _run_view(session, run)


def _run_view(session: Session, run: ImportRun) -> RunView:
    actor = session.get(Member, run.actor_id) if run.actor_id else None
    key = session.get(ApiKey, run.api_key_id) if run.api_key_id else None
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
        api_key_name=key.name if key else None,
    )


# ---------------------------------------------------------------- running it again


@dataclass(frozen=True, slots=True)
class AgainCheck:
    run_id: uuid.UUID
    block_id: uuid.UUID | None
    block_name: str
    configuration_id: uuid.UUID | None
    configuration_name: str | None
    # "file": the run's own (uploaded) file again; "folder" or "block": the source as it is now.
    source_kind: str
    file_name: str | None
    # When the file this run imported came: the upload's time for a given file, else the run's.
    file_at: datetime
    # What a new run would read, in words, when that is not this run's file ("folder", "block").
    reads_now: str | None
    # Completed imports into the same block after this run: running again overwrites them.
    newer_runs: int
    newest_at: datetime | None
    # Why it cannot run again (the run's file was swept, its block deleted…), or None.
    problem: str | None

    @property
    def possible(self) -> bool:
        return self.problem is None


def check_again(
    db: Database, actor: Actor, run_id: uuid.UUID, *, settings: Settings | None = None
) -> AgainCheck:
    """Raises NotFound, or PermissionDenied without Import Data in the run's application.
    With `settings`, a given file kept in the file store's bucket counts as available."""
    with db.read() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            raise NotFound("This import run does not exist.")
        access.require(session, actor, Permission.IMPORT_DATA, run.application_id)
        configuration = (
            session.get(ImportConfiguration, run.configuration_id) if run.configuration_id else None
        )
        run_at = run.started_at or run.created_at
        problem = None
        source_kind = "unknown"
        file_at = run_at
        reads_now = None
        if run.block_id is None:
            problem = f"The block {run.block_name!r} of this run was deleted."
        try:
            source = parse_source(run.source) if run.source else None
        except Invalid:
            source = None
        if source is None:
            problem = problem or "This run does not record what it imported; it cannot run again."
        elif isinstance(source, GivenFile):
            source_kind = "file"
            path = Path(source.path)
            if path.is_file():
                file_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            elif not _kept_elsewhere(source, settings):
                problem = problem or (
                    f"The file {source.name} of this run is no longer available (uploads are "
                    "kept for a limited time); import it again with a new upload."
                )
        elif isinstance(source, FolderSource):
            source_kind = "folder"
            reads_now = f"{describe(source)} in the server folder"
        elif isinstance(source, BlockSource):
            source_kind = "block"
            copied = session.get(Block, source.block_id)
            reads_now = f"the block {copied.name}" if copied else "a block that was deleted"
        newer_runs, newest_at = 0, None
        if run.block_id is not None:
            newer_runs, newest_at = session.execute(
                select(func.count(), func.max(ImportRun.created_at)).where(
                    ImportRun.block_id == run.block_id,
                    ImportRun.id != run.id,
                    ImportRun.status == RunStatus.COMPLETED.value,
                    ImportRun.created_at > run.created_at,
                )
            ).one()
        return AgainCheck(
            run_id=run.id,
            block_id=run.block_id,
            block_name=run.block_name,
            configuration_id=run.configuration_id,
            configuration_name=configuration.name if configuration else None,
            source_kind=source_kind,
            file_name=run.file_name,
            file_at=file_at,
            reads_now=reads_now,
            newer_runs=int(newer_runs or 0),
            newest_at=newest_at,
            problem=problem,
        )


def _kept_elsewhere(source: GivenFile, settings: Settings | None) -> bool:
    # Another machine received it and the file store's bucket keeps it for every machine.
    if source.key is None or settings is None:
        return False
    return FileStore.of(settings).exists(source.key)
