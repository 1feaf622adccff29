"""Engines and transactions. Services open every transaction through `Database`.

SQLite: WAL mode, a busy timeout, foreign keys on, and real transactions around DDL (the
pysqlite driver's own transaction handling is switched off and BEGIN is emitted here), so a
block's table changes together with its definition or not at all. Write transactions start
with BEGIN IMMEDIATE: a deferred transaction that later writes can fail at once with "database
is locked" instead of waiting for the busy timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from planport.settings import Settings


class Database:
    """One database: an engine for reads, one for writes, and session factories for both."""

    def __init__(self, url: str, *, sqlite_busy_timeout_ms: int = 5000, echo: bool = False):
        self.url = url
        self.engine = _create_engine(url, sqlite_busy_timeout_ms, echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_engine = self.engine.execution_options(planport_write=True)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(write_engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings.effective_database_url,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; closed at the end without committing (nothing it does is
        kept). Objects it loaded stay readable after the block (closing does not expire them)."""
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back on any error."""
        with self._write_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def rowcount(result: Result[Any]) -> int:
    """Rows a DELETE or UPDATE touched (DML results are cursor results)."""
    return cast(CursorResult[Any], result).rowcount or 0


def _create_engine(url: str, busy_timeout_ms: int, echo: bool) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, echo=echo, pool_pre_ping=True, future=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
    )
    _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module doc)
        cursor = dbapi_connection.cursor()
        if ":memory:" not in str(engine.url):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("planport_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
