"""Another Planport block of the same application as a source: its data exported to a CSV file
in the run's work folder, with the file settings and mapping that import it into the target.

Rules (`plan_copy`, pure):

- Metric → Metric: the same set of Dimension Lists (in any order) and the same value type.
  Cells are matched by their items; a cell the source lacks is left alone in the target.
- Dimension List → Dimension List: items matched by code; the name and every property with the
  same name (ignoring case) and type are copied (dimension properties: referencing the same
  list). Other target properties are not touched (`BlockCopy.not_copied` says which and why).
- Transaction List → Transaction List: as for Dimension Lists, rows matched by the target's
  unique property, which must be copied (else each run would add every row again).

Blanks in the source never overwrite: metric copies leave cells alone where the source is blank
(`blanks_overwrite=False`); list copies keep a target property where the source cell is blank
(`keep_existing_when_blank=True`).

Connectors sit below the services: the export reads the store's block tables directly.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select

from planport.connectors._base import (
    FetchContext,
    Fetched,
    SourceState,
    SourceUnavailable,
    StatusContext,
)
from planport.domain.blocks import BlockDef, PropertyDef
from planport.domain.enums import BlockKind, PropertyType
from planport.domain.errors import NotFound, PermissionDenied
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import (
    CODE,
    NAME,
    VALUE,
    FieldMapping,
    ImportOptions,
    Mapping,
    SourceColumn,
    TransactionMode,
    UnknownItems,
)
from planport.domain.names import name_key
from planport.domain.sources import BlockSource
from planport.domain.values import format_value
from planport.store import block_tables
from planport.store.db import Database

EXPORT_ROWS = 5000  # rows fetched from the database per round trip while exporting
# How the exported file is written, so how it is read: UTF-8, commas, ISO dates, "." decimals
# (domain.values.format_value). Spelt out rather than detected: detection could misread it.
COPY_FILE_SETTINGS = FileSettings(encoding="utf-8", separator=",", quote='"', header=True)

SOURCE_BLOCK_DELETED = "The source block of this configuration was deleted; choose another source."


@dataclass(frozen=True, slots=True)
class CopyColumn:
    """One column of the exported file: its header, how its values are written, the source
    table column it comes from, and (for dimension values) the list whose codes it shows."""

    header: str
    kind: PropertyType
    column_name: str
    list_table_name: str | None = None


@dataclass(frozen=True, slots=True)
class BlockCopy:
    """How `source`'s data is copied into a target: the file's columns and the mapping."""

    source: BlockDef
    columns: tuple[CopyColumn, ...]
    mapping: Mapping
    copied: tuple[str, ...]  # target property names (lists), for people
    not_copied: tuple[str, ...]  # "Region (Text here, Number in Sales)"


class CopyRefused(Exception):
    """The source cannot be copied into the target; the message names what differs."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------- planning a copy (pure)


def plan_copy(source: BlockDef, target: BlockDef) -> BlockCopy:
    """The copy of `source` into `target`. Raises CopyRefused naming what does not fit."""
    if source.id == target.id:
        raise CopyRefused(f"{target.name!r} cannot be copied from itself; choose another block.")
    if source.application_id != target.application_id:
        raise CopyRefused(
            f"{source.name!r} is in another application; a block copies only from its own "
            "application."
        )
    if source.kind is not target.kind:
        raise CopyRefused(
            f"A {target.kind.label} copies only from a {target.kind.label}; {source.name!r} "
            f"is a {source.kind.label}."
        )
    if target.kind is BlockKind.METRIC:
        return _metric_copy(source, target)
    return _list_copy(source, target)


def _metric_copy(source: BlockDef, target: BlockDef) -> BlockCopy:
    source_lists = {d.list_id: d.list_name for d in source.dimensions}
    target_lists = {d.list_id: d.list_name for d in target.dimensions}
    if source_lists.keys() != target_lists.keys():
        differences = []
        if extra := [n for i, n in source_lists.items() if i not in target_lists]:
            differences.append(f"only {source.name!r} has {_names(extra)}")
        if missing := [n for i, n in target_lists.items() if i not in source_lists]:
            differences.append(f"only {target.name!r} has {_names(missing)}")
        raise CopyRefused(
            f"A metric copies only from a metric with the same dimensions: "
            f"{'; '.join(differences)}."
        )
    assert source.value_type is not None
    assert target.value_type is not None
    if source.value_type is not target.value_type:
        raise CopyRefused(
            f"A metric copies only from a metric of the same type: {source.name!r} holds "
            f"{source.value_type.label} values, {target.name!r} {target.value_type.label}."
        )
    headers = _Headers()
    columns = [
        CopyColumn(
            headers.take(d.list_name), PropertyType.DIMENSION, d.column_name, d.list_table_name
        )
        for d in source.dimensions
    ]
    columns.append(
        CopyColumn(
            headers.take(source.name), source.value_type.as_property_type, block_tables.VALUE_COLUMN
        )
    )
    fields = [
        _field(str(d.list_id), c.header)
        for d, c in zip(source.dimensions, columns[:-1], strict=True)
    ]
    fields.append(_field(VALUE, columns[-1].header))
    mapping = Mapping(fields=fields, options=ImportOptions(blanks_overwrite=False))
    return BlockCopy(source, tuple(columns), mapping, (), ())


def _list_copy(source: BlockDef, target: BlockDef) -> BlockCopy:
    headers = _Headers()
    columns: list[CopyColumn] = []
    fields: list[FieldMapping] = []
    if target.kind is BlockKind.DIMENSION_LIST:
        for key, label in ((CODE, "Code"), (NAME, "Name")):
            columns.append(CopyColumn(headers.take(label), PropertyType.TEXT, key))
            fields.append(_field(key, columns[-1].header))
    by_name = {name_key(p.name): p for p in source.properties}
    copied, not_copied = [], []
    for prop in target.properties:
        reason = _why_not(prop, by_name.get(name_key(prop.name)), source)
        if reason:
            not_copied.append(f"{prop.name} ({reason})")
            continue
        origin = by_name[name_key(prop.name)]
        columns.append(
            CopyColumn(
                headers.take(origin.name),
                prop.type,
                origin.column_name,
                origin.referenced_table_name,
            )
        )
        # Unknown items cannot happen for the same list, except items deleted mid-copy:
        # leave those blank (kept, as blanks never overwrite) rather than lose the row.
        unknown = UnknownItems.BLANK if prop.type is PropertyType.DIMENSION else UnknownItems.SKIP
        fields.append(_field(str(prop.id), columns[-1].header, unknown))
        copied.append(prop.name)
    options = _list_options(source, target, copied)
    mapping = Mapping(fields=fields, options=options)
    return BlockCopy(source, tuple(columns), mapping, tuple(copied), tuple(not_copied))


def _list_options(source: BlockDef, target: BlockDef, copied: list[str]) -> ImportOptions:
    if target.kind is BlockKind.DIMENSION_LIST:
        return ImportOptions(keep_existing_when_blank=True)
    if not copied:
        raise CopyRefused(
            f"{source.name!r} has no property of the same name and type as a property of "
            f"{target.name!r}: there is nothing to copy."
        )
    unique = target.property(target.unique_property_id) if target.unique_property_id else None
    if unique is None or unique.name not in copied:
        what = f"its unique property {unique.name!r}" if unique else "a unique property"
        raise CopyRefused(
            f"A Transaction List copy matches rows by the target's unique property, and "
            f"{target.name!r} needs {what} filled from {source.name!r} (a property of the same "
            "name and type); otherwise each run would add every row again."
        )
    return ImportOptions(transaction_mode=TransactionMode.UPSERT, keep_existing_when_blank=True)


def _why_not(prop: PropertyDef, origin: PropertyDef | None, source: BlockDef) -> str | None:
    """Why the target property `prop` is not filled from `origin`, or None when it is."""
    if origin is None:
        return f"{source.name!r} has no property of that name"
    if origin.type is not prop.type:
        return f"{prop.type.label} here, {origin.type.label} in {source.name!r}"
    if (
        prop.type is PropertyType.DIMENSION
        and origin.referenced_block_id != prop.referenced_block_id
    ):
        return (
            f"references {prop.referenced_block_name!r} here, "
            f"{origin.referenced_block_name!r} in {source.name!r}"
        )
    return None


def _field(target: str, column: str, unknown: UnknownItems = UnknownItems.SKIP) -> FieldMapping:
    return FieldMapping(target=target, source=SourceColumn(column=column), unknown_items=unknown)


def _names(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


class _Headers:
    """Header cells unique ignoring case (the file reader suffixes repeated ones)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, wanted: str) -> str:
        candidate, number = wanted, 2
        while name_key(candidate) in self._taken:
            candidate, number = f"{wanted} ({number})", number + 1
        self._taken.add(name_key(candidate))
        return candidate


# ---------------------------------------------------------------- exporting


def export_copy(db: Database, copy: BlockCopy, path: Path) -> int:
    """Write the source's data as `copy` describes to `path` (CSV); returns the data rows.

    Rows are streamed from the database EXPORT_ROWS at a time and written as they come, so
    memory stays flat whatever the block's size. Values are written as `format_value` renders
    them, which COPY_FILE_SETTINGS reads back exactly. No spreadsheet escaping: the file is
    read by Planport, and a leading apostrophe would change the text.
    """
    statement = _export_query(copy)
    kinds = [c.kind for c in copy.columns]
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle, db.engine.connect() as connection:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([c.header for c in copy.columns])
        result = connection.execution_options(stream_results=True, yield_per=EXPORT_ROWS).execute(
            statement
        )
        for chunk in result.partitions():
            writer.writerows(
                [format_value(k, v) for k, v in zip(kinds, row, strict=True)] for row in chunk
            )
            rows += len(chunk)
    return rows


def _export_query(copy: BlockCopy) -> Select[Any]:
    table = block_tables.build_table(copy.source)
    source: Any = table
    selected: list[Any] = []
    for position, column in enumerate(copy.columns):
        if column.kind is PropertyType.DIMENSION and column.list_table_name:
            items = block_tables.item_codes_table(column.list_table_name, f"ref_{position}")
            source = source.outerjoin(items, items.c.id == table.c[column.column_name])
            selected.append(items.c.code)
        else:
            selected.append(table.c[column.column_name])
    if copy.source.kind is BlockKind.METRIC:
        order = [table.c[d.column_name] for d in copy.source.dimensions]
    else:
        order = [table.c.id]
    return select(*selected).select_from(source).order_by(*order)


# ---------------------------------------------------------------- the connector


class BlockConnector:
    """Another block of the application, exported to CSV with a generated mapping (`plan_copy`:
    whether it fits the target needs both definitions, so services check it on save)."""

    def label(self, spec: BlockSource) -> str | None:
        return None

    def describe(self, spec: BlockSource) -> str:
        return "Another block"

    def checked(self, spec: BlockSource) -> BlockSource:
        return spec

    def status(self, spec: BlockSource, context: StatusContext) -> SourceState:
        source, target = context.load_block(spec.block_id), context.target
        if source is None or target is None:
            deleted = context.error or SOURCE_BLOCK_DELETED
            return SourceState(f"{self.describe(spec)} (deleted)", problem=deleted)
        described = f"{self.describe(spec)}: {source.name}"
        try:
            copy = plan_copy(source, target)
        except CopyRefused as error:
            return SourceState(
                described,
                source_block_id=source.id,
                source_block_name=source.name,
                problem=error.message,
            )
        return SourceState(
            described,
            source_block_id=source.id,
            source_block_name=source.name,
            copied=copy.copied,
            not_copied=copy.not_copied,
        )

    def fetch(self, spec: BlockSource, context: FetchContext) -> Fetched:
        """The source block's data as a CSV file in the work folder, with its own file settings
        and a mapping for the target. Raises SourceUnavailable (not transient) when the block
        is gone or does not fit the target: retrying would not help."""
        try:
            source = context.load_block(spec.block_id)
        except (NotFound, LookupError):
            raise SourceUnavailable(SOURCE_BLOCK_DELETED, transient=False) from None
        except PermissionDenied as error:
            raise SourceUnavailable(
                f"The member this run acts for cannot read the source block: {error.message}",
                transient=False,
            ) from None
        try:
            copy = plan_copy(source, context.block)
        except CopyRefused as error:
            raise SourceUnavailable(error.message, transient=False) from None
        path = context.workdir / f"block-{_short(source.id)}.csv"
        export_copy(context.db, copy, path)
        return Fetched(
            path=path,
            name=f"{source.name} (block)",
            file_settings=COPY_FILE_SETTINGS,
            mapping=copy.mapping,
        )


def _short(block_id: uuid.UUID) -> str:
    return block_id.hex[:12]
