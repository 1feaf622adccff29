"""Migrations: `planport db upgrade` from empty builds exactly the models; start-up refuses an
un-migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from planport.domain.enums import BlockKind
from planport.domain.errors import DatabaseNotReady
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks.applications import ApplicationView
from planport.store import migrate
from planport.store.db import Database
from planport.store.models import Base
from tests.integration.builders import table_names


@pytest.fixture
def empty_db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def differences(db: Database) -> list[Any]:
    """What autogenerate would add or drop: the models compared to the database, through the
    MigrationContext that migrations/env.py configures (its include_object filter included)."""
    config = migrate.alembic_config()
    script = ScriptDirectory.from_config(config)
    found: list[Any] = []

    def compare(_revision: Any, context: MigrationContext) -> list[Any]:
        assert context.opts["include_object"] is not None
        found.extend(compare_metadata(context, Base.metadata))
        return []  # run no migration step

    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        with EnvironmentContext(config, script, fn=compare):
            script.run_env()
    return found


def test_upgrading_an_empty_database_builds_exactly_the_models(empty_db: Database) -> None:
    migrate.upgrade(empty_db)
    assert differences(empty_db) == []


def test_block_tables_made_at_run_time_are_not_seen_as_differences(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    created = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    assert created.table_name in table_names(db)
    assert differences(db) == []


def test_an_empty_database_is_refused_with_the_command_that_fixes_it(empty_db: Database) -> None:
    with pytest.raises(DatabaseNotReady, match="planport db upgrade") as raised:
        migrate.check_current(empty_db)
    assert "empty" in raised.value.message


def test_a_migrated_database_is_ready(empty_db: Database) -> None:
    migrate.upgrade(empty_db)
    migrate.check_current(empty_db)
    assert migrate.current_revision(empty_db) == migrate.head_revision()


def test_upgrading_twice_changes_nothing(db: Database) -> None:
    before = table_names(db)
    migrate.upgrade(db)
    migrate.check_current(db)
    assert table_names(db) == before


def test_an_unreachable_database_is_reported_as_not_ready_without_its_password() -> None:
    unreachable = Database("postgresql+psycopg://planner:s3cr3t@127.0.0.1:1/planport")
    try:
        with pytest.raises(DatabaseNotReady, match="cannot be reached") as raised:
            migrate.check_current(unreachable)
    finally:
        unreachable.dispose()
    assert "s3cr3t" not in raised.value.message
