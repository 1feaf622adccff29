"""A List's or a Metric's data as the Export API streams it: chosen columns under technical or
friendly headers, rows kept by item filters and metric value conditions, values written in
the asked format (see `domain.exports`).

Everything the request names is checked against the block before the first byte is sent, in
one read transaction: the block is readable and of the kind asked for, every column, dimension
and metric named exists, every item code is known (one query per filter, never per row), and
every condition's value fits its metric. Rows then stream from one SELECT in batches
(`csv_files.stream_csv`), as the block page's export does, so memory stays flat.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, false, or_, select, true
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, Permission, PropertyType
from planport.domain.errors import Invalid, NotFound, PermissionDenied
from planport.domain.exports import (
    AllOf,
    AnyOf,
    Comparison,
    DimensionFilter,
    ExportFormat,
    ListExport,
    MetricExport,
    PropertyFilter,
    RowFilter,
    ValueFilter,
    operand,
    technical_names,
)
from planport.domain.members import Actor
from planport.domain.names import name_key
from planport.services.blocks.block_data import (
    ReadColumn,
    export_cells,
    read_columns,
    read_order,
    read_select,
)
from planport.services.blocks.csv_files import spreadsheet_safe, stream_csv
from planport.services.blocks.definitions import load_block, to_def
from planport.store import block_tables
from planport.store.db import Database

MAX_SHOWN = 5  # unknown names or codes quoted in one message


class WrongBlockKind(NotFound):
    """The block exists and may be read, but is not of the kind the export is for."""

    def __init__(self, block: BlockDef) -> None:
        super().__init__(f"{block.name!r} is a {block.kind.label}.")
        self.kind = block.kind


@dataclass(frozen=True, slots=True)
class BlockExport:
    """An export ready to stream: the block's name (for the file's name) and the CSV text."""

    block_name: str
    chunks: Iterator[str]


@dataclass(frozen=True, slots=True)
class _Column:
    read: ReadColumn
    technical_name: str

    def header(self, export_format: ExportFormat) -> str:
        shown = self.read.grid.label if export_format.friendly_headers else self.technical_name
        return spreadsheet_safe(shown)


def export_list(db: Database, actor: Actor, list_id: uuid.UUID, request: ListExport) -> BlockExport:
    """A Dimension or Transaction List's export. Raises NotFound (unknown, or the actor may not
    read it), WrongBlockKind (a Metric) or Invalid (an option that does not fit the list)."""
    with db.read() as session:
        block = _readable(session, actor, list_id)
        if not block.kind.is_list:
            raise WrongBlockKind(block)
        table = block_tables.build_table(block)
        columns = _named_columns(block, table)
        chosen = _chosen(block, columns, request.properties)
        conditions = _list_conditions(session, block, table, columns, request)
    statement = read_select(table, [c.read for c in chosen]).where(*conditions)
    return _export(db, block, chosen, statement.order_by(*read_order(block, table)), request)


def export_metric(
    db: Database, actor: Actor, metric_id: uuid.UUID, request: MetricExport
) -> BlockExport:
    """A Metric's export: one column per dimension (item codes), then the value. Raises
    NotFound, WrongBlockKind (a List) or Invalid (a filter that does not fit the metric)."""
    with db.read() as session:
        block = _readable(session, actor, metric_id)
        if block.kind is not BlockKind.METRIC:
            raise WrongBlockKind(block)
        table = block_tables.build_table(block)
        columns = _named_columns(block, table)
        where = _RowFilters(session, actor, block, table, db.engine.dialect.name)
        condition = where.sql(request.filter) if request.filter is not None else true()
    statement = read_select(table, [c.read for c in columns]).where(condition)
    return _export(db, block, columns, statement.order_by(*read_order(block, table)), request)


def _readable(session: Session, actor: Actor, block_id: uuid.UUID) -> BlockDef:
    """The block, if the actor may read it; a block they may not read is unknown to them."""
    try:
        return to_def(load_block(session, actor, block_id, Permission.READ))
    except PermissionDenied:
        raise NotFound("This block does not exist.") from None


def _named_columns(block: BlockDef, table: Table) -> list[_Column]:
    """The block's columns with their technical names, computed over all of them so that a
    column's name never depends on which others an export chooses."""
    read = read_columns(block, table)
    names = technical_names([c.grid.label for c in read])
    return [_Column(c, name) for c, name in zip(read, names, strict=True)]


def _export(
    db: Database,
    block: BlockDef,
    columns: Sequence[_Column],
    statement: Any,
    request: ListExport | MetricExport,
) -> BlockExport:
    export_format = request.format
    kinds = [c.read.grid.kind for c in columns]
    with_time = block.kind is BlockKind.METRIC

    def text_of(kind: PropertyType, value: Any) -> str:
        return export_format.text_of(kind, value, dates_with_time=with_time)

    chunks = stream_csv(
        db,
        [c.header(export_format) for c in columns],
        statement,
        lambda row: export_cells(kinds, row, text_of),
        delimiter=export_format.field_delimiter.char,
        bom=export_format.bom,
    )
    return BlockExport(block.name, chunks)


# ---------------------------------------------------------------- Lists


def _chosen(block: BlockDef, columns: list[_Column], wanted: Sequence[str] | None) -> list[_Column]:
    """The columns asked for, in that order; without a choice, all, by technical name."""
    if not wanted:
        return sorted(columns, key=lambda c: (name_key(c.technical_name), c.technical_name))
    by_name = {name_key(c.technical_name): c for c in columns}
    unknown = [name for name in wanted if name_key(name) not in by_name]
    if unknown:
        raise Invalid(
            f"propertyTechnicalNames: {block.name!r} has no property {_quoted(unknown)}; its "
            f"technical names are {', '.join(c.technical_name for c in columns)}.",
            field="propertyTechnicalNames",
        )
    keys = [name_key(name) for name in wanted]
    twice = sorted({name for name, key in zip(wanted, keys, strict=True) if keys.count(key) > 1})
    if twice:
        raise Invalid(
            f"propertyTechnicalNames names {_quoted(twice)} more than once.",
            field="propertyTechnicalNames",
        )
    return [by_name[key] for key in keys]


def _list_conditions(
    session: Session,
    block: BlockDef,
    table: Table,
    columns: list[_Column],
    request: ListExport,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if request.items:
        if block.kind is not BlockKind.DIMENSION_LIST:
            raise Invalid(
                f"listFilter: {block.name!r} is a Transaction List, whose rows have no item "
                "codes; filter its dimension properties with propertyFilters instead.",
                field="listFilter",
            )
        ids = _item_ids(session, block.table_name, block.name, request.items, "listFilter")
        conditions.append(table.c.id.in_(ids))
    for wanted in request.property_filters:
        conditions += _property_condition(session, block, columns, wanted)
    return conditions


def _property_condition(
    session: Session, block: BlockDef, columns: list[_Column], wanted: PropertyFilter
) -> list[ColumnElement[bool]]:
    where = f"{wanted.where}.propertyTechnicalName"
    found = [c for c in columns if name_key(c.technical_name) == name_key(wanted.technical_name)]
    if not found:
        raise Invalid(
            f"{where}: {block.name!r} has no property {wanted.technical_name!r}; its technical "
            f"names are {', '.join(c.technical_name for c in columns)}.",
            field=where,
        )
    column = found[0].read
    if column.items is None:
        raise Invalid(
            f"{where}: {found[0].technical_name!r} is a {column.grid.kind.label} property; only "
            "Dimension properties are filtered by items (listFilter filters a list's own items).",
            field=where,
        )
    if not wanted.codes:
        return []
    prop = block.property(uuid.UUID(column.grid.key))
    assert prop.referenced_table_name is not None
    assert prop.referenced_block_name is not None
    where = f"{wanted.where}.modalityIds"
    ids = _item_ids(
        session, prop.referenced_table_name, prop.referenced_block_name, wanted.codes, where
    )
    return [column.stored.in_(ids)]


# ---------------------------------------------------------------- Metrics


class _RowFilters:
    """A Metric export's filter tree as one SQL condition, checked against the metric."""

    def __init__(
        self, session: Session, actor: Actor, block: BlockDef, table: Table, dialect: str
    ) -> None:
        self.session = session
        self.actor = actor
        self.block = block
        self.table = table
        self.dialect = dialect

    def sql(self, node: RowFilter) -> ColumnElement[bool]:
        if isinstance(node, AllOf):
            return and_(true(), *(self.sql(part) for part in node.parts))
        if isinstance(node, AnyOf):
            return or_(false(), *(self.sql(part) for part in node.parts))
        if isinstance(node, DimensionFilter):
            return self._dimension(node)
        return self._value(node)

    def _dimension(self, node: DimensionFilter) -> ColumnElement[bool]:
        by_list = {d.list_id: d for d in self.block.dimensions}
        dimension = by_list.get(node.list_id)
        if dimension is None:
            raise Invalid(
                f"{node.where}.dimensionId: {node.list_id} is not a dimension of "
                f"{self.block.name!r}; its dimensions are {self._dimensions_shown()}.",
                field=f"{node.where}.dimensionId",
            )
        if not node.codes:
            return true()
        where = f"{node.where}.modalityIds"
        ids = _item_ids(
            self.session, dimension.list_table_name, dimension.list_name, node.codes, where
        )
        return self.table.c[dimension.column_name].in_(ids)

    def _dimensions_shown(self) -> str:
        return ", ".join(f"{d.list_name!r} ({d.list_id})" for d in self.block.dimensions)

    def _value(self, node: ValueFilter) -> ColumnElement[bool]:
        metric, values = self._values_of(node)
        assert metric.value_type is not None
        compared = operand(metric.value_type, node, metric.name)
        is_text = metric.value_type.as_property_type is PropertyType.TEXT
        if node.comparison is Comparison.IS_NOT_BLANK:
            present = values.is_not(None)
            return and_(present, values != "") if is_text else present
        if is_text and node.comparison.orders and self.dialect == "postgresql":
            # Text is ordered by code point on both databases: SQLite's default (BINARY)
            # does so, PostgreSQL's database collation may not.
            values = values.collate("C")
        return _COMPARE[node.comparison](values, compared)

    def _values_of(self, node: ValueFilter) -> tuple[BlockDef, Any]:
        """The metric a condition names and the expression of its value at each row's items."""
        if node.metric_id == self.block.id:
            return self.block, self.table.c.value
        where = f"{node.where}.metricId"
        try:
            metric = _readable(self.session, self.actor, node.metric_id)
        except NotFound:
            raise Invalid(
                f"{where}: no Metric with the ID {node.metric_id}.", field=where
            ) from None
        if metric.kind is not BlockKind.METRIC:
            raise Invalid(
                f"{where}: {metric.name!r} is a {metric.kind.label}, not a Metric.", field=where
            )
        mine = {d.list_id: d for d in self.block.dimensions}
        missing = [d.list_name for d in metric.dimensions if d.list_id not in mine]
        if missing:
            raise Invalid(
                f"{where}: {metric.name!r} is dimensioned by {_quoted(missing)}, which "
                f"{self.block.name!r} is not; a condition may use a Metric whose dimensions "
                f"are all dimensions of {self.block.name!r}.",
                field=where,
            )
        other = block_tables.build_table(metric)
        # One cell at most: the other metric's dimensions are its primary key.
        lookup = (
            select(other.c.value)
            .where(
                *(
                    other.c[d.column_name] == self.table.c[mine[d.list_id].column_name]
                    for d in metric.dimensions
                )
            )
            .correlate(self.table)
            .scalar_subquery()
        )
        return metric, lookup


_COMPARE: dict[Comparison, Callable[[Any, Any], ColumnElement[bool]]] = {
    Comparison.LESS_THAN: lambda column, value: column < value,
    Comparison.LESS_THAN_OR_EQUAL: lambda column, value: column <= value,
    Comparison.EQUAL: lambda column, value: column == value,
    Comparison.NOT_EQUAL: lambda column, value: column != value,
    Comparison.GREATER_THAN: lambda column, value: column > value,
    Comparison.GREATER_THAN_OR_EQUAL: lambda column, value: column >= value,
}


# ---------------------------------------------------------------- items


def _item_ids(
    session: Session, table_name: str, list_name: str, codes: Sequence[str], where: str
) -> list[int]:
    """The ids of a Dimension List's items by code, in one query. Raises Invalid naming
    `where` and the codes no item has."""
    items = block_tables.item_codes_table(table_name, "wanted")
    statement = select(items.c.code, items.c.id).where(items.c.code.in_(codes))
    found: dict[str, int] = {row.code: row.id for row in session.execute(statement)}
    unknown = [code for code in dict.fromkeys(codes) if code not in found]
    if unknown:
        raise Invalid(
            f"{where}: {list_name!r} has no item with the code {_quoted(unknown)}.", field=where
        )
    return list(found.values())


def _quoted(values: Sequence[str]) -> str:
    shown = ", ".join(repr(value) for value in values[:MAX_SHOWN])
    more = len(values) - MAX_SHOWN
    return f"{shown} (and {more} more)" if more > 0 else shown
