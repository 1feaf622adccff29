"""Moving existing block data through a change of definition: retyping a property or a
metric's values, adding or removing a metric dimension.

Data is read in bounded chunks by key (keyset pagination, never the whole table in memory),
converted as plain values, and written back with one `executemany` per chunk. Every problem
is collected first and reported together (with samples), so a refused change names the values
that block it; the caller's transaction then rolls back and nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef, PropertyDef
from planport.domain.enums import BlockKind, PropertyType
from planport.domain.errors import Conflict, Invalid
from planport.domain.values import conversion_is_possible, convert_value, format_value
from planport.services.blocks.definitions import to_def
from planport.store import block_tables
from planport.store.models import Block

CHUNK_ROWS = 5000
MAX_SAMPLES = 5


@dataclass
class _Problems:
    """Values that cannot be converted: a count and the first few, described for people."""

    count: int = 0
    samples: list[str] | None = None

    def add(self, where: str, value: Any, reason: str) -> None:
        self.count += 1
        self.samples = self.samples or []
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(f"{value!r} ({where}: {reason})")

    def raise_if_any(self, what: str) -> None:
        if self.count:
            shown = "; ".join(self.samples or [])
            more = f" and {self.count - MAX_SAMPLES} more" if self.count > MAX_SAMPLES else ""
            raise Conflict(
                f"{what}: {self.count} value(s) cannot be converted, e.g. {shown}{more}."
            )


def iter_chunks(
    session: Session, query_columns: Sequence[Any], key: Sequence[Column[Any]], source: Any
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """Rows of `source` ordered by `key`, CHUNK_ROWS at a time, by keyset pagination.

    The key columns must come first in `query_columns`.
    """
    last: tuple[Any, ...] | None = None
    while True:
        query = select(*query_columns).select_from(source).order_by(*key).limit(CHUNK_ROWS)
        if last is not None:
            query = query.where(tuple_(*key) > tuple_(*last))
        rows = session.execute(query).all()
        if not rows:
            return
        yield [tuple(row) for row in rows]
        last = tuple(rows[-1][: len(key)])


def convert_column(
    session: Session,
    block: BlockDef,
    *,
    source: PropertyDef,
    target_kind: PropertyType,
    target_reference: BlockDef | None,
    new_column: str,
) -> None:
    """Fill `new_column` (created here) with `source`'s values converted to `target_kind`, then
    drop the source column. Raises Conflict naming values that cannot be converted."""
    source_kind = source.type
    if not conversion_is_possible(source_kind, target_kind):
        raise Invalid(
            f"{source_kind.label} values cannot become {target_kind.label}. "
            "Change the property to Text first, or remove it and add a new one.",
            field="type",
        )
    connection = session.connection()
    block_tables.add_column(connection, block.table_name, new_column, target_kind)
    table = block_tables.build_table(block)
    target = Table(block.table_name, table.metadata, Column(new_column), extend_existing=True)
    # Rows are named for people: Dimension List items by code, Transaction List rows by id.
    label_col = table.c.code if block.kind is BlockKind.DIMENSION_LIST else table.c.id
    where = "item" if block.kind is BlockKind.DIMENSION_LIST else "row"
    value_col, joined = _readable_values(table, source)
    problems = _Problems()
    statement = (
        update(target)
        .where(target.c.id == bindparam("_id"))
        .values({new_column: bindparam("_value")})
    )
    for rows in iter_chunks(session, [table.c.id, label_col, value_col], [table.c.id], joined):
        converted = _convert_rows(rows, source_kind, target_kind, problems, where)
        if target_reference is not None:
            converted = _resolve_codes(session, target_reference, converted, problems, where)
        if converted and not problems.count:
            session.execute(statement, [{"_id": i, "_value": v} for i, _, v in converted])
    problems.raise_if_any(f"Property {source.name!r} cannot become {target_kind.label}")
    block_tables.drop_column(connection, block.table_name, source.column_name)


def _readable_values(table: Table, source: PropertyDef) -> tuple[Any, Any]:
    """The column to read the source values from: item codes for a dimension property."""
    column = table.c[source.column_name]
    if source.type is not PropertyType.DIMENSION:
        return column, table
    assert source.referenced_table_name is not None
    referenced = block_tables.item_codes_table(source.referenced_table_name, "referenced")
    return referenced.c.code, table.outerjoin(referenced, referenced.c.id == column)


def _convert_rows(
    rows: Sequence[tuple[Any, ...]],
    source_kind: PropertyType,
    target_kind: PropertyType,
    problems: _Problems,
    where: str,
) -> list[tuple[Any, Any, Any]]:
    """(row id, label, converted value) for the non-blank values of a chunk; problems recorded."""
    converted: list[tuple[Any, Any, Any]] = []
    reading_kind = PropertyType.TEXT if source_kind is PropertyType.DIMENSION else source_kind
    for row_id, label, value in rows:
        if value is None:
            continue
        try:
            converted.append((row_id, label, convert_value(reading_kind, target_kind, value)))
        except ValueError as error:
            problems.add(f"{where} {label}", format_value(reading_kind, value), str(error))
    return converted


def _resolve_codes(
    session: Session,
    reference: BlockDef,
    converted: list[tuple[Any, Any, Any]],
    problems: _Problems,
    where: str,
) -> list[tuple[Any, Any, Any]]:
    """Turn item codes into item ids of `reference`; unknown codes are problems."""
    table = block_tables.build_table(reference)
    codes = {code for _, _, code in converted}
    ids = dict(
        session.execute(select(table.c.code, table.c.id).where(table.c.code.in_(codes))).all()
    )
    resolved = []
    for row_id, label, code in converted:
        if code in ids:
            resolved.append((row_id, label, ids[code]))
        else:
            problems.add(f"{where} {label}", code, f"no item of {reference.name} has this code")
    return resolved


@dataclass(frozen=True, slots=True)
class FillItem:
    """For an added dimension: the item (by code) of `list_block` that existing cells move to."""

    column: str
    list_block: Block
    code: str | None


@dataclass(frozen=True, slots=True)
class KeepItem:
    """For a removed dimension: only cells at this item (by code) are kept."""

    column: str
    list_block: Block
    code: str | None


def rebuild_metric_table(
    session: Session,
    old: BlockDef,
    new: BlockDef,
    *,
    fill: FillItem | None = None,
    keep: KeepItem | None = None,
) -> None:
    """Create `new`'s table, copy `old`'s cells into it (moved, filtered or retyped), drop the
    old table. Raises Conflict when cells exist and the change does not say where they go."""
    connection = session.connection()
    old_table = block_tables.build_table(old)
    new_table = block_tables.create_block_table(connection, new)
    cells = session.scalar(select(func.count()).select_from(old_table)) or 0
    if cells:
        if old.value_type is new.value_type:
            _copy_cells(session, old, old_table, new_table, fill, keep)
        else:
            _copy_converted_cells(session, old, new, old_table, new_table)
    block_tables.drop_block_table(connection, old.table_name)


def _copy_cells(
    session: Session,
    old: BlockDef,
    old_table: Table,
    new_table: Table,
    fill: FillItem | None,
    keep: KeepItem | None,
) -> None:
    selected: dict[str, Any] = {
        c.name: old_table.c[c.name] for c in new_table.columns if c.name in old_table.c
    }
    query = select(*selected.values())
    if fill is not None:
        item_id = _item_id(session, fill.list_block, fill.code, old, "the cells belong to")
        selected[fill.column] = item_id
        query = select(*[_literal_or(v) for v in selected.values()])
    if keep is not None:
        item_id = _item_id(session, keep.list_block, keep.code, old, "whose cells to keep")
        query = query.where(old_table.c[keep.column] == item_id)
    session.execute(insert(new_table).from_select(list(selected), query))


def _literal_or(value: Any) -> Any:
    return value if hasattr(value, "table") else literal(value, block_tables.ItemId)


def _item_id(
    session: Session, list_block: Block, code: str | None, old: BlockDef, verb: str
) -> int:
    if not code:
        raise Conflict(
            f"{old.name!r} holds cells. Choose the item of {list_block.name!r} {verb}.",
            field="item",
        )
    table = block_tables.build_table(to_def(list_block))
    item_id = session.scalar(select(table.c.id).where(table.c.code == code.strip()))
    if item_id is None:
        raise Invalid(
            f"{list_block.name!r} has no item with the code {code.strip()!r}.", field="item"
        )
    return int(item_id)


def _copy_converted_cells(
    session: Session, old: BlockDef, new: BlockDef, old_table: Table, new_table: Table
) -> None:
    assert old.value_type is not None
    assert new.value_type is not None
    source, target = old.value_type.as_property_type, new.value_type.as_property_type
    if not conversion_is_possible(source, target):
        raise Invalid(f"{source.label} values cannot become {target.label}.", field="value_type")
    key = [old_table.c[d.column_name] for d in old.dimensions]
    problems = _Problems()
    for rows in iter_chunks(session, [*key, old_table.c.value], key, old_table):
        batch = []
        for row in rows:
            dims, value = row[:-1], row[-1]
            try:
                converted = convert_value(source, target, value)
            except ValueError as error:
                label = _cell_label(session, old, dims) if problems.count < MAX_SAMPLES else ""
                problems.add(f"cell {label}", value, str(error))
                continue
            batch.append({**dict(zip(new_table.c.keys(), dims, strict=False)), "value": converted})
        if batch and not problems.count:
            session.execute(insert(new_table), batch)
    problems.raise_if_any(f"Metric {old.name!r} cannot hold {target.label} values")


def _cell_label(session: Session, metric: BlockDef, item_ids: Sequence[Any]) -> str:
    """A cell named by its item codes, e.g. "2026-01 × FR" (only for the few samples shown)."""
    codes = []
    for dimension, item_id in zip(metric.dimensions, item_ids, strict=True):
        items = block_tables.item_codes_table(dimension.list_table_name, "items")
        codes.append(str(session.scalar(select(items.c.code).where(items.c.id == item_id))))
    return " × ".join(codes)
