"""Writing block data by hand or from code: items of Lists and cells of Metrics.

Values arrive as text keyed by column label (a property's name, "Code"/"Name" for Dimension
List items, a dimension list's name and "Value" for metric cells) and are parsed and resolved
for the whole batch before anything is written: a batch with any bad value is refused whole,
naming the row and column. Writes are set-based (one `executemany` per batch). The import
engine has its own streamed path; this one serves forms, the demo and tests.

Removing items follows the referential rule: an item used by another list's property or by
metric cells is never removed silently — `OnReferenced.REFUSE` (default) names the uses,
`OnReferenced.CASCADE` blanks those properties and deletes those cells in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, OnReferenced, Permission, PropertyType
from planport.domain.errors import Conflict, Invalid
from planport.domain.members import Actor
from planport.domain.names import clean_code, name_key
from planport.domain.values import parse_value
from planport.services.blocks.definitions import load_block, to_def, uses_of_list
from planport.services.blocks.lane import refuse_while_importing
from planport.store import block_tables
from planport.store.db import Database, rowcount
from planport.store.models import Block

CODE, NAME, VALUE = "Code", "Name", "Value"
Rows = Sequence[Mapping[str, str | None]]


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


def write_items(db: Database, actor: Actor, list_id: uuid.UUID, rows: Rows) -> WriteResult:
    """Create or update Dimension List items by code (the last row wins within a batch)."""
    with db.write() as session:
        block = to_def(load_block(session, actor, list_id, Permission.WRITE))
        _expect(block, BlockKind.DIMENSION_LIST)
        refuse_while_importing(session, [(block.id, block.name)])
        table = block_tables.build_table(block)
        records = _dedupe(_parse_rows(session, block, rows, with_item=True), "code")
        existing = _existing_codes(session, table, [r["code"] for r in records])
        given = _given_columns(block, rows)
        columns = [c for c in ["name", *(p.column_name for p in block.properties)] if c in given]
        _upsert(session, table, records, key="code", update_columns=columns)
        return WriteResult(inserted=len(records) - existing, updated=existing)


def append_rows(db: Database, actor: Actor, list_id: uuid.UUID, rows: Rows) -> WriteResult:
    """Add Transaction List rows; with a unique property, rows whose value exists update it."""
    with db.write() as session:
        block = to_def(load_block(session, actor, list_id, Permission.WRITE))
        _expect(block, BlockKind.TRANSACTION_LIST)
        refuse_while_importing(session, [(block.id, block.name)])
        table = block_tables.build_table(block)
        records = _parse_rows(session, block, rows, with_item=False)
        if block.unique_property_id is None:
            if records:
                session.execute(table.insert(), records)
            return WriteResult(inserted=len(records))
        key = block.property(block.unique_property_id).column_name
        records = _dedupe(records, key)
        keyed = [r for r in records if r[key] is not None]
        existing = (
            session.scalar(select(func.count()).where(table.c[key].in_([r[key] for r in keyed])))
            or 0
        )
        given = _given_columns(block, rows)
        others = [
            p.column_name
            for p in block.properties
            if p.column_name not in (key,) and p.column_name in given
        ]
        _upsert(session, table, keyed, key=key, update_columns=others)
        unkeyed = [r for r in records if r[key] is None]
        if unkeyed:
            session.execute(table.insert(), unkeyed)
        return WriteResult(inserted=len(records) - existing, updated=existing)


def set_cells(db: Database, actor: Actor, metric_id: uuid.UUID, rows: Rows) -> WriteResult:
    """Set Metric cells: each row names one item code per dimension (by list name) and a Value.
    A blank Value clears the cell."""
    with db.write() as session:
        block = to_def(load_block(session, actor, metric_id, Permission.WRITE))
        _expect(block, BlockKind.METRIC)
        assert block.value_type is not None
        refuse_while_importing(session, [(block.id, block.name)])
        table = block_tables.build_table(block)
        records = _parse_cells(session, block, rows)
        dims = [d.column_name for d in block.dimensions]
        records = _dedupe(records, *dims)
        blanks = [r for r in records if r["value"] is None]
        values = [r for r in records if r["value"] is not None]
        deleted = _delete_cells(session, table, dims, blanks)
        existing = _existing_cells(session, table, dims, values)
        _upsert(session, table, values, key=dims, update_columns=["value"])
        return WriteResult(inserted=len(values) - existing, updated=existing, deleted=deleted)


def delete_items(
    db: Database,
    actor: Actor,
    list_id: uuid.UUID,
    codes: Sequence[str],
    *,
    on_referenced: OnReferenced = OnReferenced.REFUSE,
) -> WriteResult:
    """Remove Dimension List items by code. Raises Conflict (REFUSE) naming the blocks that use
    them; with CASCADE, blanks referencing properties and deletes referencing metric cells."""
    with db.write() as session:
        block = load_block(session, actor, list_id, Permission.DELETE_ITEM)
        definition = to_def(block)
        _expect(definition, BlockKind.DIMENSION_LIST)
        refuse_while_importing(session, [(block.id, block.name)])
        table = block_tables.build_table(definition)
        codes = [clean_code(c, field="codes") for c in codes]  # no NUL reaches PostgreSQL
        ids = list(session.scalars(select(table.c.id).where(table.c.code.in_(codes))))
        unknown = set(codes) - set(session.scalars(select(table.c.code).where(table.c.id.in_(ids))))
        if unknown:
            raise Invalid(f"{block.name!r} has no item with the code {sorted(unknown)[0]!r}.")
        _handle_references(session, block, ids, on_referenced)
        session.execute(delete(table).where(table.c.id.in_(ids)))
        return WriteResult(deleted=len(ids))


def delete_rows(
    db: Database, actor: Actor, list_id: uuid.UUID, row_ids: Sequence[int]
) -> WriteResult:
    """Remove Transaction List rows by row id."""
    with db.write() as session:
        definition = to_def(load_block(session, actor, list_id, Permission.DELETE_ITEM))
        _expect(definition, BlockKind.TRANSACTION_LIST)
        refuse_while_importing(session, [(definition.id, definition.name)])
        table = block_tables.build_table(definition)
        result = session.execute(delete(table).where(table.c.id.in_(list(row_ids))))
        return WriteResult(deleted=rowcount(result))


def _handle_references(
    session: Session, block: Block, ids: list[int], on_referenced: OnReferenced
) -> None:
    uses = _references(session, block.id, ids)
    if not uses:
        return
    if on_referenced is OnReferenced.CASCADE:
        refuse_while_importing(session, [(used.id, used.name) for _, _, _, used in uses])
    if on_referenced is OnReferenced.REFUSE:
        described = ", ".join(f"{count:,} {what}" for what, count, _, _ in uses)
        raise Conflict(
            f"These items of {block.name!r} are still used: {described}. Remove those uses, "
            "or delete with cascade to blank the properties and delete the cells."
        )
    for _, _, statement, _ in uses:
        session.execute(statement)


def _references(
    session: Session, list_id: uuid.UUID, ids: list[int]
) -> list[tuple[str, int, Any, Block]]:
    """(description, count, cascading statement, block) for each block column that uses the
    items."""
    uses: list[tuple[str, int, Any, Block]] = []
    for use in uses_of_list(session, list_id):
        table = block_tables.build_table(use.definition)
        column = table.c[use.column_name]
        count = session.scalar(select(func.count()).where(column.in_(ids))) or 0
        if not count:
            continue
        if use.property_name is None:
            uses.append(
                (
                    f"cell(s) of {use.block.name}",
                    count,
                    delete(table).where(column.in_(ids)),
                    use.block,
                )
            )
        else:
            blank = update(table).where(column.in_(ids)).values({use.column_name: None})
            uses.append(
                (
                    f"row(s) of {use.block.name} (property {use.property_name})",
                    count,
                    blank,
                    use.block,
                )
            )
    return uses


# ---------------------------------------------------------------- parsing a batch


def _parse_rows(
    session: Session, block: BlockDef, rows: Rows, *, with_item: bool
) -> list[dict[str, Any]]:
    by_label = {name_key(p.name): p for p in block.properties}
    known = {name_key(CODE), name_key(NAME)} if with_item else set()
    records: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        record: dict[str, Any] = {p.column_name: None for p in block.properties}
        for label, raw in row.items():
            key = name_key(label)
            if key in known:
                continue
            prop = by_label.get(key)
            if prop is None:
                raise Invalid(
                    f"Row {number}: {block.name!r} has no property {label!r}.", field=label
                )
            record[prop.column_name] = _parse(prop.type, raw, number, label)
        if with_item:
            fields = {name_key(k): v for k, v in row.items()}
            record["code"] = _code(fields.get(name_key(CODE)), number)
            record["name"] = (fields.get(name_key(NAME)) or "").strip() or None
        records.append(record)
    for prop in block.properties:
        if prop.type is PropertyType.DIMENSION:
            assert prop.referenced_block_id is not None
            _resolve(session, prop.referenced_block_id, records, prop.column_name, prop.name)
    return records


def _parse_cells(session: Session, block: BlockDef, rows: Rows) -> list[dict[str, Any]]:
    assert block.value_type is not None
    records: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        fields = {name_key(k): v for k, v in row.items()}
        record: dict[str, Any] = {}
        for dim in block.dimensions:
            record[dim.column_name] = _code(
                fields.get(name_key(dim.list_name)), number, dim.list_name
            )
        record["value"] = _parse(
            block.value_type.as_property_type, fields.get(name_key(VALUE)), number, VALUE
        )
        records.append(record)
    for dim in block.dimensions:
        _resolve(session, dim.list_id, records, dim.column_name, dim.list_name)
    return records


def _parse(kind: PropertyType, raw: str | None, number: int, label: str) -> Any:
    try:
        return parse_value(kind, raw or "")
    except ValueError as error:
        raise Invalid(f"Row {number}, column {label!r}: {error}.", field=label) from None


def _code(raw: str | None, number: int, label: str = CODE) -> str:
    try:
        return clean_code(raw or "", field=label)
    except Invalid as error:
        raise Invalid(f"Row {number}, column {label!r}: {error.message}", field=label) from None


def _resolve(
    session: Session, list_id: uuid.UUID, records: list[dict[str, Any]], column: str, label: str
) -> None:
    """Replace item codes in `column` by item ids, one query per batch. Unknown codes refuse."""
    block = session.get(Block, list_id)
    assert block is not None
    table = block_tables.build_table(to_def(block))
    codes = {r[column] for r in records if r[column] is not None}
    ids = dict(
        session.execute(select(table.c.code, table.c.id).where(table.c.code.in_(codes))).all()
    )
    for number, record in enumerate(records, start=1):
        code = record[column]
        if code is None:
            continue
        if code not in ids:
            raise Invalid(
                f"Row {number}, column {label!r}: "
                f"{block.name!r} has no item with the code {code!r}.",
                field=label,
            )
        record[column] = ids[code]


def _given_columns(block: BlockDef, rows: Rows) -> set[str]:
    """Physical columns some row of the batch names: an update leaves the others alone."""
    labels = {name_key(label) for row in rows for label in row}
    given = {"name"} if name_key(NAME) in labels else set()
    return given | {p.column_name for p in block.properties if name_key(p.name) in labels}


def _dedupe(records: list[dict[str, Any]], *key: str) -> list[dict[str, Any]]:
    """Keep the last row for each key (a batch may name the same item twice)."""
    last: dict[tuple[Any, ...], dict[str, Any]] = {}
    unkeyed = []
    for record in records:
        k = tuple(record[c] for c in key)
        if any(v is None for v in k):
            unkeyed.append(record)
        else:
            last[k] = record
    return [*last.values(), *unkeyed]


def _expect(block: BlockDef, kind: BlockKind) -> None:
    if block.kind is not kind:
        raise Invalid(f"{block.name!r} is a {block.kind.label}, not a {kind.label}.")


def _existing_codes(session: Session, table: Table, codes: list[str]) -> int:
    return session.scalar(select(func.count()).where(table.c.code.in_(codes))) or 0


def _existing_cells(
    session: Session, table: Table, dims: list[str], records: list[dict[str, Any]]
) -> int:
    if not records:
        return 0
    keys = [tuple(r[d] for d in dims) for r in records]
    columns = tuple_(*(table.c[d] for d in dims))
    return session.scalar(select(func.count()).where(columns.in_(keys))) or 0


def _delete_cells(
    session: Session, table: Table, dims: list[str], records: list[dict[str, Any]]
) -> int:
    if not records:
        return 0
    keys = [tuple(r[d] for d in dims) for r in records]
    result = session.execute(delete(table).where(tuple_(*(table.c[d] for d in dims)).in_(keys)))
    return rowcount(result)


def _upsert(
    session: Session,
    table: Table,
    records: list[dict[str, Any]],
    *,
    key: str | list[str],
    update_columns: list[str],
) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE, as one executemany."""
    if not records:
        return
    keys = [key] if isinstance(key, str) else key
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    if update_columns:
        statement = insert.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={c: insert.excluded[c] for c in update_columns},
        )
    else:
        statement = insert.on_conflict_do_nothing(index_elements=[table.c[k] for k in keys])
    session.execute(statement, records)
