"""One import, from file to block: reader → mapper → writers, the path of DESIGN.md.

The reader (`engine/reader.py`) parses the file into Arrow batches, the mapper
(`engine/mapper.py`) types them and resolves items, and the writers (`engine/writers.py`)
stage and merge them in SQL, or load an empty Metric directly.

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
from sqlalchemy import Connection

from planport.domain.blocks import BlockDef
from planport.domain.imports import RunErrorName
from planport.domain.mapping import (
    Mapping,
)
from planport.domain.summary import ImportSummary, Reason, RejectedRow, RejectLog
from planport.engine import unchanged as unchanged_rows
from planport.engine.mapper import PIVOT_ITEM, MappedColumns, Mapper, Pass
from planport.engine.reader import Source, iter_batches, physical_lines
from planport.engine.staging import Staging
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
        columns = MappedColumns.of(block, mapping)
        plan = self._plan(columns)
        log, summary = RejectLog(), ImportSummary()
        with Staging(connection, columns.staging_columns(), plan.key) as staging:
            this_pass = Pass(self.started_at, source.settings, log)
            mapper = Mapper(connection, columns, self.lists, this_pass, before_write=staging.wait)
            load = DirectLoad(connection, block, plan, staging) if direct else None
            unchanged = (
                UnchangedFilter(connection, block, plan, staging) if skip_unchanged else None
            )
            sink = load.append if load else unchanged.append if unchanged else staging.append
            self._stream(mapper, sink, summary)
            preview = _preview(connection, staging, preview_rows)
            summary.rows_read += len(source.invalid_rows)
            self._write(staging, load, plan, summary, log)
            if unchanged is not None:
                summary.updated += unchanged.unchanged
            for list_name, codes in mapper.created():
                _record_created(summary, list_name, codes)
            rows = _finish_log(source, log, summary)
            staging.drop()
        result = ImportResult(summary, rows, preview)
        _check_threshold(result, mapping)
        return result

    def may_skip_unchanged(self) -> bool:
        """Whether a re-import may leave out rows that change nothing (`engine/unchanged`)."""
        plan = self._plan(MappedColumns.of(self.block, self.mapping))
        return unchanged_rows.applies(self.connection, self.block, plan, self.mapping.options)

    def _plan(self, columns: MappedColumns) -> Plan:
        """How the mapped staging columns land in the block."""
        mapping = self.mapping
        pivot_plan = (PIVOT_ITEM, mapping.pivot.dimension) if mapping.pivot else None
        return plan_for(self.block, columns.by_column, pivot_plan, mapping.options)

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
        self, mapper: Mapper, sink: Callable[[pa.Table], None], summary: ImportSummary
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
                self._type_and_load(batch, mapper, sink, summary)

    def _type_and_load(
        self,
        batch: pa.RecordBatch,
        mapper: Mapper,
        sink: Callable[[pa.Table], None],
        summary: ImportSummary,
    ) -> None:
        source = self.source
        columns = {
            source.columns[int(name)]: column
            for name, column in zip(batch.schema.names, batch.columns, strict=True)
        }
        typed = mapper.type(columns, batch.num_rows, summary.rows_read)
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


def _wanted_columns(source: Source, mapping: Mapping) -> list[int]:
    names = {f.source.column for f in mapping.fields if f.source.column is not None}
    if mapping.pivot is not None:
        names |= set(mapping.pivot.columns)
    return sorted(source.columns.index(n) for n in names)


# ---------------------------------------------------------------- typing one batch


# ---------------------------------------------------------------- pivoted files


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
