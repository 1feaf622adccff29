"""Blocks and their definitions: create, rename, delete; properties; metric dimensions.

Every change of definition alters the block's table in the same transaction as its definition
rows, bumps `definition_version`, and checks the existing data first: a change the data cannot
take is refused with the values that block it, and nothing changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, Permission, PropertyType, ValueType
from planport.domain.errors import Conflict, Invalid, NotFound
from planport.domain.members import Actor
from planport.domain.names import clean_description, clean_name, name_key
from planport.services.blocks.conversions import (
    FillItem,
    KeepItem,
    convert_column,
    rebuild_metric_table,
)
from planport.services.blocks.definitions import (
    allocate_column,
    dimension_list_in,
    load_block,
    refuse_if_mapped,
    row_count,
    to_def,
    touch,
    uses_of_list,
)
from planport.services.workspace import access
from planport.store import block_tables
from planport.store.db import Database
from planport.store.models import Block, BlockProperty, MetricDimension

MAX_METRIC_DIMENSIONS = 12
MAX_PROPERTIES = 500


@dataclass(frozen=True, slots=True)
class BlockSummary:
    id: uuid.UUID
    kind: BlockKind
    name: str
    description: str
    row_count: int
    detail: str  # e.g. "3 properties" or "Month × Country × Product · Number"


# ---------------------------------------------------------------- reading definitions


def get_block(db: Database, actor: Actor, block_id: uuid.UUID) -> BlockDef:
    """The block's definition. Raises NotFound or PermissionDenied (no Read)."""
    with db.read() as session:
        return to_def(load_block(session, actor, block_id, Permission.READ))


def list_blocks(db: Database, actor: Actor, application_id: uuid.UUID) -> list[BlockSummary]:
    """The application's blocks: Dimension Lists, then Transaction Lists, then Metrics, by name."""
    with db.read() as session:
        access.require(session, actor, Permission.READ, application_id)
        blocks = session.scalars(select(Block).where(Block.application_id == application_id))
        order = list(BlockKind)
        summaries = [_summary(session, b) for b in blocks]
    return sorted(summaries, key=lambda s: (order.index(s.kind), s.name.casefold()))


@dataclass(frozen=True, slots=True)
class BlockName:
    id: uuid.UUID
    kind: BlockKind
    name: str


def block_names(db: Database, actor: Actor, application_id: uuid.UUID) -> list[BlockName]:
    """The application's blocks as `list_blocks` orders them, without counting their rows (the
    Import API's metadata asks for names only)."""
    with db.read() as session:
        access.require(session, actor, Permission.READ, application_id)
        rows = session.execute(
            select(Block.id, Block.kind, Block.name).where(Block.application_id == application_id)
        ).all()
    order = list(BlockKind)
    names = [BlockName(id, BlockKind(kind), name) for id, kind, name in rows]
    return sorted(names, key=lambda b: (order.index(b.kind), b.name.casefold()))


def list_dimension_lists(
    db: Database, actor: Actor, application_id: uuid.UUID
) -> list[BlockSummary]:
    return [s for s in list_blocks(db, actor, application_id) if s.kind is BlockKind.DIMENSION_LIST]


def _summary(session: Session, block: Block) -> BlockSummary:
    definition = to_def(block)
    if definition.kind is BlockKind.METRIC:
        assert definition.value_type is not None
        axes = " × ".join(d.list_name for d in definition.dimensions)
        detail = f"{axes} · {definition.value_type.label}"
    else:
        count = len(definition.properties)
        detail = f"{count} propert{'y' if count == 1 else 'ies'}"
    return BlockSummary(
        id=block.id,
        kind=definition.kind,
        name=block.name,
        description=block.description,
        row_count=row_count(session, definition),
        detail=detail,
    )


# ---------------------------------------------------------------- blocks


def create_list(
    db: Database,
    actor: Actor,
    application_id: uuid.UUID,
    kind: BlockKind,
    name: str,
    description: str = "",
) -> BlockDef:
    """Create an empty Dimension List or Transaction List with its table."""
    if not kind.is_list:
        raise Invalid("Use create_metric for metrics.", field="kind")
    clean = clean_name(name, what="list")
    with db.write() as session:
        access.require(session, actor, Permission.CONFIGURE_BLOCKS, application_id)
        block = _new_block(session, application_id, kind, clean, description)
        definition = to_def(block)
        block_tables.create_block_table(session.connection(), definition)
        return definition


def create_metric(
    db: Database,
    actor: Actor,
    application_id: uuid.UUID,
    name: str,
    value_type: ValueType,
    dimension_list_ids: list[uuid.UUID],
    description: str = "",
) -> BlockDef:
    """Create an empty Metric over an ordered set of 1..12 distinct Dimension Lists."""
    clean = clean_name(name, what="metric")
    if not dimension_list_ids:
        raise Invalid("A metric needs at least one Dimension List.", field="dimensions")
    if len(set(dimension_list_ids)) != len(dimension_list_ids):
        raise Invalid("A metric cannot use the same Dimension List twice.", field="dimensions")
    if len(dimension_list_ids) > MAX_METRIC_DIMENSIONS:
        raise Invalid(
            f"A metric can have at most {MAX_METRIC_DIMENSIONS} dimensions.", field="dimensions"
        )
    with db.write() as session:
        access.require(session, actor, Permission.CONFIGURE_BLOCKS, application_id)
        lists = [dimension_list_in(session, application_id, i) for i in dimension_list_ids]
        block = _new_block(session, application_id, BlockKind.METRIC, clean, description)
        block.value_type = value_type.value
        for position, dimension_list in enumerate(lists):
            block.dimensions.append(
                MetricDimension(
                    dimension_list_id=dimension_list.id,
                    column_name=allocate_column(block, "d"),
                    position=position,
                )
            )
        session.flush()
        session.refresh(block)
        definition = to_def(block)
        block_tables.create_block_table(session.connection(), definition)
        return definition


def _new_block(
    session: Session, application_id: uuid.UUID, kind: BlockKind, name: str, description: str
) -> Block:
    _refuse_duplicate_block(session, application_id, name)
    block_id = uuid.uuid4()
    block = Block(
        id=block_id,
        application_id=application_id,
        kind=kind.value,
        name=name,
        name_key=name_key(name),
        description=clean_description(description, what="block"),
        table_name=block_tables.table_name_for(block_id),
    )
    session.add(block)
    session.flush()
    return block


def rename_block(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    name: str,
    description: str | None = None,
) -> BlockDef:
    with db.write() as session:
        block = load_block(session, actor, block_id, Permission.CONFIGURE_BLOCKS)
        clean = clean_name(name, what=BlockKind(block.kind).label.lower())
        if name_key(clean) != block.name_key:
            _refuse_duplicate_block(session, block.application_id, clean)
        block.name, block.name_key = clean, name_key(clean)
        if description is not None:
            block.description = clean_description(description, what="block")
        touch(block)
        session.flush()
        return to_def(block)


def delete_block(
    db: Database, actor: Actor, block_id: uuid.UUID, *, confirm_name: str | None = None
) -> None:
    """Delete a block and drop its table.

    Refused (Conflict) while other blocks use a Dimension List, naming them; a block holding
    data is deleted only when `confirm_name` repeats its name.
    """
    with db.write() as session:
        block = load_block(session, actor, block_id, Permission.CONFIGURE_BLOCKS)
        users = [use for use in uses_of_list(session, block.id) if use.block.id != block.id]
        if users:
            used_by = ", ".join(f"{use.block.name} ({use.how})" for use in users)
            raise Conflict(
                f"{block.name!r} is used by {used_by}. Remove those uses first, then delete it."
            )
        rows = row_count(session, block)
        if rows and (confirm_name or "").strip() != block.name:
            raise Conflict(
                f"{block.name!r} holds {rows:,} row(s) of data. Type its name to confirm.",
                field="confirm_name",
            )
        block_tables.drop_block_table(session.connection(), block.table_name)
        session.delete(block)


def _refuse_duplicate_block(session: Session, application_id: uuid.UUID, name: str) -> None:
    clash = session.scalar(
        select(Block).where(
            Block.application_id == application_id, Block.name_key == name_key(name)
        )
    )
    if clash is not None:
        raise Conflict(
            f"A block named {clash.name!r} already exists in this application "
            f"(a {BlockKind(clash.kind).label}).",
            field="name",
        )


# ---------------------------------------------------------------- properties


def add_property(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    name: str,
    kind: PropertyType,
    *,
    referenced_list_id: uuid.UUID | None = None,
) -> BlockDef:
    """Add a property to a List; existing items get a blank value."""
    clean = clean_name(name, what="property")
    with db.write() as session:
        block = _load_list(session, actor, block_id)
        _refuse_reserved_or_duplicate_property(block, clean)
        if len(block.properties) >= MAX_PROPERTIES:
            raise Conflict(f"A list can have at most {MAX_PROPERTIES} properties.")
        reference = _reference_for(session, block, kind, referenced_list_id)
        column = allocate_column(block, "p")
        block.properties.append(
            BlockProperty(
                name=clean,
                name_key=name_key(clean),
                type=kind.value,
                column_name=column,
                position=max((p.position for p in block.properties), default=-1) + 1,
                referenced_block_id=reference.id if reference else None,
            )
        )
        block_tables.add_column(session.connection(), block.table_name, column, kind)
        touch(block)
        session.flush()
        session.refresh(block)
        return to_def(block)


def rename_property(
    db: Database, actor: Actor, block_id: uuid.UUID, property_id: uuid.UUID, name: str
) -> BlockDef:
    clean = clean_name(name, what="property")
    with db.write() as session:
        block = _load_list(session, actor, block_id)
        prop = _property(block, property_id)
        if name_key(clean) != prop.name_key:
            _refuse_reserved_or_duplicate_property(block, clean)
        prop.name, prop.name_key = clean, name_key(clean)
        touch(block)
        session.flush()
        return to_def(block)


def remove_property(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    property_id: uuid.UUID,
    *,
    confirmed: bool = False,
) -> BlockDef:
    """Remove a property and its values (the values cannot be recovered). Raises Conflict
    naming the import configurations that map it unless `confirmed`."""
    with db.write() as session:
        block = _load_list(session, actor, block_id)
        prop = _property(block, property_id)
        refuse_if_mapped(session, block, str(prop.id), f"property {prop.name!r}", confirmed)
        if block.unique_property_id == prop.id:
            block.unique_property_id = None
        block_tables.drop_column(session.connection(), block.table_name, prop.column_name)
        block.properties.remove(prop)
        touch(block)
        session.flush()
        return to_def(block)


def change_property_type(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    property_id: uuid.UUID,
    kind: PropertyType,
    *,
    referenced_list_id: uuid.UUID | None = None,
    name: str | None = None,
    confirmed: bool = False,
) -> BlockDef:
    """Retype a property (and rename it, given `name`), converting every existing value.

    Raises Conflict naming the values (with their items) that the new type cannot take, or,
    unless `confirmed`, the import configurations that map it; the block, its name included,
    is then unchanged.
    """
    with db.write() as session:
        block = _load_list(session, actor, block_id)
        prop = _property(block, property_id)
        if name is not None:
            clean = clean_name(name, what="property")
            if name_key(clean) != prop.name_key:
                _refuse_reserved_or_duplicate_property(block, clean)
            prop.name, prop.name_key = clean, name_key(clean)
        reference = _reference_for(session, block, kind, referenced_list_id)
        same_reference = (reference.id if reference else None) == prop.referenced_block_id
        if PropertyType(prop.type) is kind and same_reference:
            if session.is_modified(prop):  # renamed only
                touch(block)
                session.flush()
            return to_def(block)
        refuse_if_mapped(session, block, str(prop.id), f"property {prop.name!r}", confirmed)
        new_column = allocate_column(block, "p")
        convert_column(
            session,
            to_def(block),
            source=to_def(block).property(prop.id),
            target_kind=kind,
            target_reference=to_def(reference) if reference else None,
            new_column=new_column,
        )
        prop.type, prop.column_name = kind.value, new_column
        prop.referenced_block_id = reference.id if reference else None
        if block.unique_property_id == prop.id:
            _create_unique_index(session, block, new_column, prop.name)
        touch(block)
        session.flush()
        session.refresh(block)
        return to_def(block)


def set_unique_property(
    db: Database, actor: Actor, block_id: uuid.UUID, property_id: uuid.UUID | None
) -> BlockDef:
    """Mark one property of a Transaction List unique (or none). Refused, naming a duplicated
    value, when existing rows repeat a value."""
    with db.write() as session:
        block = _load_list(session, actor, block_id)
        if block.kind != BlockKind.TRANSACTION_LIST:
            raise Invalid(
                "Only Transaction Lists have a unique property; a Dimension List's "
                "items are unique by code."
            )
        connection = session.connection()
        if block.unique_property_id is not None:
            old = _property(block, block.unique_property_id)
            block_tables.drop_index(connection, block.table_name, old.column_name, unique=True)
        block.unique_property_id = None
        if property_id is not None:
            prop = _property(block, property_id)
            _create_unique_index(session, block, prop.column_name, prop.name)
            block.unique_property_id = prop.id
        touch(block)
        session.flush()
        return to_def(block)


def _create_unique_index(session: Session, block: Block, column: str, label: str) -> None:
    duplicate = _first_duplicate(session, block, column)
    if duplicate is not None:
        value, count = duplicate
        raise Conflict(
            f"Property {label!r} cannot be unique: the value {value!r} appears in {count} rows."
        )
    block_tables.create_index(session.connection(), block.table_name, column, unique=True)


def _first_duplicate(session: Session, block: Block, column: str) -> tuple[object, int] | None:
    table = block_tables.build_table(to_def(block))
    col = table.c[column]
    row = session.execute(
        select(col, func.count())
        .where(col.is_not(None))
        .group_by(col)
        .having(func.count() > 1)
        .limit(1)
    ).first()
    return None if row is None else (row[0], int(row[1]))


def _load_list(session: Session, actor: Actor, block_id: uuid.UUID) -> Block:
    block = load_block(session, actor, block_id, Permission.CONFIGURE_BLOCKS)
    if block.kind == BlockKind.METRIC:
        raise Invalid(f"{block.name!r} is a Metric; metrics have dimensions, not properties.")
    return block


def _property(block: Block, property_id: uuid.UUID) -> BlockProperty:
    for prop in block.properties:
        if prop.id == property_id:
            return prop
    raise NotFound(f"This property does not exist in {block.name!r}.")


_RESERVED_PROPERTY_NAMES = {"code", "name", "id"}


def _refuse_reserved_or_duplicate_property(block: Block, name: str) -> None:
    key = name_key(name)
    if block.kind == BlockKind.DIMENSION_LIST and key in _RESERVED_PROPERTY_NAMES:
        raise Conflict(
            f"Every Dimension List item already has a {name.lower()!r}; choose another name.",
            field="name",
        )
    if any(p.name_key == key for p in block.properties):
        raise Conflict(f"{block.name!r} already has a property named {name!r}.", field="name")


def _reference_for(
    session: Session, block: Block, kind: PropertyType, referenced_list_id: uuid.UUID | None
) -> Block | None:
    if kind is not PropertyType.DIMENSION:
        if referenced_list_id is not None:
            raise Invalid("Only dimension properties reference a list.", field="referenced_list")
        return None
    if referenced_list_id is None:
        raise Invalid(
            "A dimension property needs the Dimension List it refers to.", field="referenced_list"
        )
    return dimension_list_in(session, block.application_id, referenced_list_id)


# ---------------------------------------------------------------- metric dimensions


def add_metric_dimension(
    db: Database,
    actor: Actor,
    metric_id: uuid.UUID,
    list_id: uuid.UUID,
    *,
    existing_cells_item: str | None = None,
) -> BlockDef:
    """Add a dimension to a Metric. Existing cells move to item `existing_cells_item` of the new
    list (required when the metric holds cells)."""
    with db.write() as session:
        block = _load_metric(session, actor, metric_id)
        new_list = dimension_list_in(session, block.application_id, list_id)
        if any(d.dimension_list_id == list_id for d in block.dimensions):
            raise Conflict(f"{block.name!r} already has the dimension {new_list.name!r}.")
        if len(block.dimensions) >= MAX_METRIC_DIMENSIONS:
            raise Conflict(f"A metric can have at most {MAX_METRIC_DIMENSIONS} dimensions.")
        old = to_def(block)
        column = allocate_column(block, "d")
        block.dimensions.append(
            MetricDimension(
                dimension_list_id=new_list.id, column_name=column, position=len(block.dimensions)
            )
        )
        fill = FillItem(column=column, list_block=new_list, code=existing_cells_item)
        _finish_metric_rebuild(session, block, old, fill=fill)
        return to_def(block)


def remove_metric_dimension(
    db: Database,
    actor: Actor,
    metric_id: uuid.UUID,
    list_id: uuid.UUID,
    *,
    keep_item: str | None = None,
    confirmed: bool = False,
) -> BlockDef:
    """Remove a dimension from a Metric, keeping only the cells of item `keep_item` of it
    (required when the metric holds cells; the other cells are deleted). Raises Conflict
    naming the import configurations that map it unless `confirmed`."""
    with db.write() as session:
        block = _load_metric(session, actor, metric_id)
        dimension = next((d for d in block.dimensions if d.dimension_list_id == list_id), None)
        if dimension is None:
            raise NotFound(f"{block.name!r} has no such dimension.")
        if len(block.dimensions) == 1:
            raise Conflict("A metric needs at least one dimension; this is its last one.")
        what = f"dimension {dimension.dimension_list.name!r}"
        refuse_if_mapped(session, block, str(list_id), what, confirmed)
        old = to_def(block)
        block.dimensions.remove(dimension)
        for position, dim in enumerate(block.dimensions):
            dim.position = position
        keep = KeepItem(
            column=dimension.column_name, list_block=dimension.dimension_list, code=keep_item
        )
        _finish_metric_rebuild(session, block, old, keep=keep)
        return to_def(block)


def change_metric_value_type(
    db: Database, actor: Actor, metric_id: uuid.UUID, value_type: ValueType
) -> BlockDef:
    """Retype a Metric's values; refused, naming the cells, when some cannot be converted."""
    with db.write() as session:
        block = _load_metric(session, actor, metric_id)
        old = to_def(block)
        if old.value_type is value_type:
            return old
        block.value_type = value_type.value
        session.flush()
        _finish_metric_rebuild(session, block, old)
        return to_def(block)


def _finish_metric_rebuild(
    session: Session,
    block: Block,
    old: BlockDef,
    *,
    fill: FillItem | None = None,
    keep: KeepItem | None = None,
) -> None:
    session.flush()
    session.refresh(block)
    touch(block)
    # A rebuilt table gets a new name: the old one (and its index names) can be dropped whole.
    block.table_name = f"{block_tables.table_name_for(block.id)}_v{block.definition_version}"
    session.flush()
    rebuild_metric_table(session, old, to_def(block), fill=fill, keep=keep)


def _load_metric(session: Session, actor: Actor, metric_id: uuid.UUID) -> Block:
    block = load_block(session, actor, metric_id, Permission.CONFIGURE_BLOCKS)
    if block.kind != BlockKind.METRIC:
        raise Invalid(f"{block.name!r} is a {BlockKind(block.kind).label}, not a Metric.")
    return block


def row_count_of(db: Database, actor: Actor, block_id: uuid.UUID) -> int:
    with db.read() as session:
        return row_count(session, load_block(session, actor, block_id, Permission.READ))
