"""What "Run again" on an Import Summary would do, for its confirmation: which file it reads
(and when that file came), and whether newer imports into the block would be overwritten.

Run again re-imports the run's own file when it was given with the run (an upload), and reads
a configuration's own source (a server folder, another block) as it is now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from planport.connectors import BlockSource, FolderSource, GivenFile, parse_source
from planport.connectors.folder import describe
from planport.domain.enums import Permission
from planport.domain.errors import Invalid, NotFound
from planport.domain.imports import RunStatus
from planport.domain.members import Actor
from planport.services.workspace import access
from planport.store.db import Database
from planport.store.models import Block, ImportConfiguration, ImportRun


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


def check_again(db: Database, actor: Actor, run_id: uuid.UUID) -> AgainCheck:
    """Raises NotFound, or PermissionDenied without Import Data in the run's application."""
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
            else:
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
