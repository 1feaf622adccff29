"""One import, from file to block: read → type and resolve (Arrow) → stage → merge (SQL).

`import_file` runs inside the caller's transaction on one connection: every change to the
block (and items created in dimension lists) lands together or not at all. The caller holds
the block lock and decides whether to commit (a real run) or roll back (a preview).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import BigInteger, Connection
from sqlalchemy.types import TypeEngine

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunErrorName
from planport.domain.mapping import (
    CODE,
    NAME,
    VALUE,
    FieldMapping,
    Mapping,
    MatchBy,
    UnknownItems,
)
from planport.domain.summary import ImportSummary, Reason, RejectedRow, RejectLog
from planport.engine import unchanged as unchanged_rows
from planport.engine import values as parsers
from planport.engine.items import ItemIndex, valid_code_mask
from planport.engine.reader import Source, iter_batches, physical_lines
from planport.engine.staging import ROW, SEQ, Staging
from planport.engine.unchanged import NotInKeyOrder, UnchangedFilter
from planport.engine.writers import (
    DirectLoad,
    Plan,
    Reference,
    RepeatedKeys,
    loads_directly,
    merge,
    plan_for,
)
from planport.store import block_tables

TYPE_ROWS = 200_000  # rows typed and handed to the load at a time (see _Run._stream)


class ImportFailed(Exception):
    """The run cannot complete (threshold passed, data in the way); nothing is written."""

    def __init__(
        self, name: RunErrorName, message: str, result: ImportResult | None = None
    ) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        # What the run found before it was refused (rejected rows stay worth reporting).
        self.result = result


@dataclass
class ImportResult:
    summary: ImportSummary
    rejected_rows: list[RejectedRow]
    preview: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Target:
    """A mapped target, resolved against the block: its staging column and how to type it."""

    field: FieldMapping
    column: str  # staging column name
    kind: PropertyType  # the type of the value (dimension: item ids)
    label: str  # for messages: "Country", "Price"…
    list_id: uuid.UUID | None = None  # dimension targets: the Dimension List


def import_file(
    connection: Connection,
    block: BlockDef,
    lists: dict[uuid.UUID, BlockDef],
    source: Source,
    mapping: Mapping,
    *,
    started_at: datetime,
    row_limit: int | None = None,
    preview_rows: int = 0,
    on_progress: Callable[[int], None] | None = None,
    references: list[Reference] | None = None,
) -> ImportResult:
    """Import `source` into `block` through `mapping`; returns the summary and rejected rows.

    `lists` holds every Dimension List the mapping resolves items in. Raises ImportFailed when
    the run must not land (the caller rolls back).

    A real run into an empty Metric on PostgreSQL first loads the file directly into the block's
    table, in a savepoint; should the file repeat a cell, that is rolled back (items it created
    included) and the file is read again through staging, which reports the overwritten rows.
    `on_progress` then counts from zero again.
    """
    run = _Run(
        connection, block, lists, source, mapping, started_at, row_limit, on_progress, references
    )
    whole = preview_rows == 0 and row_limit is None
    if whole and loads_directly(connection, block):
        try:
            with connection.begin_nested():
                return run.once(preview_rows, direct=True)
        except RepeatedKeys:
            source.invalid_rows.clear()  # the second pass finds them again
    elif whole and run.may_skip_unchanged():
        try:
            with connection.begin_nested():
                return run.once(preview_rows, direct=False, skip_unchanged=True)
        except NotInKeyOrder:
            source.invalid_rows.clear()
    return run.once(preview_rows, direct=False)


@dataclass(frozen=True, slots=True)
class _Run:
    """What one import reads from and writes to; `once` makes one pass over the file."""

    connection: Connection
    block: BlockDef
    lists: dict[uuid.UUID, BlockDef]
    source: Source
    mapping: Mapping
    started_at: datetime
    row_limit: int | None
    on_progress: Callable[[int], None] | None
    references: list[Reference] | None

    def once(
        self, preview_rows: int, *, direct: bool, skip_unchanged: bool = False
    ) -> ImportResult:
        """Read, type and load the file, merge or finish the direct load, and summarise.
        Raises RepeatedKeys (direct only), NotInKeyOrder (skip_unchanged only) and
        ImportFailed."""
        connection, block, mapping, source = self.connection, self.block, self.mapping, self.source
        targets, plan = self._plan()
        pivot = _Pivot.build(block, mapping, self.lists, connection) if mapping.pivot else None
        log, summary = RejectLog(), ImportSummary()
        columns = _staging_columns(block, targets, pivot)
        with Staging(connection, columns, plan.key) as staging:
            indexes = {
                t.list_id: ItemIndex(
                    connection, self.lists[t.list_id], t.field.match_by, before_write=staging.wait
                )
                for t in targets
                if t.list_id is not None
            }
            load = DirectLoad(connection, block, plan, staging) if direct else None
            unchanged = (
                UnchangedFilter(connection, block, plan, staging) if skip_unchanged else None
            )
            sink = load.append if load else unchanged.append if unchanged else staging.append
            self._stream(targets, indexes, pivot, sink, log, summary)
            preview = _preview(connection, staging, preview_rows)
            summary.rows_read += len(source.invalid_rows)
            self._write(staging, load, plan, summary, log)
            if unchanged is not None:
                summary.updated += unchanged.unchanged
            for list_id, index in indexes.items():
                _record_created(summary, self.lists[list_id].name, index.created)
            if pivot is not None:
                _record_created(summary, pivot.index.list.name, pivot.index.created)
            rows = _finish_log(source, log, summary)
            staging.drop()
        result = ImportResult(summary, rows, preview)
        _check_threshold(result, mapping)
        return result

    def may_skip_unchanged(self) -> bool:
        """Whether a re-import may leave out rows that change nothing (`engine/unchanged`)."""
        plan = self._plan()[1]
        return unchanged_rows.applies(self.connection, self.block, plan, self.mapping.options)

    def _plan(self) -> tuple[list[_Target], Plan]:
        """The mapped targets and how their staging columns land in the block."""
        mapping = self.mapping
        targets = _targets(self.block, mapping, self.lists)
        pivot_plan = (_Pivot.ITEM, mapping.pivot.dimension) if mapping.pivot else None
        plan = plan_for(
            self.block, {t.column: t.field.target for t in targets}, pivot_plan, mapping.options
        )
        return targets, plan

    def _write(
        self,
        staging: Staging,
        load: DirectLoad | None,
        plan: Plan,
        summary: ImportSummary,
        log: RejectLog,
    ) -> None:
        """Finish the direct load (raises RepeatedKeys) or merge the staged rows."""
        if load is not None:
            load.finish(summary)
            return
        options, references = self.mapping.options, self.references or []
        merge(self.connection, self.block, staging, plan, options, summary, log, references)

    def _stream(
        self,
        targets: list[_Target],
        indexes: dict[uuid.UUID, ItemIndex],
        pivot: _Pivot | None,
        sink: Callable[[pa.Table], None],
        log: RejectLog,
        summary: ImportSummary,
    ) -> None:
        """Type every batch of the file and hand it to `sink` (the direct load, staging, or
        the filter of unchanged rows).

        A parsed batch is typed and handed on in slices of TYPE_ROWS: the COPY of the first
        slice starts while the next is typed, so the load neither waits for a whole batch to
        be typed at the start nor for a whole batch to be copied at the end.
        """
        source, row_limit = self.source, self.row_limit
        wanted = _wanted_columns(source, self.mapping)
        for parsed in iter_batches(source, include=wanted):
            for start in range(0, parsed.num_rows, TYPE_ROWS):
                if row_limit is not None and summary.rows_read >= row_limit:
                    return
                source.check_limit()
                batch = parsed.slice(start, TYPE_ROWS)
                if row_limit is not None:
                    batch = batch.slice(0, row_limit - summary.rows_read)
                self._type_and_load(batch, targets, indexes, pivot, sink, log, summary)

    def _type_and_load(
        self,
        batch: pa.RecordBatch,
        targets: list[_Target],
        indexes: dict[uuid.UUID, ItemIndex],
        pivot: _Pivot | None,
        sink: Callable[[pa.Table], None],
        log: RejectLog,
        summary: ImportSummary,
    ) -> None:
        source = self.source
        columns = {
            source.columns[int(name)]: column
            for name, column in zip(batch.schema.names, batch.columns, strict=True)
        }
        typed = _type_batch(
            columns,
            batch.num_rows,
            summary.rows_read,
            targets,
            indexes,
            pivot,
            log,
            self.mapping.options.blanks_overwrite,
            self.started_at,
            source.settings,
            self.block,
        )
        sink(typed)
        summary.rows_read += batch.num_rows
        if self.on_progress:
            self.on_progress(summary.rows_read)


def _finish_log(source: Source, log: RejectLog, summary: ImportSummary) -> list[RejectedRow]:
    """Number the rejected rows by physical line and add the ragged ones; the rejected rows."""
    texts: dict[int, str] = {}
    lines = physical_lines(source, log.indexes(), texts)  # also numbers the ragged rows
    for invalid in source.invalid_rows:
        log.add_lines(
            Reason.PARSING_ERROR,
            "(row)",
            f"The row has {invalid.fields} fields; the header has {invalid.expected}.",
            [invalid.line or 0],
            [invalid.text],
        )
    return log.finish(
        summary,
        lambda index: lines.get(index, source.first_data_line + index),
        lambda index: texts.get(index, ""),
    )


# ---------------------------------------------------------------- targets


def _targets(block: BlockDef, mapping: Mapping, lists: dict[uuid.UUID, BlockDef]) -> list[_Target]:
    targets = []
    for position, field_mapping in enumerate(mapping.fields):
        column = f"t{position}"
        key = field_mapping.target
        if key == CODE:
            targets.append(_Target(field_mapping, column, PropertyType.TEXT, "Code"))
        elif key == NAME:
            targets.append(_Target(field_mapping, column, PropertyType.TEXT, "Name"))
        elif key == VALUE:
            assert block.value_type is not None
            targets.append(
                _Target(field_mapping, column, block.value_type.as_property_type, block.name)
            )
        elif block.kind is BlockKind.METRIC:
            dim = block.dimension(uuid.UUID(key))
            targets.append(
                _Target(field_mapping, column, PropertyType.DIMENSION, dim.list_name, dim.list_id)
            )
        else:
            prop = block.property(uuid.UUID(key))
            targets.append(
                _Target(field_mapping, column, prop.type, prop.name, prop.referenced_block_id)
            )
    return targets


def _staging_columns(
    block: BlockDef, targets: list[_Target], pivot: _Pivot | None
) -> list[tuple[str, TypeEngine[Any]]]:
    columns: list[tuple[str, TypeEngine[Any]]] = [
        (
            t.column,
            BigInteger() if t.kind is PropertyType.DIMENSION else block_tables.sql_type(t.kind),
        )
        for t in targets
    ]
    if pivot is not None:
        assert block.value_type is not None
        columns += [
            (_Pivot.ITEM, BigInteger()),
            (_Pivot.VALUE, block_tables.sql_type(block.value_type.as_property_type)),
        ]
    return columns


def _wanted_columns(source: Source, mapping: Mapping) -> list[int]:
    names = {f.source.column for f in mapping.fields if f.source.column is not None}
    if mapping.pivot is not None:
        names |= set(mapping.pivot.columns)
    return sorted(source.columns.index(n) for n in names)


# ---------------------------------------------------------------- typing one batch


def _type_batch(
    columns: dict[str, pa.Array],
    length: int,
    first_index: int,
    targets: list[_Target],
    indexes: dict[uuid.UUID, ItemIndex],
    pivot: _Pivot | None,
    log: RejectLog,
    blanks_overwrite: bool,
    started_at: datetime,
    settings: FileSettings,
    block: BlockDef,
) -> pa.Table:
    row_index = pa.array(range(first_index, first_index + length), pa.int64())
    keep = parsers.constant(True, length)
    typed: dict[str, pa.Array] = {}
    for target in targets:
        text = _source_text(target.field, columns, length, started_at, target.kind)
        values, ok = _type_target(target, text, row_index, indexes, log, settings, block)
        typed[target.column] = values
        keep = pc.and_(keep, ok)
    if pivot is not None:
        return pivot.unpivot(columns, typed, keep, row_index, log, settings, blanks_overwrite)
    value = next((t.column for t in targets if t.field.target == VALUE), None)
    if value is not None and not blanks_overwrite:
        keep = pc.and_(keep, pc.is_valid(typed[value]))
    table = pa.table({SEQ: row_index, ROW: row_index, **typed})
    return table.filter(keep)


def _source_text(
    field: FieldMapping,
    columns: dict[str, pa.Array],
    length: int,
    started_at: datetime,
    kind: PropertyType,
) -> pa.Array:
    """A column's text, or a virtual column: a constant, or the run's start (its day for a
    date target, the ISO instant otherwise)."""
    source = field.source
    if source.column is not None:
        return columns[source.column]
    if source.load_timestamp:
        stamp = started_at.date() if kind is PropertyType.DATE else started_at
        constant = stamp.isoformat()
    else:
        constant = source.constant or ""
    return pc.fill_null(pa.nulls(length, pa.string()), constant)


def _type_target(
    target: _Target,
    text: pa.Array,
    row_index: pa.Array,
    indexes: dict[uuid.UUID, ItemIndex],
    log: RejectLog,
    settings: FileSettings,
    block: BlockDef,
) -> tuple[pa.Array, pa.BooleanArray]:
    """(typed values, rows to keep) for one target; rejects are logged."""
    column = target.field.source.label
    if target.kind is PropertyType.DIMENSION:
        assert target.list_id is not None
        return _resolve(target, text, row_index, indexes[target.list_id], log, block)
    if target.field.target == CODE:
        return _codes(text, row_index, log, column)
    parsed = _parse(target.kind, text, column, settings)
    _log_mask(
        log,
        Reason.PARSING_ERROR,
        column,
        f"The value is not a valid {target.kind.label.lower()}.",
        parsed.failed,
        row_index,
        text,
    )
    return parsed.values, pc.invert(parsed.failed)


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
    _log_mask(log, Reason.PARSING_ERROR, column, "The item code is empty.", blank, row_index, text)
    invalid = pc.and_(pc.invert(blank), pc.invert(valid_code_mask(codes)))
    _log_mask(
        log,
        Reason.PARSING_ERROR,
        column,
        "The item code is too long or has control characters.",
        invalid,
        row_index,
        text,
    )
    return codes, pc.invert(pc.or_(blank, invalid))


def _resolve(
    target: _Target,
    text: pa.Array,
    row_index: pa.Array,
    index: ItemIndex,
    log: RejectLog,
    block: BlockDef,
) -> tuple[pa.Array, pa.BooleanArray]:
    """Item ids for a column of codes or names, resolved once per distinct text.

    A dimension column repeats few texts (months, countries…) over many rows: trimming, matching
    and look-ups run on its dictionary of distinct texts, and one `take` spreads the results
    back to the rows.
    """
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
    unknown = _spread(unknown_words, positions)
    keep = parsers.constant(True, len(text))
    matched = "coded" if target.field.match_by is MatchBy.CODE else "named"
    what = f"{index.list.name} has no item {matched} like this."
    if policy is UnknownItems.BLANK:
        _log_mask(
            log,
            Reason.MISSING_ITEM_BLANKED,
            column,
            what + " The value was left blank.",
            unknown,
            row_index,
            text,
        )
    else:
        _log_mask(
            log,
            Reason.MISSING_ITEM_SKIPPED,
            column,
            what + " The row was skipped.",
            unknown,
            row_index,
            text,
        )
        keep = pc.invert(unknown)
    if block.kind is BlockKind.METRIC:
        blank = _spread(blank_words, positions)
        _log_mask(
            log,
            Reason.PARSING_ERROR,
            column,
            f"No {index.list.name} item is given.",
            blank,
            row_index,
            text,
        )
        keep = pc.and_(keep, pc.invert(blank))
    return ids, keep


def _spread(word_mask: pa.BooleanArray, positions: pa.Array) -> pa.BooleanArray:
    """A mask over distinct texts, as a mask over the rows (all false without a lookup when no
    text is marked: the usual case)."""
    if not pc.any(word_mask).as_py():
        return parsers.constant(False, len(positions))
    return pc.fill_null(pc.take(word_mask, positions), False)


def _log_mask(
    log: RejectLog,
    reason: Reason,
    column: str,
    description: str,
    mask: pa.Array,
    row_index: pa.Array,
    text: pa.Array,
    *,
    whole_row: bool = True,
) -> None:
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return
    log.add(
        reason,
        column,
        description,
        pc.filter(row_index, mask).to_pylist(),
        pc.filter(text, mask).to_pylist(),
        whole_row=whole_row,
    )


# ---------------------------------------------------------------- pivoted files


class _Pivot:
    """A pivoted Metric file: each pivot column's header is an item; each cell a metric cell."""

    ITEM, VALUE = "pivot_item", "pivot_value"

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
        block: BlockDef,
        mapping: Mapping,
        lists: dict[uuid.UUID, BlockDef],
        connection: Connection,
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
        typed: dict[str, pa.Array],
        keep: pa.BooleanArray,
        row_index: pa.Array,
        log: RejectLog,
        settings: FileSettings,
        blanks_overwrite: bool,
    ) -> pa.Table:
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
                    lost,
                    row_index,
                    text,
                    whole_row=False,
                )
                lost_cells = pc.add(lost_cells, pc.cast(lost, pa.int64()))
                continue
            parsed = _parse(self.value_kind, text, name, settings)
            lost = pc.fill_null(pc.and_(keep, parsed.failed), False)
            _log_mask(
                log,
                Reason.PARSING_ERROR,
                name,
                f"The value is not a valid {self.value_kind.label.lower()}.",
                lost,
                row_index,
                text,
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
                    **typed,
                    self.ITEM: pc.fill_null(pa.nulls(len(text), pa.int64()), item_id),
                    self.VALUE: parsed.values,
                }
            )
            parts.append(part.filter(cell_keep))
            kept_cells = pc.add(kept_cells, pc.cast(pc.fill_null(cell_keep, False), pa.int64()))
        # A row is skipped when it lost cells and kept none.
        emptied = pc.and_(pc.greater(lost_cells, 0), pc.equal(kept_cells, 0))
        log.skip_rows(pc.filter(row_index, emptied).to_pylist())
        return pa.concat_tables(parts) if parts else _empty_like(typed, self)


def _empty_like(typed: dict[str, pa.Array], pivot: _Pivot) -> pa.Table:
    return pa.table(
        {
            SEQ: pa.array([], pa.int64()),
            ROW: pa.array([], pa.int64()),
            **{k: v.slice(0, 0) for k, v in typed.items()},
            pivot.ITEM: pa.array([], pa.int64()),
            pivot.VALUE: pa.array([], pa.float64()),
        }
    )


# ---------------------------------------------------------------- finishing


def _preview(connection: Connection, staging: Staging, limit: int) -> list[dict[str, Any]]:
    if limit <= 0:
        return []
    staging.wait()
    rows = (
        connection.execute(staging.table.select().order_by(staging.table.c.seq).limit(limit))
        .mappings()
        .all()
    )
    return [dict(row) for row in rows]


def _record_created(summary: ImportSummary, list_name: str, codes: list[str]) -> None:
    if codes:
        summary.items_created_count[list_name] = summary.items_created_count.get(
            list_name, 0
        ) + len(codes)
        summary.items_created.setdefault(list_name, []).extend(codes[:20])


def _check_threshold(result: ImportResult, mapping: Mapping) -> None:
    """Refuse the run when more rows were skipped than the mapping allows. The refusal carries
    the result with its write counts zeroed: the caller rolls back, so nothing landed."""
    summary = result.summary
    threshold = mapping.options.reject_threshold_percent
    total = summary.rows_read
    if threshold is None or total == 0:
        return
    share = 100 * summary.skipped / max(total, 1)
    if share > threshold:
        raise ImportFailed(
            RunErrorName.REJECT_THRESHOLD_EXCEEDED,
            f"{summary.skipped:,} of {total:,} rows ({share:.1f} %) were skipped, more than the "
            f"{threshold:g} % this import allows. Nothing was imported.",
            _nothing_landed(result),
        )


def _nothing_landed(result: ImportResult) -> ImportResult:
    summary = result.summary
    summary.inserted = summary.updated = summary.deleted = 0
    summary.items_created, summary.items_created_count = {}, {}
    return result
