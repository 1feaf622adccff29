"""The mapper of an import's path: parsed text → typed Arrow rows, items resolved, rejects logged.

`MappedColumns` is the plan (pure): which staging column each mapped target fills and how it
is typed; it owns the staging column names that the writers, the staging table and the
preview's labels use (`target_column`, `PIVOT_ITEM`, `PIVOT_VALUE`). `Mapper` is built once
per pass over the file, on the pass's connection: `type(batch)` returns the Arrow table the
writers load (`SEQ`, `ROW`, one column per target and, for a pivoted file, the item and value
of each cell), and logs each rejected value in the pass's `RejectLog`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import BigInteger, Connection
from sqlalchemy.types import TypeEngine

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, NAME, VALUE, FieldMapping, Mapping, MatchBy, UnknownItems
from planport.domain.summary import Reason, RejectLog
from planport.engine import values as parsers
from planport.engine.items import ItemIndex, valid_code_mask
from planport.engine.staging import ROW, SEQ
from planport.store import block_tables

PIVOT_ITEM, PIVOT_VALUE = "pivot_item", "pivot_value"  # a pivoted file's staging columns


def target_column(position: int) -> str:
    """The staging column of the mapping's field at `position`."""
    return f"t{position}"


@dataclass(frozen=True, slots=True)
class Target:
    """A mapped target, resolved against the block: its staging column and how to type it."""

    field: FieldMapping
    column: str  # staging column name
    kind: PropertyType  # the type of the value (dimension: item ids)
    label: str  # for messages: "Country", "Price"…
    list_id: uuid.UUID | None = None  # dimension targets: the Dimension List


@dataclass(frozen=True, slots=True)
class MappedColumns:
    """What a mapping makes of a block's staging table, before any file is read."""

    block: BlockDef
    mapping: Mapping
    targets: tuple[Target, ...]

    @classmethod
    def of(cls, block: BlockDef, mapping: Mapping) -> MappedColumns:
        return cls(block, mapping, tuple(_targets(block, mapping)))

    @property
    def by_column(self) -> dict[str, str]:
        """Staging column → mapped target key (for the writers' plan)."""
        return {t.column: t.field.target for t in self.targets}

    def staging_columns(self) -> list[tuple[str, TypeEngine[Any]]]:
        block = self.block
        columns: list[tuple[str, TypeEngine[Any]]] = [
            (
                t.column,
                BigInteger() if t.kind is PropertyType.DIMENSION else block_tables.sql_type(t.kind),
            )
            for t in self.targets
        ]
        if self.mapping.pivot is not None:
            assert block.value_type is not None
            columns += [
                (PIVOT_ITEM, BigInteger()),
                (PIVOT_VALUE, block_tables.sql_type(block.value_type.as_property_type)),
            ]
        return columns


def _targets(block: BlockDef, mapping: Mapping) -> Iterator[Target]:
    for position, field_mapping in enumerate(mapping.fields):
        column = target_column(position)
        key = field_mapping.target
        if key == CODE:
            yield Target(field_mapping, column, PropertyType.TEXT, "Code")
        elif key == NAME:
            yield Target(field_mapping, column, PropertyType.TEXT, "Name")
        elif key == VALUE:
            assert block.value_type is not None
            yield Target(field_mapping, column, block.value_type.as_property_type, block.name)
        elif block.kind is BlockKind.METRIC:
            dim = block.dimension(uuid.UUID(key))
            yield Target(field_mapping, column, PropertyType.DIMENSION, dim.list_name, dim.list_id)
        else:
            prop = block.property(uuid.UUID(key))
            yield Target(field_mapping, column, prop.type, prop.name, prop.referenced_block_id)


@dataclass(frozen=True, slots=True)
class Pass:
    """What one pass types against: the run's start (for load-timestamp columns), the file's
    settings (number, date and boolean formats) and where rejects go."""

    started_at: datetime
    settings: FileSettings
    log: RejectLog


class Mapper:
    """Types the batches of one pass over the file (see the module's docstring).

    Builds an item index per Dimension List a target resolves in; `before_write` is called
    before an index writes new items (the staging COPY must be idle on the connection). A
    pivoted file's header items are resolved (and created, when asked) at once.
    """

    def __init__(
        self,
        connection: Connection,
        columns: MappedColumns,
        lists: dict[uuid.UUID, BlockDef],
        this_pass: Pass,
        before_write: Callable[[], None],
    ) -> None:
        self.columns, self.lists, self.this_pass = columns, lists, this_pass
        mapping = columns.mapping
        self.pivot = (
            _Pivot.build(connection, columns.block, mapping, lists) if mapping.pivot else None
        )
        self.indexes = {
            t.list_id: ItemIndex(
                connection, lists[t.list_id], t.field.match_by, before_write=before_write
            )
            for t in columns.targets
            if t.list_id is not None
        }

    def created(self) -> Iterator[tuple[str, list[str]]]:
        """(Dimension List name, codes) of the items this pass created."""
        for list_id, index in self.indexes.items():
            yield self.lists[list_id].name, index.created
        if self.pivot is not None:
            yield self.pivot.index.list.name, self.pivot.index.created

    def type(self, columns: dict[str, pa.Array], length: int, first_index: int) -> pa.Table:
        """The typed rows of a batch of `length` rows (its file columns by header), the first
        being row `first_index` of the file; rejected values are logged, rejected rows left
        out."""
        row_index = pa.array(range(first_index, first_index + length), pa.int64())
        keep = parsers.constant(True, length)
        typed: dict[str, pa.Array] = {}
        for target in self.columns.targets:
            text = self._source_text(target, columns, length)
            values, ok = self._type_target(target, text, row_index)
            typed[target.column] = values
            keep = pc.and_(keep, ok)
        blanks_overwrite = self.columns.mapping.options.blanks_overwrite
        if self.pivot is not None:
            rows = _Rows(row_index, keep, typed)
            return self.pivot.unpivot(columns, rows, self.this_pass, blanks_overwrite)
        value = next((t.column for t in self.columns.targets if t.field.target == VALUE), None)
        if value is not None and not blanks_overwrite:
            keep = pc.and_(keep, pc.is_valid(typed[value]))
        table = pa.table({SEQ: row_index, ROW: row_index, **typed})
        return table.filter(keep)

    def _source_text(self, target: Target, columns: dict[str, pa.Array], length: int) -> pa.Array:
        """A column's text, or a virtual column: a constant, or the run's start (its day for a
        date target, the ISO instant otherwise)."""
        source = target.field.source
        if source.column is not None:
            return columns[source.column]
        if source.load_timestamp:
            started_at = self.this_pass.started_at
            stamp = started_at.date() if target.kind is PropertyType.DATE else started_at
            constant = stamp.isoformat()
        else:
            constant = source.constant or ""
        return pc.fill_null(pa.nulls(length, pa.string()), constant)

    def _type_target(
        self, target: Target, text: pa.Array, row_index: pa.Array
    ) -> tuple[pa.Array, pa.BooleanArray]:
        """(typed values, rows to keep) for one target; rejects are logged."""
        log = self.this_pass.log
        column = target.field.source.label
        if target.kind is PropertyType.DIMENSION:
            assert target.list_id is not None
            return self._resolve(target, text, row_index, self.indexes[target.list_id])
        if target.field.target == CODE:
            return _codes(text, row_index, log, column)
        parsed = _parse(target.kind, text, column, self.this_pass.settings)
        _log_mask(
            log,
            Reason.PARSING_ERROR,
            column,
            f"The value is not a valid {target.kind.label.lower()}.",
            _Marked(parsed.failed, row_index, text),
        )
        return parsed.values, pc.invert(parsed.failed)

    def _resolve(
        self, target: Target, text: pa.Array, row_index: pa.Array, index: ItemIndex
    ) -> tuple[pa.Array, pa.BooleanArray]:
        """Item ids for a column of codes or names, resolved once per distinct text.

        A dimension column repeats few texts (months, countries…) over many rows: trimming,
        matching and look-ups run on its dictionary of distinct texts, and one `take` spreads
        the results back to the rows.
        """
        log = self.this_pass.log
        column = target.field.source.label
        encoded = pc.dictionary_encode(pc.fill_null(text, "") if text.null_count else text)
        words, positions = encoded.dictionary, encoded.indices
        codes = pc.utf8_trim_whitespace(words)
        blank_words = pc.fill_null(pc.equal(codes, ""), True)
        ids_of_words = index.resolve(codes)
        unknown_words = pc.and_(pc.invert(blank_words), pc.is_null(ids_of_words))
        policy = target.field.unknown_items
        if policy is UnknownItems.CREATE and pc.any(unknown_words).as_py():
            wanted = pc.unique(pc.filter(codes, unknown_words))
            creatable = pc.filter(wanted, valid_code_mask(wanted))
            index.create(creatable.to_pylist())
            ids_of_words = index.resolve(codes)
            unknown_words = pc.and_(pc.invert(blank_words), pc.is_null(ids_of_words))
        ids = pc.take(ids_of_words, positions)
        unknown = _Marked(_spread(unknown_words, positions), row_index, text)
        keep = parsers.constant(True, len(text))
        matched = "coded" if target.field.match_by is MatchBy.CODE else "named"
        what = f"{index.list.name} has no item {matched} like this."
        if policy is UnknownItems.BLANK:
            blanked = what + " The value was left blank."
            _log_mask(log, Reason.MISSING_ITEM_BLANKED, column, blanked, unknown)
        else:
            skipped = what + " The row was skipped."
            _log_mask(log, Reason.MISSING_ITEM_SKIPPED, column, skipped, unknown)
            keep = pc.invert(unknown.mask)
        if self.columns.block.kind is BlockKind.METRIC:
            blank = _spread(blank_words, positions)
            no_item = f"No {index.list.name} item is given."
            _log_mask(log, Reason.PARSING_ERROR, column, no_item, _Marked(blank, row_index, text))
            keep = pc.and_(keep, pc.invert(blank))
        return ids, keep


# ---------------------------------------------------------------- typing helpers


def _parse(
    kind: PropertyType, text: pa.Array, column: str, settings: FileSettings
) -> parsers.Parsed:
    match kind:
        case PropertyType.NUMBER:
            return parsers.parse_numbers(text, settings.number_for(column))
        case PropertyType.INTEGER:
            return parsers.parse_integers(text, settings.number_for(column))
        case PropertyType.DATE:
            return parsers.parse_dates(text, settings.date_for(column))
        case PropertyType.BOOLEAN:
            return parsers.parse_booleans(text, settings.boolean)
        case _:
            return parsers.parse_text(text)


def _codes(
    text: pa.Array, row_index: pa.Array, log: RejectLog, column: str
) -> tuple[pa.Array, pa.BooleanArray]:
    codes = pc.utf8_trim_whitespace(text)
    blank = pc.equal(codes, "")
    empty = _Marked(blank, row_index, text)
    _log_mask(log, Reason.PARSING_ERROR, column, "The item code is empty.", empty)
    invalid = pc.and_(pc.invert(blank), pc.invert(valid_code_mask(codes)))
    _log_mask(
        log,
        Reason.PARSING_ERROR,
        column,
        "The item code is too long or has control characters.",
        _Marked(invalid, row_index, text),
    )
    return codes, pc.invert(pc.or_(blank, invalid))


def _spread(word_mask: pa.BooleanArray, positions: pa.Array) -> pa.BooleanArray:
    """A mask over distinct texts, as a mask over the rows (all false without a lookup when no
    text is marked: the usual case)."""
    if not pc.any(word_mask).as_py():
        return parsers.constant(False, len(positions))
    return pc.fill_null(pc.take(word_mask, positions), False)


@dataclass(frozen=True, slots=True)
class _Marked:
    """Rows of a batch marked by `mask`, with their file row numbers and text."""

    mask: pa.Array
    row_index: pa.Array
    text: pa.Array


def _log_mask(
    log: RejectLog,
    reason: Reason,
    column: str,
    description: str,
    marked: _Marked,
    *,
    whole_row: bool = True,
) -> None:
    mask = pc.fill_null(marked.mask, False)
    if not pc.any(mask).as_py():
        return
    log.add(
        reason,
        column,
        description,
        pc.filter(marked.row_index, mask).to_pylist(),
        pc.filter(marked.text, mask).to_pylist(),
        whole_row=whole_row,
    )


# ---------------------------------------------------------------- pivoted files


@dataclass(frozen=True, slots=True)
class _Rows:
    """A batch's rows as typed so far: file row numbers, rows kept, typed target columns."""

    row_index: pa.Array
    keep: pa.BooleanArray
    typed: dict[str, pa.Array]


class _Pivot:
    """A pivoted Metric file: each pivot column's header is an item; each cell a metric cell."""

    def __init__(
        self,
        index: ItemIndex,
        columns: list[str],
        item_ids: list[int | None],
        value_kind: PropertyType,
    ) -> None:
        self.index = index
        self.columns = columns
        self.item_ids = item_ids
        self.value_kind = value_kind

    @classmethod
    def build(
        cls,
        connection: Connection,
        block: BlockDef,
        mapping: Mapping,
        lists: dict[uuid.UUID, BlockDef],
    ) -> _Pivot:
        assert mapping.pivot is not None
        assert block.value_type is not None
        pivot = mapping.pivot
        index = ItemIndex(connection, lists[uuid.UUID(pivot.dimension)], pivot.match_by)
        headers = pa.array([c.strip() for c in pivot.columns], pa.string())
        ids = index.resolve(headers)
        if pivot.unknown_items is UnknownItems.CREATE:
            unknown = pc.filter(headers, pc.is_null(ids))
            index.create(pc.filter(unknown, valid_code_mask(unknown)).to_pylist())
            ids = index.resolve(headers)
        return cls(index, pivot.columns, ids.to_pylist(), block.value_type.as_property_type)

    def unpivot(
        self,
        columns: dict[str, pa.Array],
        rows: _Rows,
        this_pass: Pass,
        blanks_overwrite: bool,
    ) -> pa.Table:
        log, row_index, keep = this_pass.log, rows.row_index, rows.keep
        parts = []
        width = len(self.columns)
        kept_cells = pc.cast(parsers.constant(False, len(row_index)), pa.int64())
        lost_cells = kept_cells
        for position, (name, item_id) in enumerate(zip(self.columns, self.item_ids, strict=True)):
            text = columns[name]
            if item_id is None:
                nonblank = pc.invert(parsers.blank_mask(text))
                description = (
                    f"{self.index.list.name} has no item {name!r} (a header cell); "
                    "the cell was skipped."
                )
                lost = pc.and_(keep, nonblank)
                _log_mask(
                    log,
                    Reason.MISSING_ITEM_SKIPPED,
                    name,
                    description,
                    _Marked(lost, row_index, text),
                    whole_row=False,
                )
                lost_cells = pc.add(lost_cells, pc.cast(lost, pa.int64()))
                continue
            parsed = _parse(self.value_kind, text, name, this_pass.settings)
            lost = pc.fill_null(pc.and_(keep, parsed.failed), False)
            _log_mask(
                log,
                Reason.PARSING_ERROR,
                name,
                f"The value is not a valid {self.value_kind.label.lower()}.",
                _Marked(lost, row_index, text),
                whole_row=False,
            )
            lost_cells = pc.add(lost_cells, pc.cast(lost, pa.int64()))
            cell_keep = pc.and_(keep, pc.invert(parsed.failed))
            if not blanks_overwrite:
                cell_keep = pc.and_(cell_keep, pc.invert(parsers.blank_mask(text)))
            seq = pc.add(pc.multiply(row_index, width), position)
            part = pa.table(
                {
                    SEQ: seq,
                    ROW: row_index,
                    **rows.typed,
                    PIVOT_ITEM: pc.fill_null(pa.nulls(len(text), pa.int64()), item_id),
                    PIVOT_VALUE: parsed.values,
                }
            )
            parts.append(part.filter(cell_keep))
            kept_cells = pc.add(kept_cells, pc.cast(pc.fill_null(cell_keep, False), pa.int64()))
        # A row is skipped when it lost cells and kept none.
        emptied = pc.and_(pc.greater(lost_cells, 0), pc.equal(kept_cells, 0))
        log.skip_rows(pc.filter(row_index, emptied).to_pylist())
        return pa.concat_tables(parts) if parts else _empty_like(rows.typed)


def _empty_like(typed: dict[str, pa.Array]) -> pa.Table:
    return pa.table(
        {
            SEQ: pa.array([], pa.int64()),
            ROW: pa.array([], pa.int64()),
            **{k: v.slice(0, 0) for k, v in typed.items()},
            PIVOT_ITEM: pa.array([], pa.int64()),
            PIVOT_VALUE: pa.array([], pa.float64()),
        }
    )
