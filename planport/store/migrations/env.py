"""Alembic environment. Run through `planport db upgrade` (store/migrate.py), which passes the
connection in `config.attributes["connection"]`."""

from __future__ import annotations

from typing import Any

from alembic import context

from planport.store.models import Base

BLOCK_TABLE_PREFIX = "block_data_"  # see store/block_tables.py


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Per-block data tables are made by Planport at run time, never by migrations."""
    return not (type_ == "table" and (name or "").startswith(BLOCK_TABLE_PREFIX))


def run_migrations() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
