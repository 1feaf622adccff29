"""Engines and transactions. Services open every transaction through `Database`.

SQLite: WAL mode, a busy timeout, foreign keys on, and real transactions around DDL (the
pysqlite driver's own transaction handling is switched off and BEGIN is emitted here), so a
block's table changes together with its definition or not at all. Write transactions start
with BEGIN IMMEDIATE: a deferred transaction that later writes can fail at once with "database
is locked" instead of waiting for the busy timeout.

SQLite has one writer at a time. Inside a process, writers take turns through a `WriteGate`,
first come first served, before they ask SQLite for its lock: a page, the scheduler's tick and a
heartbeat then wait their turn behind an import's short transactions instead of polling SQLite's
lock and failing with "database is locked" (its busy handler is no queue: a writer that just
committed can take the lock again before a sleeping one wakes). Writers in other processes (the
command line beside `planport serve`) still meet SQLite's busy timeout; long writers yield for
them (see `TakingTurns`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from planport.domain.errors import DatabaseBusy
from planport.settings import Settings

# SQLite's busy handler retries a waiting writer at most every 100 ms once it has waited a
# while: a writer that held the lock for this long pauses a little longer than that, so a
# writer of another process gets its turn (see `TakingTurns`).
HOLD_BEFORE_YIELD_S = 1.0
YIELD_S = 0.11


class WriteGate:
    """One writer of a database at a time in this process, in the order they came.

    Re-entrant: a thread holding the gate may enter it again (a service calling another).
    """

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._queue: deque[object] = deque()
        self._owner: int | None = None
        self._depth = 0
        self._held_since = 0.0

    @property
    def waiting(self) -> int:
        """How many writers wait for the gate."""
        with self._turn:
            return len(self._queue)

    def acquire(self, timeout: float | None) -> bool:
        """Take the gate, waiting at most `timeout` seconds (None: no limit); False if not."""
        me = threading.get_ident()
        with self._turn:
            if self._owner == me:
                self._depth += 1
                return True
            ticket = object()
            self._queue.append(ticket)
            first = self._turn.wait_for(
                lambda: self._owner is None and self._queue[0] is ticket, timeout
            )
            if not first:
                self._queue.remove(ticket)
                self._turn.notify_all()
                return False
            self._queue.popleft()
            self._owner, self._depth = me, 1
            self._held_since = time.monotonic()
            return True

    def release(self) -> None:
        with self._turn:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._turn.notify_all()

    @contextmanager
    def held(self, timeout: float | None) -> Iterator[None]:
        """The gate for the block; raises DatabaseBusy when it was not free within `timeout`."""
        if not self.acquire(timeout):
            raise DatabaseBusy(
                "Planport's database was busy for longer than the wait allowed "
                f"({timeout:g} s) and nothing was changed. Try again in a moment."
            )
        try:
            yield
        finally:
            self.release()


class TakingTurns:
    """For a writer that commits many short transactions in a row (an import moving its rows
    in): after each second of holding SQLite's lock, it pauses for YIELD_S so that writers of
    other processes, polling SQLite's lock, get it too. Writers of this process need no
    pause: the gate hands them the next turn."""

    def __init__(self) -> None:
        self._held = 0.0

    def held_for(self, seconds: float) -> None:
        """Count a transaction that held the lock for `seconds`; pause when it is time."""
        self._held += seconds
        if self._held >= HOLD_BEFORE_YIELD_S:
            self._held = 0.0
            time.sleep(YIELD_S)


_GATES: dict[str, WriteGate] = {}
_GATES_LOCK = threading.Lock()


def _gate_for(url: str) -> WriteGate:
    """One gate per database file in the process, however many `Database` handles open it."""
    with _GATES_LOCK:
        return _GATES.setdefault(url, WriteGate())


class Database:
    """One database: an engine for reads, one for writes, and session factories for both."""

    def __init__(self, url: str, *, sqlite_busy_timeout_ms: int = 15000, echo: bool = False):
        self.url = url
        self.engine = _create_engine(url, sqlite_busy_timeout_ms, echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.busy_timeout_s = sqlite_busy_timeout_ms / 1000
        self._write_engine = self.engine.execution_options(planport_write=True)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        # PostgreSQL arbitrates its writers itself (row locks, MVCC): no gate there.
        self.gate: WriteGate | None = _gate_for(url) if self.is_sqlite else None

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
        """A session whose work commits at the end of the block, or rolls back on any error.
        Raises DatabaseBusy when SQLite's writer stayed busy past the busy timeout."""
        with self.turn(), self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def try_write(self) -> Iterator[Session | None]:
        """Like `write`, but yields None at once instead of waiting when another writer of
        this process holds the gate: for writes that may as well happen next time."""
        if self.gate is not None and not self.gate.acquire(timeout=0):
            yield None
            return
        try:
            with self._write_sessions() as session, session.begin():
                yield session
        finally:
            if self.gate is not None:
                self.gate.release()

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A connection whose transactions write (BEGIN IMMEDIATE on SQLite), holding this
        process's write turn until the block ends; the caller begins and ends them."""
        with self.turn(), self._write_engine.connect() as connection:
            yield connection

    @contextmanager
    def turn(self) -> Iterator[None]:
        """This process's write turn (SQLite; nothing on PostgreSQL) for the block."""
        if self.gate is None:
            yield
            return
        with self.gate.held(self.busy_timeout_s):
            yield

    def dispose(self) -> None:
        self.engine.dispose()


def rowcount(result: Result[Any]) -> int:
    """Rows a DELETE or UPDATE touched (DML results are cursor results)."""
    return cast(CursorResult[Any], result).rowcount or 0


def _create_engine(url: str, busy_timeout_ms: int, echo: bool) -> Engine:
    # hide_parameters: a statement's error message names its SQL but not its bound values,
    # which can be session-token hashes, password hashes or a file's cells — and the message
    # goes to the log with the traceback.
    if not url.startswith("sqlite"):
        return create_engine(url, echo=echo, pool_pre_ping=True, future=True, hide_parameters=True)
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,
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
