"""Shared pieces of the benchmarks: databases to run on, peak memory, printing results."""

from __future__ import annotations

import os
import resource
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

from planport.domain.enums import AccountType
from planport.domain.members import Actor
from planport.services.workspace import members
from planport.store import migrate
from planport.store.db import Database

POSTGRES_URL = os.environ.get(
    "PLANPORT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_available() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return False
    return True


@contextmanager
def database(kind: str, folder: Path) -> Iterator[Database]:
    """A fresh migrated database: an SQLite file in `folder`, or a throwaway PostgreSQL schema."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}")
        migrate.upgrade(db)
        yield db
        db.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}")
    try:
        migrate.upgrade(db)
        yield db
    finally:
        db.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench_admin(db: Database) -> Actor:
    members.create_member(
        db, "bench@example.com", "benchmark-password", account_type=AccountType.ADMIN
    )
    return members.actor_for(db, "bench@example.com")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
