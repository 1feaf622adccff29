"""Reading block data: a paged grid with filters on dimension items, and a streamed CSV export.

Dimension values are shown as item codes. Filters name a dimension column (a dimension
property's id, or a metric dimension's list id) and the item codes to keep; a Dimension List
can also be searched by code or name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, Table, func, or_, select
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, Permission, PropertyType
from planport.domain.errors import Invalid
from planport.domain.members import Actor
from planport.domain.values import format_value
from planport.services.blocks.csv_files import spreadsheet_safe, stream_csv
from planport.services.blocks.definitions import load_block, to_def
from planport.store import block_tables
from planport.store.db import Database


@dataclass(frozen=True, slots=True)
class GridColumn:
    key: str
    label: str
    kind: PropertyType
    # For dimension columns: the Dimension List whose items fill it (filters offer its codes).
    list_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class GridPage:
    block: BlockDef
    columns: list[GridColumn]
    rows: list[list[str]]
    total: int
    page: int
    page_size: int
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    search: str = ""

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.page_size + 1

    @property
    def last_row(self) -> int:
        return min(self.total, self.page * self.page_size)


@dataclass(frozen=True, slots=True)
class _Query:
    columns: list[GridColumn]
    select: Select[Any]
    order: list[Any]


def read_page(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    *,
    page: int = 1,
    page_size: int = 100,
    filters: Mapping[str, Sequence[str]] | None = None,
    search: str = "",
) -> GridPage:
    """One page of the block's data (1-based), with the total under the filters.

    Raises NotFound, PermissionDenied (no Read) or Invalid (unknown filter column).
    """
    if page < 1 or page_size < 1:
        raise Invalid("Pages are numbered from 1 and hold at least one row.", field="page")
    with db.read() as session:
        block = to_def(load_block(session, actor, block_id, Permission.READ))
        query = _grid_query(block, filters or {}, search)
        total = session.scalar(select(func.count()).select_from(query.select.subquery())) or 0
        last_page = max(1, -(-total // page_size))
        page = min(page, last_page)
        statement = (
            query.select.order_by(*query.order).limit(page_size).offset((page - 1) * page_size)
        )
        rows = [_format_row(query.columns, row) for row in session.execute(statement)]
    return GridPage(block, query.columns, rows, total, page, page_size, dict(filters or {}), search)


def export_csv(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    *,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> tuple[BlockDef, Iterator[str]]:
    """The block's definition and an iterator of CSV text chunks of its whole data.

    Access is checked now, not when iteration starts. Rows are streamed from the database in
    chunks, so memory stays flat whatever the block's size.
    """
    with db.read() as session:
        block = to_def(load_block(session, actor, block_id, Permission.READ))
        query = _grid_query(block, filters or {}, "")
    return block, _stream_csv(db, query)


def _stream_csv(db: Database, query: _Query) -> Iterator[str]:
    header = [c.label for c in query.columns]
    statement = query.select.order_by(*query.order)
    kinds = [c.kind for c in query.columns]
    return stream_csv(db, header, statement, lambda row: export_cells(kinds, row, format_value))


@dataclass(frozen=True, slots=True)
class ReadColumn:
    """One column of a block as it is read: the grid's column, the expression selected (an
    item's code for a dimension column), the block table's own column (item ids for a
    dimension column) and the aliased item table a dimension column joins for its codes."""

    grid: GridColumn
    shown: Any
    stored: Any
    items: Any = None


def read_columns(block: BlockDef, table: Table) -> list[ReadColumn]:
    """Every column of the block in the grid's order: a Dimension List's code and name, then
    the properties; a Metric's dimensions, then its value (labelled with the metric's name)."""
    if block.kind is BlockKind.METRIC:
        assert block.value_type is not None
        found = [
            _dimension_column(
                str(d.list_id), d.list_name, table.c[d.column_name], d.list_id, d.list_table_name
            )
            for d in block.dimensions
        ]
        value = GridColumn("value", block.name, block.value_type.as_property_type)
        return [*found, ReadColumn(value, table.c.value, table.c.value)]
    found = []
    if block.kind is BlockKind.DIMENSION_LIST:
        found += [
            ReadColumn(GridColumn("code", "Code", PropertyType.TEXT), table.c.code, table.c.code),
            ReadColumn(GridColumn("name", "Name", PropertyType.TEXT), table.c.name, table.c.name),
        ]
    for prop in block.properties:
        column = table.c[prop.column_name]
        if prop.type is PropertyType.DIMENSION:
            assert prop.referenced_table_name
            assert prop.referenced_block_id
            found.append(
                _dimension_column(
                    str(prop.id),
                    prop.name,
                    column,
                    prop.referenced_block_id,
                    prop.referenced_table_name,
                )
            )
        else:
            found.append(ReadColumn(GridColumn(str(prop.id), prop.name, prop.type), column, column))
    return found


def _dimension_column(
    key: str, label: str, column: Any, list_id: uuid.UUID, list_table: str
) -> ReadColumn:
    referenced = _item_table(list_table, key)
    grid = GridColumn(key, label, PropertyType.DIMENSION, list_id)
    return ReadColumn(grid, referenced.c.code, column, referenced)


def read_order(block: BlockDef, table: Table) -> list[Any]:
    """The order rows are read in: a Metric's by its dimensions' items, a List's as added."""
    if block.kind is BlockKind.METRIC:
        return [table.c[d.column_name] for d in block.dimensions]
    return [table.c.id]


def read_select(table: Table, columns: Sequence[ReadColumn]) -> Select[Any]:
    """SELECT of `columns`' shown expressions from the table, joining only the item tables
    those columns need for their codes."""
    source: Any = table
    for column in columns:
        if column.items is not None:
            source = source.outerjoin(column.items, column.items.c.id == column.stored)
    # A Transaction List without properties still has rows (and SQLite refuses SELECT FROM).
    return select(*([c.shown for c in columns] or [table.c.id])).select_from(source)


def export_cells(
    kinds: Sequence[PropertyType], row: Sequence[Any], text_of: Callable[[PropertyType, Any], str]
) -> list[str]:
    """A row as CSV cells: each value rendered by `text_of`, text made spreadsheet-safe (only
    text can be a formula; a negative number stays a number)."""
    cells = []
    for kind, value in zip(kinds, row[: len(kinds)], strict=True):
        text = text_of(kind, value)
        is_text = kind in (PropertyType.TEXT, PropertyType.DIMENSION)
        cells.append(spreadsheet_safe(text) if is_text else text)
    return cells


def _grid_query(block: BlockDef, filters: Mapping[str, Sequence[str]], search: str) -> _Query:
    table = block_tables.build_table(block)
    columns = read_columns(block, table)
    known_filters = {c.grid.key: c.shown for c in columns if c.items is not None}
    conditions: list[Any] = []
    if block.kind is BlockKind.DIMENSION_LIST and search.strip():
        conditions.append(_search_condition(table, search.strip()))
    for key, codes in filters.items():
        if key not in known_filters:
            raise Invalid(
                f"{block.name!r} has no dimension column {key!r} to filter on.", field="filter"
            )
        if codes:
            conditions.append(known_filters[key].in_(list(codes)))
    statement = read_select(table, columns)
    if conditions:
        statement = statement.where(*conditions)
    return _Query([c.grid for c in columns], statement, read_order(block, table))


def _item_table(table_name: str, key: str) -> Any:
    return block_tables.item_codes_table(table_name, f"ref_{key.replace('-', '')[:20]}")


def _format_row(columns: list[GridColumn], row: Sequence[Any]) -> list[str]:
    return [format_value(c.kind, v) for c, v in zip(columns, row[: len(columns)], strict=True)]


def item_choices(
    db: Database, actor: Actor, list_id: uuid.UUID, *, limit: int = 500
) -> list[tuple[str, str]]:
    """(code, name) of a Dimension List's first `limit` items, for pickers and filters."""
    with db.read() as session:
        block = to_def(load_block(session, actor, list_id, Permission.READ))
        return _choices(session, block, limit)


def _choices(session: Session, block: BlockDef, limit: int) -> list[tuple[str, str]]:
    if block.kind is not BlockKind.DIMENSION_LIST:
        raise Invalid(f"{block.name!r} is not a Dimension List.")
    table = block_tables.build_table(block)
    rows = session.execute(select(table.c.code, table.c.name).order_by(table.c.id).limit(limit))
    return [(code, name or "") for code, name in rows]


def _search_condition(table: Table, search: str) -> Any:
    """Code or name contains `search`; % and _ typed by the user are literal characters."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(
        table.c.code.ilike(pattern, escape="\\"),
        table.c.name.ilike(pattern, escape="\\"),
    )
