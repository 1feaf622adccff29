"""Fixtures shared by every tier.

`db` runs each test on SQLite and on PostgreSQL. PostgreSQL comes from
PLANPORT_TEST_POSTGRES_URL, else 127.0.0.1:5432 if it answers; each test gets its own schema.
With PLANPORT_TEST_REQUIRE_POSTGRES=1 (CI) an unreachable PostgreSQL fails the run instead of
being skipped.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

from planport.domain.enums import AccountType
from planport.domain.members import Actor
from planport.services.workspace import members
from planport.store import migrate
from planport.store.db import Database

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# CI (.ci/run sets PLANPORT_TEST_REQUIRE_POSTGRES) replays the same examples every run, so a
# submission never fails on a newly drawn example; sessions draw new ones and keep failures in
# .hypothesis to fix them. No deadlines: a loaded CI machine is slow, not wrong.
settings.register_profile("ci", derandomize=True, deadline=None, database=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("PLANPORT_TEST_REQUIRE_POSTGRES") == "1" else "dev")


def postgres_url() -> str | None:
    """The PostgreSQL server tests may use, or None when there is none."""
    configured = os.environ.get("PLANPORT_TEST_POSTGRES_URL")
    if configured:
        return configured
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return None
    return DEFAULT_POSTGRES_URL


def _backends() -> list[str]:
    return ["sqlite", "postgresql"]


@pytest.fixture(params=_backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL of each backend (SQLite file; PostgreSQL schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'planport.db'}"
        return
    with postgres_schema() as url:
        yield url


@contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema, dropped afterwards. Fails when PostgreSQL is
    required (CI) but unreachable; skips otherwise."""
    base = postgres_url()
    if base is None:
        if os.environ.get("PLANPORT_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (PLANPORT_TEST_REQUIRE_POSTGRES=1) but unreachable")
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432 or in PLANPORT_TEST_POSTGRES_URL")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    migrate.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def admin(db: Database) -> Actor:
    """A workspace admin."""
    members.create_member(
        db, "admin@example.com", "correct horse battery", account_type=AccountType.ADMIN
    )
    return members.actor_for(db, "admin@example.com")


@pytest.fixture
def member(db: Database) -> Actor:
    """A member without any application role."""
    members.create_member(db, "member@example.com", "correct horse battery")
    return members.actor_for(db, "member@example.com")
