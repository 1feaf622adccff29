"""Turning stored block rows into plain definitions, and finding blocks in a session.

Shared by the block, item and data services; no transactions are opened here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef, DimensionDef, PropertyDef
from planport.domain.clock import utc_now
from planport.domain.enums import BlockKind, Permission, PropertyType, ValueType
from planport.domain.errors import Conflict, NotFound
from planport.domain.members import Actor
from planport.services.workspace import access
from planport.store import block_tables
from planport.store.db import Database
from planport.store.models import Block, BlockProperty, ImportConfiguration, MetricDimension


def to_def(block: Block) -> BlockDef:
    return BlockDef(
        id=block.id,
        application_id=block.application_id,
        kind=BlockKind(block.kind),
        name=block.name,
        description=block.description,
        table_name=block.table_name,
        definition_version=block.definition_version,
        value_type=ValueType(block.value_type) if block.value_type else None,
        unique_property_id=block.unique_property_id,
        properties=tuple(_property_def(p) for p in block.properties),
        dimensions=tuple(
            DimensionDef(
                list_id=d.dimension_list_id,
                list_name=d.dimension_list.name,
                list_table_name=d.dimension_list.table_name,
                column_name=d.column_name,
                position=d.position,
            )
            for d in block.dimensions
        ),
    )


def _property_def(prop: BlockProperty) -> PropertyDef:
    ref = prop.referenced_block
    return PropertyDef(
        id=prop.id,
        name=prop.name,
        type=PropertyType(prop.type),
        column_name=prop.column_name,
        position=prop.position,
        referenced_block_id=prop.referenced_block_id,
        referenced_block_name=ref.name if ref else None,
        referenced_table_name=ref.table_name if ref else None,
    )


def load_block(
    session: Session, actor: Actor, block_id: uuid.UUID, permission: Permission
) -> Block:
    """The block if `actor` holds `permission` in its application. Raises NotFound or
    PermissionDenied."""
    block = session.get(Block, block_id)
    if block is None:
        raise NotFound("This block does not exist.")
    access.require(session, actor, permission, block.application_id)
    return block


def dimension_list_in(session: Session, application_id: uuid.UUID, list_id: uuid.UUID) -> Block:
    """A Dimension List of the application. Raises NotFound, or Conflict for another kind."""
    block = session.get(Block, list_id)
    if block is None or block.application_id != application_id:
        raise NotFound("That Dimension List does not exist in this application.")
    if block.kind != BlockKind.DIMENSION_LIST:
        raise Conflict(
            f"{block.name!r} is a {BlockKind(block.kind).label}; only Dimension Lists can be "
            "used as dimensions."
        )
    return block


def row_count(session: Session, block: Block | BlockDef) -> int:
    table = block_tables.build_table(block if isinstance(block, BlockDef) else to_def(block))
    return session.scalar(select(func.count()).select_from(table)) or 0


@dataclass(frozen=True, slots=True)
class ListUse:
    """A column of another block that holds item ids of a Dimension List."""

    block: Block
    definition: BlockDef
    column_name: str
    property_name: str | None  # None: a metric dimension

    @property
    def how(self) -> str:
        """'property 'Country'' or 'dimension', for messages."""
        return "dimension" if self.property_name is None else f"property {self.property_name!r}"


def uses_of_list(session: Session, list_id: uuid.UUID) -> list[ListUse]:
    """Every property and metric dimension that references the Dimension List."""
    uses: list[ListUse] = []
    for prop in session.scalars(
        select(BlockProperty).where(BlockProperty.referenced_block_id == list_id)
    ):
        owner = session.get(Block, prop.block_id)
        assert owner is not None
        uses.append(ListUse(owner, to_def(owner), prop.column_name, prop.name))
    for dim in session.scalars(
        select(MetricDimension).where(MetricDimension.dimension_list_id == list_id)
    ):
        metric = session.get(Block, dim.metric_id)
        assert metric is not None
        uses.append(ListUse(metric, to_def(metric), dim.column_name, None))
    return uses


def allocate_column(block: Block, prefix: str) -> str:
    """A fresh physical column name for the block (p1, p2…, d1…); never reused."""
    name = f"{prefix}{block.next_column}"
    block.next_column += 1
    return name


def touch(block: Block) -> None:
    """Record a change of definition (dependants re-validate on the new version)."""
    block.definition_version += 1
    block.updated_at = utc_now()


# ---------------------------------------------------------------- what import configurations map


class MappedTarget(Conflict):
    """A change to a target (property or dimension) that import configurations map, refused
    until confirmed: the change puts them in error until their mapping is edited."""


def mapped_targets(db: Database, actor: Actor, block_id: uuid.UUID) -> dict[str, list[str]]:
    """The names of the block's import configurations that map each target, by target key
    (a property or dimension list id), for the warnings of the block page."""
    with db.read() as session:
        block = load_block(session, actor, block_id, Permission.READ)
        return _configurations_by_target(session, block.id)


def _configurations_by_target(session: Session, block_id: uuid.UUID) -> dict[str, list[str]]:
    rows = session.execute(
        select(ImportConfiguration.name, ImportConfiguration.mapping)
        .where(ImportConfiguration.block_id == block_id)
        .order_by(ImportConfiguration.name_key)
    ).all()
    found: dict[str, list[str]] = {}
    for name, stored in rows:
        for target in _mapped(stored):
            found.setdefault(target, []).append(name)
    return found


def _mapped(stored: str) -> set[str]:
    """The targets a stored mapping fills (a mapping that does not parse maps nothing)."""
    try:
        parsed = json.loads(stored)
        targets = {str(f["target"]) for f in parsed.get("fields", [])}
        if parsed.get("pivot"):
            targets.add(str(parsed["pivot"]["dimension"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        return set()
    return targets


def refuse_if_mapped(
    session: Session, block: Block, target: str, what: str, confirmed: bool
) -> None:
    if confirmed:
        return
    names = _configurations_by_target(session, block.id).get(target)
    if names:
        listed = ", ".join(repr(n) for n in names)
        one = len(names) == 1
        noun, them, their = (
            ("configuration", "it", "its") if one else ("configurations", "them", "their")
        )
        raise MappedTarget(
            f"The {what} is mapped by the import {noun} {listed}: this change puts {them} in "
            f"error until {their} mapping is edited. Confirm to go ahead."
        )
