"""Running imports: inspect a file, suggest a mapping, preview, run, and read runs back.

A run is a row first: it is created `queued`, moved to `running` with a conditional update,
and finished (completed or failed) with another one, each in its own short transaction. The
block itself changes in one transaction on one connection, under a per-block lock, so two
imports into one block never interleave and a failure leaves the block exactly as it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, Permission, PropertyType
from planport.domain.errors import Invalid, NotFound
from planport.domain.imports import RunStatus, Trigger
from planport.domain.members import Actor
from planport.domain.names import name_key
from planport.engine.file_settings import FileSettings
from planport.engine.mapping import (
    CODE,
    NAME,
    VALUE,
    ClearMode,
    FieldMapping,
    Mapping,
    SourceColumn,
    check_mapping,
)
from planport.engine.pipeline import ImportFailed, ImportResult, import_file
from planport.engine.reader import FileUnreadable, Source, file_digest, open_source, preview_rows
from planport.engine.summary import ImportSummary, RejectedRow, RunError
from planport.engine.writers import MergeRefused, Reference
from planport.services import access
from planport.services.csv_files import spreadsheet_safe, stream_csv
from planport.services.definitions import load_block, to_def, uses_of_list
from planport.store import block_tables
from planport.store.db import Database
from planport.store.models import Block, ImportRun, ImportRunReject, Member, utc_now

PREVIEW_ROWS = 20
Progress = Callable[[int], None]  # called with the number of rows read so far
REJECT_BATCH = 5000
MERGE_WORK_MEM = "256MB"


@dataclass(frozen=True, slots=True)
class FileView:
    """What step 1 shows: the dialect as read (detected or chosen) and the first rows."""

    encoding: str
    separator: str
    quote: str
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True, slots=True)
class PreviewView:
    summary: ImportSummary
    rows: list[dict[str, Any]]  # mapped rows as they would be written, by target label


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

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


# ---------------------------------------------------------------- step 1 and 2 helpers


def inspect_file(path: Path, settings: FileSettings, *, rows: int = PREVIEW_ROWS) -> FileView:
    """Read the file's header and first rows with `settings`. Raises Invalid when unreadable."""
    source = _open(path, settings)
    try:
        first = preview_rows(source, rows)
    except FileUnreadable as error:
        raise Invalid(error.message, field="file") from None
    dialect = source.dialect
    return FileView(dialect.encoding, dialect.separator, dialect.quote, source.columns, first)


def suggest_mapping(block: BlockDef, columns: list[str]) -> Mapping:
    """Map columns whose header matches a target's name (case-insensitively).

    Dimension List items take "Code"/"Name"; a Metric's value takes a column named like the
    metric or "Value".
    """
    by_key = {name_key(c): c for c in columns}
    fields: list[FieldMapping] = []

    def add(target: str, *names: str) -> None:
        for name in names:
            column = by_key.get(name_key(name))
            if column is not None:
                fields.append(FieldMapping(target=target, source=SourceColumn(column=column)))
                return

    if block.kind is BlockKind.DIMENSION_LIST:
        add(CODE, "Code", "Item code", "ID", block.name)
        add(NAME, "Name", f"{block.name} name", "Label")
    for prop in block.properties:
        add(str(prop.id), prop.name)
    for dim in block.dimensions:
        add(str(dim.list_id), dim.list_name)
    if block.kind is BlockKind.METRIC:
        add(VALUE, block.name, "Value", "Amount")
    return Mapping(fields=fields)


# ---------------------------------------------------------------- preview and run


def preview_import(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    path: Path,
    settings: FileSettings,
    mapping: Mapping,
    *,
    rows: int | None = 1000,
) -> PreviewView:
    """The whole pipeline on the first `rows` rows (None: the whole file), then rolled back."""
    block, lists, references = _prepare(db, actor, block_id, mapping)
    source = _open(path, settings)
    try:
        _refuse_unmatched_file(block, mapping, source)
    except FileDoesNotMatch as error:
        raise Invalid(error.message, field="file") from None
    with db.engine.execution_options(planport_write=True).connect() as connection:
        transaction = connection.begin()
        try:
            result = _import(
                connection, block, lists, source, mapping, references, rows, PREVIEW_ROWS
            )
            shown = _with_codes(connection, block, lists, mapping, result.preview)
        except (ImportFailed, MergeRefused, FileUnreadable) as error:
            raise Invalid(error.message) from None
        finally:
            transaction.rollback()
    return PreviewView(result.summary, _labelled(block, mapping, shown))


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
    on_progress: Callable[[int], None] | None = None,
) -> RunView:
    """Run an import now and return the finished run (completed or failed).

    Refusals before the run exists (no permission, a mapping that does not fit) raise; once
    the run row exists, every failure is recorded on it instead.
    """
    block, lists, references = _prepare(db, actor, block_id, mapping)
    run_id = _create_run(
        db, actor, block, settings, mapping, trigger, configuration_id, file_name or path.name
    )
    _mark_running(db, run_id)
    try:
        size, digest = file_digest(path)
        _record_file(db, run_id, size, digest)
        source = open_source(path, settings)
        _refuse_unmatched_file(block, mapping, source)
        with (
            db.engine.execution_options(planport_write=True).connect() as connection,
            connection.begin(),
        ):
            _lock_block(connection, block)
            result = _import(
                connection, block, lists, source, mapping, references, None, 0, on_progress
            )
    except ImportFailed as error:
        found = error.result
        summary, rejected = (found.summary, found.rejected_rows) if found else (None, [])
        _finish(
            db, run_id, RunStatus.FAILED, summary, rejected, [RunError(error.name, error.message)]
        )
    except MergeRefused as error:
        _finish(db, run_id, RunStatus.FAILED, None, [], [RunError(error.name, error.message)])
    except FileUnreadable as error:
        _finish(db, run_id, RunStatus.FAILED, None, [], [RunError("FileUnreadable", error.message)])
    except FileDoesNotMatch as error:
        problem = RunError("FileDoesNotMatch", error.message)
        _finish(db, run_id, RunStatus.FAILED, None, [], [problem])
    except OSError as error:
        message = f"The file could not be read: {error.strerror or error}."
        _finish(db, run_id, RunStatus.FAILED, None, [], [RunError("FileUnreadable", message)])
    except Exception as error:
        # A bug, not the user's doing: the run is failed (never left running) and the error
        # propagates to the logs with its traceback.
        problem = RunError(
            "UnexpectedError", f"Planport failed unexpectedly ({type(error).__name__})."
        )
        _finish(db, run_id, RunStatus.FAILED, None, [], [problem])
        raise
    else:
        _finish(db, run_id, RunStatus.COMPLETED, result.summary, result.rejected_rows, [])
    return get_run(db, actor, run_id)


def _prepare(
    db: Database, actor: Actor, block_id: uuid.UUID, mapping: Mapping
) -> tuple[BlockDef, dict[uuid.UUID, BlockDef], list[Reference]]:
    """Check access and the mapping; load the definitions the pipeline needs."""
    with db.read() as session:
        block = to_def(load_block(session, actor, block_id, Permission.IMPORT_DATA))
        needed = [Permission.WRITE] + (
            [Permission.DELETE_ITEM] if mapping.options.clear is not ClearMode.OFF else []
        )
        for permission in needed:
            access.require(session, actor, permission, block.application_id)
        problems = check_mapping(block, mapping)
        if problems:
            raise Invalid(" ".join(problems), field="mapping")
        lists = _dimension_lists(session, block, mapping)
        references = _references(session, block)
    return block, lists, references


def _dimension_lists(
    session: Session, block: BlockDef, mapping: Mapping
) -> dict[uuid.UUID, BlockDef]:
    ids = {p.referenced_block_id for p in block.properties if p.type is PropertyType.DIMENSION}
    ids |= {d.list_id for d in block.dimensions}
    lists = {}
    for list_id in ids:
        if list_id is not None:
            stored = session.get(Block, list_id)
            assert stored is not None
            lists[list_id] = to_def(stored)
    return lists


def _references(session: Session, block: BlockDef) -> list[Reference]:
    """Columns of other blocks holding this Dimension List's item ids (for clearing it)."""
    if block.kind is not BlockKind.DIMENSION_LIST:
        return []
    return [
        Reference(use.definition.table_name, use.column_name, f"{use.block.name} ({use.how})")
        for use in uses_of_list(session, block.id)
    ]


class FileDoesNotMatch(Exception):
    """The file lacks columns the mapping uses."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _refuse_unmatched_file(block: BlockDef, mapping: Mapping, source: Source) -> None:
    problems = check_mapping(block, mapping, source.columns)
    if problems:
        raise FileDoesNotMatch(f"{source.name}: " + " ".join(problems))


def _open(path: Path, settings: FileSettings) -> Source:
    try:
        return open_source(path, settings)
    except FileUnreadable as error:
        raise Invalid(error.message, field="file") from None
    except OSError as error:
        raise Invalid(
            f"The file could not be read: {error.strerror or error}.", field="file"
        ) from None


def _import(
    connection: Connection,
    block: BlockDef,
    lists: dict[uuid.UUID, BlockDef],
    source: Source,
    mapping: Mapping,
    references: list[Reference],
    rows: int | None,
    preview: int,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    return import_file(
        connection,
        block,
        lists,
        source,
        mapping,
        started_at=utc_now(),
        row_limit=rows,
        preview_rows=preview,
        on_progress=on_progress,
        references=references,
    )


def _lock_block(connection: Connection, block: BlockDef) -> None:
    """Two imports into one block never interleave. SQLite: the write transaction already holds
    the database's write lock (BEGIN IMMEDIATE). PostgreSQL: an advisory lock per block, held
    until the transaction ends."""
    if connection.dialect.name == "postgresql":
        key = int.from_bytes(block.id.bytes[:8], "big", signed=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        # The merge groups and joins millions of staged rows: let them hash in memory rather
        # than sort on disk (for this transaction only).
        connection.execute(text(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'"))


# ---------------------------------------------------------------- the run row


def _create_run(
    db: Database,
    actor: Actor,
    block: BlockDef,
    settings: FileSettings,
    mapping: Mapping,
    trigger: Trigger,
    configuration_id: uuid.UUID | None,
    file_name: str,
) -> uuid.UUID:
    with db.write() as session:
        run = ImportRun(
            application_id=block.application_id,
            block_id=block.id,
            block_name=block.name,
            configuration_id=configuration_id,
            trigger=trigger.value,
            actor_id=actor.id,
            status=RunStatus.QUEUED.value,
            file_name=file_name[:500],
            file_settings=settings.model_dump_json(),
            mapping=mapping.model_dump_json(),
        )
        session.add(run)
        session.flush()
        return run.id


def _mark_running(db: Database, run_id: uuid.UUID) -> None:
    with db.write() as session:
        now = utc_now()
        moved = session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id, ImportRun.status == RunStatus.QUEUED.value)
            .values(status=RunStatus.RUNNING.value, started_at=now, heartbeat_at=now)
        )
        if getattr(moved, "rowcount", 0) != 1:
            raise Invalid("This run was already taken by another worker.")


def _record_file(db: Database, run_id: uuid.UUID, size: int, digest: str) -> None:
    with db.write() as session:
        session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(file_size=size, file_sha256=digest)
        )


def _finish(
    db: Database,
    run_id: uuid.UUID,
    status: RunStatus,
    summary: ImportSummary | None,
    rejected: list[RejectedRow],
    errors: list[RunError],
) -> None:
    """Finish a running run (conditional: a run finished elsewhere is left alone)."""
    counts = {}
    if summary is not None:
        summary.errors = errors
        counts = {
            k: getattr(summary, k)
            for k in ("rows_read", "inserted", "updated", "deleted", "skipped")
        }
    with db.write() as session:
        session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id, ImportRun.status == RunStatus.RUNNING.value)
            .values(
                status=status.value,
                finished_at=utc_now(),
                summary=json.dumps(summary.to_json()) if summary else None,
                errors=json.dumps([e.__dict__ for e in errors]),
                **counts,
            )
        )
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


def _run_view(session: Session, run: ImportRun) -> RunView:
    actor = session.get(Member, run.actor_id) if run.actor_id else None
    summary = ImportSummary.from_json(json.loads(run.summary)) if run.summary else None
    errors = [RunError(**e) for e in json.loads(run.errors)] if run.errors else []
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
    )


def _with_codes(
    connection: Connection,
    block: BlockDef,
    lists: dict[uuid.UUID, BlockDef],
    mapping: Mapping,
    rows: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Preview rows with item codes in place of the item ids staged for dimension targets."""
    dimension_columns: dict[str, BlockDef] = {}
    for position, field_mapping in enumerate(mapping.fields):
        list_id = _list_of_target(block, field_mapping.target)
        if list_id is not None:
            dimension_columns[f"t{position}"] = lists[list_id]
    if mapping.pivot:
        dimension_columns["pivot_item"] = lists[uuid.UUID(mapping.pivot.dimension)]
    for column, dimension_list in dimension_columns.items():
        table = block_tables.build_table(dimension_list)
        ids = {row[column] for row in rows if row.get(column) is not None}
        found = connection.execute(select(table.c.id, table.c.code).where(table.c.id.in_(ids)))
        codes = dict(found.all())
        for row in rows:
            row[column] = codes.get(row.get(column), row.get(column))
    return rows


def _list_of_target(block: BlockDef, target: str) -> uuid.UUID | None:
    if target in (CODE, NAME, VALUE):
        return None
    target_id = uuid.UUID(target)
    if block.kind is BlockKind.METRIC:
        return block.dimension(target_id).list_id
    prop = block.property(target_id)
    return prop.referenced_block_id if prop.type is PropertyType.DIMENSION else None


def _labelled(
    block: BlockDef, mapping: Mapping, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Staged preview rows keyed by target labels instead of staging columns."""
    labels = {}
    for position, field_mapping in enumerate(mapping.fields):
        target = field_mapping.target
        if target in (CODE, NAME):
            labels[f"t{position}"] = target.title()
        elif target == VALUE:
            labels[f"t{position}"] = block.name
        elif block.kind is BlockKind.METRIC:
            labels[f"t{position}"] = block.dimension(uuid.UUID(target)).list_name
        else:
            labels[f"t{position}"] = block.property(uuid.UUID(target)).name
    if mapping.pivot:
        labels["pivot_item"] = block.dimension(uuid.UUID(mapping.pivot.dimension)).list_name
        labels["pivot_value"] = block.name
    return [{labels[k]: v for k, v in row.items() if k in labels} for row in rows]
