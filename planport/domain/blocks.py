"""Plain definitions of blocks, as every layer below the services sees them.

The store builds each block's typed table from a `BlockDef`; readers and (later) the import
engine work from it without touching ORM objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from planport.domain.enums import BlockKind, PropertyType, ValueType


@dataclass(frozen=True, slots=True)
class PropertyDef:
    id: uuid.UUID
    name: str
    type: PropertyType
    column_name: str
    position: int
    # For dimension properties: the referenced Dimension List, by id, name and table.
    referenced_block_id: uuid.UUID | None = None
    referenced_block_name: str | None = None
    referenced_table_name: str | None = None


@dataclass(frozen=True, slots=True)
class DimensionDef:
    """One axis of a Metric: a Dimension List and the metric table's column holding its item id."""

    list_id: uuid.UUID
    list_name: str
    list_table_name: str
    column_name: str
    position: int


@dataclass(frozen=True, slots=True)
class BlockDef:
    id: uuid.UUID
    application_id: uuid.UUID
    kind: BlockKind
    name: str
    table_name: str
    definition_version: int
    properties: tuple[PropertyDef, ...] = ()
    dimensions: tuple[DimensionDef, ...] = ()
    value_type: ValueType | None = None
    unique_property_id: uuid.UUID | None = None
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def property(self, property_id: uuid.UUID) -> PropertyDef:
        for prop in self.properties:
            if prop.id == property_id:
                return prop
        raise KeyError(property_id)

    def dimension(self, list_id: uuid.UUID) -> DimensionDef:
        for dim in self.dimensions:
            if dim.list_id == list_id:
                return dim
        raise KeyError(list_id)
