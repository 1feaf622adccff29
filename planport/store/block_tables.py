"""Each block's data in its own typed table, built with SQLAlchemy Core from its definition.

Layout (physical column names come from the block's counter and are never reused, so renaming
a property never touches the table):

- Dimension List: `id` (item id), `code` (unique), `name`, then one column per property;
- Transaction List: `id` (row id), then one column per property;
- Metric: one item-id column per dimension (together the primary key), then `value`.

Dimension-typed columns hold item ids of the referenced list. They carry no database foreign
key: the services enforce referential rules (refuse or cascade) across blocks, which keeps
dropping a column or a table a plain statement on both SQLite and PostgreSQL.

All functions take a Connection inside the caller's transaction: a block's table changes
together with its definition rows, or not at all.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.schema import CreateColumn
from sqlalchemy.types import TypeEngine

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType

TABLE_PREFIX = "block_data_"
VALUE_COLUMN = "value"

# SQLite only aliases the rowid (fast, auto-numbered) for a column typed exactly INTEGER.
ItemId = BigInteger().with_variant(Integer(), "sqlite")

_SQL_TYPES: dict[PropertyType, TypeEngine[Any]] = {
    PropertyType.TEXT: Text(),
    PropertyType.NUMBER: Float(precision=53),
    PropertyType.INTEGER: BigInteger(),
    PropertyType.DATE: Date(),
    PropertyType.BOOLEAN: Boolean(create_constraint=False),
    PropertyType.DIMENSION: BigInteger(),
}


def table_name_for(block_id: uuid.UUID) -> str:
    return f"{TABLE_PREFIX}{block_id.hex}"


METRIC_FILLFACTOR = 90


def sql_type(kind: PropertyType) -> TypeEngine[Any]:
    return _SQL_TYPES[kind]


def build_table(block: BlockDef) -> Table:
    """The SQLAlchemy Table of `block`'s data (on a private MetaData; cheap to rebuild)."""
    metadata = MetaData()
    if block.kind is BlockKind.METRIC:
        return _metric_table(block, metadata)
    columns: list[Column[object]] = [Column("id", ItemId, primary_key=True, autoincrement=True)]
    if block.kind is BlockKind.DIMENSION_LIST:
        columns += [Column("code", Text, nullable=False), Column("name", Text)]
    columns += [Column(p.column_name, sql_type(p.type)) for p in block.properties]
    table = Table(block.table_name, metadata, *columns)
    if block.kind is BlockKind.DIMENSION_LIST:
        Index(f"uq_{block.table_name}_code", table.c.code, unique=True)
    for prop in block.properties:
        unique = prop.id == block.unique_property_id
        if unique or prop.type is PropertyType.DIMENSION:
            Index(
                _index_name(block.table_name, prop.column_name, unique),
                table.c[prop.column_name],
                unique=unique,
            )
    return table


def item_codes_table(table_name: str, alias: str) -> Any:
    """The id and code columns of a Dimension List's table, aliased (the list may be the very
    block being read), on a MetaData of its own."""
    items = Table(table_name, MetaData(), Column("id", ItemId), Column("code", Text))
    return items.alias(alias)


def _metric_table(block: BlockDef, metadata: MetaData) -> Table:
    assert block.value_type is not None
    columns: list[Column[object]] = [
        Column(d.column_name, BigInteger, primary_key=True, autoincrement=False)
        for d in block.dimensions
    ]
    columns.append(Column(VALUE_COLUMN, sql_type(block.value_type.as_property_type)))
    # PostgreSQL: room left on each page lets a changed value be rewritten in place (a HOT
    # update: no index is touched, since values are not indexed); a re-import that changes a
    # tenth of the cells then costs half. SQLite ignores it.
    table = Table(
        block.table_name, metadata, *columns, postgresql_with={"fillfactor": METRIC_FILLFACTOR}
    )
    # The primary key serves look-ups by the first dimension; the others need their own index
    # so that filters and referential checks on them stay set-based and fast.
    for dim in block.dimensions[1:]:
        Index(_index_name(block.table_name, dim.column_name, False), table.c[dim.column_name])
    return table


def _index_name(table_name: str, column_name: str, unique: bool) -> str:
    return f"{'uq' if unique else 'ix'}_{table_name}_{column_name}"


def create_block_table(connection: Connection, block: BlockDef) -> Table:
    table = build_table(block)
    table.create(connection)
    return table


def drop_block_table(connection: Connection, table_name: str) -> None:
    Table(table_name, MetaData()).drop(connection, checkfirst=True)


def add_column(
    connection: Connection, table_name: str, column_name: str, kind: PropertyType
) -> None:
    """Add a nullable column (existing rows get NULL); index dimension columns."""
    column = Column(column_name, sql_type(kind))
    Table(table_name, MetaData(), column)
    ddl = CreateColumn(column).compile(dialect=connection.dialect)
    connection.execute(text(f"ALTER TABLE {_quote(connection, table_name)} ADD COLUMN {ddl}"))
    if kind is PropertyType.DIMENSION:
        create_index(connection, table_name, column_name, unique=False)


def drop_column(connection: Connection, table_name: str, column_name: str) -> None:
    """Drop a column and any index on it (SQLite refuses to drop an indexed column)."""
    for unique in (False, True):
        drop_index(connection, table_name, column_name, unique=unique)
    connection.execute(
        text(
            f"ALTER TABLE {_quote(connection, table_name)} "
            f"DROP COLUMN {_quote(connection, column_name)}"
        )
    )


def create_index(
    connection: Connection, table_name: str, column_name: str, *, unique: bool
) -> None:
    name = _quote(connection, _index_name(table_name, column_name, unique))
    connection.execute(
        text(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} "
            f"ON {_quote(connection, table_name)} ({_quote(connection, column_name)})"
        )
    )


def drop_index(connection: Connection, table_name: str, column_name: str, *, unique: bool) -> None:
    """Drop the index on one column. On SQLite it is found by its column: a table an import
    swapped in (store/scratch) has indexes of other names, since SQLite cannot rename one."""
    if connection.dialect.name != "sqlite":
        name = _quote(connection, _index_name(table_name, column_name, unique))
        connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
        return
    for name in sqlite_index_names(connection, table_name, column_name, unique=unique):
        connection.execute(text(f"DROP INDEX IF EXISTS {_quote(connection, name)}"))


def sqlite_index_names(
    connection: Connection, table_name: str, column_name: str, *, unique: bool
) -> list[str]:
    """Names of the indexes Planport made on `column_name` alone (not the primary key's)."""
    rows = connection.execute(
        text(
            "SELECT il.name FROM pragma_index_list(:table) AS il "
            "WHERE il.origin = 'c' AND il.\"unique\" = :unique "
            "AND (SELECT count(*) FROM pragma_index_info(il.name)) = 1 "
            "AND (SELECT ii.name FROM pragma_index_info(il.name) AS ii) = :column"
        ),
        {"table": table_name, "unique": int(unique), "column": column_name},
    )
    return [row[0] for row in rows]


def _quote(connection: Connection, identifier: str) -> str:
    return connection.dialect.identifier_preparer.quote(identifier)
