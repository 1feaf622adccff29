"""Schema migrations (Alembic) driven from Planport's own commands.

`upgrade` brings a database to the newest schema; `check_current` is what `serve` and
`/readyz` use to refuse an un-migrated database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from planport.domain.errors import DatabaseNotReady
from planport.store.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at; None for an empty (never migrated) database."""
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate the database to `revision` in one transaction per step."""
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_current(db: Database) -> None:
    """Raise DatabaseNotReady, with the one-line fix, unless the schema is reachable and current."""
    try:
        current = current_revision(db)
    except SQLAlchemyError as error:
        raise DatabaseNotReady(
            f"The database cannot be reached ({type(error).__name__}). Check PLANPORT_DATABASE_URL."
        ) from None
    head = head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise DatabaseNotReady(
            f"The database is {state}, not at the current schema {head}. "
            "Run `planport db upgrade` to migrate it."
        )
