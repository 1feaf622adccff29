"""Before a run: inspect a file, suggest a mapping, preview; and the steps runs share.

The run lifecycle (queue, claim, execute, cancel, read back) lives in `services.runs`; it uses
the preparation steps here (`_prepare`, `_import`, `_lock_block`…) so that a preview and a run
go through exactly the same checks and pipeline. The block changes in one transaction on one
connection, under a per-block lock, so two imports into one block never interleave and a
failure leaves the block exactly as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef
from planport.domain.clock import utc_now
from planport.domain.enums import BlockKind, Permission, PropertyType
from planport.domain.errors import Invalid
from planport.domain.members import Actor
from planport.domain.names import name_key
from planport.domain.work_limits import WorkLimit
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
from planport.engine.reader import FileUnreadable, Source, open_source, preview_rows
from planport.engine.summary import ImportSummary
from planport.engine.writers import MergeRefused, Reference
from planport.services import access
from planport.services.definitions import load_block, to_def, uses_of_list
from planport.store import block_tables
from planport.store.db import Database
from planport.store.models import Block

PREVIEW_ROWS = 20
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


# ---------------------------------------------------------------- step 1 and 2 helpers


def inspect_file(
    path: Path,
    settings: FileSettings,
    *,
    rows: int = PREVIEW_ROWS,
    limit: WorkLimit | None = None,
) -> FileView:
    """Read the file's header and first rows with `settings`. Raises Invalid when unreadable,
    TimeLimitReached or WorkCalledOff when `limit` stops the reading."""
    source = _open(path, settings, limit)
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


# ---------------------------------------------------------------- preview


def preview_import(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    path: Path,
    settings: FileSettings,
    mapping: Mapping,
    *,
    rows: int | None = 1000,
    limit: WorkLimit | None = None,
) -> PreviewView:
    """The whole pipeline on the first `rows` rows (None: the whole file), then rolled back.
    Raises Invalid for a file or mapping that cannot be imported, TimeLimitReached or
    WorkCalledOff when `limit` stops the reading (the rollback happens all the same)."""
    block, lists, references = _prepare(db, actor, block_id, mapping)
    source = _open(path, settings, limit)
    try:
        _refuse_unmatched_file(block, mapping, source)
    except FileDoesNotMatch as error:
        raise Invalid(error.message, field="file") from None
    with db.write_connection() as connection:
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


def run_permissions(mapping: Mapping) -> tuple[Permission, ...]:
    """The permissions a run importing with `mapping` uses, in the order messages name them:
    Import Data and Write, and Delete Item when it clears items first.

    The one statement of the rule: queueing a run, executing it (as its actor or its
    schedule's owner) and editing what a configuration does all check this same list.
    """
    needed: tuple[Permission, ...] = (Permission.IMPORT_DATA, Permission.WRITE)
    if mapping.options.clear is not ClearMode.OFF:
        needed += (Permission.DELETE_ITEM,)
    return needed


def _prepare(
    db: Database, actor: Actor, block_id: uuid.UUID, mapping: Mapping
) -> tuple[BlockDef, dict[uuid.UUID, BlockDef], list[Reference]]:
    """Check access and the mapping; load the definitions the pipeline needs."""
    with db.read() as session:
        block = to_def(load_block(session, actor, block_id, Permission.IMPORT_DATA))
        for permission in run_permissions(mapping):
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


def _open(path: Path, settings: FileSettings, limit: WorkLimit | None = None) -> Source:
    try:
        return open_source(path, settings, limit=limit)
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
