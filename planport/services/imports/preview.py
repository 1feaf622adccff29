"""Before a run: inspect a file, suggest a mapping, and Check it (the whole pipeline on the
first rows, rolled back). A Check goes through the same steps as a run (`block_import`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType
from planport.domain.errors import Invalid
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, NAME, VALUE, FieldMapping, Mapping, SourceColumn
from planport.domain.members import Actor
from planport.domain.names import name_key
from planport.domain.summary import ImportSummary
from planport.domain.work_limits import WorkLimit
from planport.engine.mapper import PIVOT_ITEM, PIVOT_VALUE, target_column
from planport.engine.pipeline import ImportFailed
from planport.engine.reader import FileUnreadable, preview_rows
from planport.engine.writers import MergeRefused
from planport.services.imports.block_import import (
    FileDoesNotMatch,
    ImportStep,
    ImportTarget,
    open_file,
    prepare,
    refuse_unmatched_file,
    run_step,
)
from planport.store import block_tables
from planport.store.db import Database

PREVIEW_ROWS = 20


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
    source = open_file(path, settings, limit)
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
    target = prepare(db, actor, block_id, mapping)
    source = open_file(path, settings, limit)
    try:
        refuse_unmatched_file(target.block, mapping, source)
    except FileDoesNotMatch as error:
        raise Invalid(error.message, field="file") from None
    step = ImportStep(target, source, mapping, row_limit=rows, preview_rows=PREVIEW_ROWS)
    with db.write_connection() as connection:
        transaction = connection.begin()
        try:
            result = run_step(connection, step)
            shown = _with_codes(connection, target, mapping, result.preview)
        except (ImportFailed, MergeRefused, FileUnreadable) as error:
            raise Invalid(error.message) from None
        finally:
            transaction.rollback()
    return PreviewView(result.summary, _labelled(target.block, mapping, shown))


def _with_codes(
    connection: Connection, target: ImportTarget, mapping: Mapping, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Preview rows with item codes in place of the item ids staged for dimension targets."""
    block, lists = target.block, target.lists
    dimension_columns: dict[str, BlockDef] = {}
    for position, field_mapping in enumerate(mapping.fields):
        list_id = _list_of_target(block, field_mapping.target)
        if list_id is not None:
            dimension_columns[target_column(position)] = lists[list_id]
    if mapping.pivot:
        dimension_columns[PIVOT_ITEM] = lists[uuid.UUID(mapping.pivot.dimension)]
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
            labels[target_column(position)] = target.title()
        elif target == VALUE:
            labels[target_column(position)] = block.name
        elif block.kind is BlockKind.METRIC:
            labels[target_column(position)] = block.dimension(uuid.UUID(target)).list_name
        else:
            labels[target_column(position)] = block.property(uuid.UUID(target)).name
    if mapping.pivot:
        labels[PIVOT_ITEM] = block.dimension(uuid.UUID(mapping.pivot.dimension)).list_name
        labels[PIVOT_VALUE] = block.name
    return [{labels[k]: v for k, v in row.items() if k in labels} for row in rows]
