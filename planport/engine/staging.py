"""The staging table: a run's clean rows, loaded in bulk before set-based SQL merges them.

A temporary table on the run's own connection: PostgreSQL fills it with COPY (CSV written by
pyarrow, no Python per row), SQLite with one `executemany` per batch.

Rows of fixed-width columns without nulls (item ids, numbers: a metric's cells) go in COPY's
binary format, the others as CSV (`binary_copy`).

On PostgreSQL the COPY runs on a writer thread, one batch behind the pipeline: while the
server (its own process) loads batch N, this process parses and types batch N+1. pyarrow's
CSV writer and psycopg's socket waits release the GIL, so the two overlap on two cores. The
connection is shared with that thread: whoever else uses it first calls `wait()`.
"""

from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import BigInteger, Column, Connection, MetaData, Table, text
from sqlalchemy.types import TypeEngine

from planport.engine import binary_copy

STAGING = "planport_staging"
SEQ, ROW = "seq", "rn"
SLICE_ROWS = 50_000  # rows written to COPY at a time: the CSV text in memory stays small


class CopyWriter:
    """COPY of Arrow tables into tables of the connection, on one worker thread.

    At most one batch is in flight: `submit` first waits for the previous one, so memory holds
    one batch being loaded and one being typed, whatever the file's size.
    """

    def __init__(self, connection: Connection) -> None:
        raw = connection.connection.driver_connection
        assert raw is not None
        self._raw: Any = raw
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="planport-copy")
        self._pending: Future[None] | None = None

    def submit(
        self,
        table_name: str,
        columns: list[str],
        batch: pa.Table,
        sql_types: list[TypeEngine[object]] | None = None,
    ) -> None:
        """Start loading `batch` (its columns in the order of `columns`, whose SQL types are
        `sql_types` when known: then fixed-width rows go in binary); returns at once. Raises
        what the previous COPY raised."""
        self.wait()
        fields = binary_copy.layout(sql_types) if sql_types is not None else None
        if fields is not None and binary_copy.fits(batch, fields):
            self._pending = self._pool.submit(self._copy_binary, table_name, columns, batch, fields)
        else:
            self._pending = self._pool.submit(self._copy, table_name, columns, batch)

    def wait(self) -> None:
        """Wait until no COPY is in flight (the connection is free); raises its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the COPY in flight and stop the thread; a COPY's error is raised."""
        try:
            self.wait()
        finally:
            self._pool.shutdown()

    def _copy(self, table_name: str, columns: list[str], batch: pa.Table) -> None:
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        sql = f"COPY {table_name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
        # One COPY per batch (not per slice): the statement's fixed cost is paid once, and the
        # server parses slice k while pyarrow writes slice k+1.
        with self._raw.cursor() as cursor, cursor.copy(sql) as copy:
            for start in range(0, batch.num_rows, SLICE_ROWS):
                buffer = io.BytesIO()
                pacsv.write_csv(batch.slice(start, SLICE_ROWS), buffer, options)
                copy.write(buffer.getbuffer())

    def _copy_binary(
        self, table_name: str, columns: list[str], batch: pa.Table, fields: list[Any]
    ) -> None:
        sql = f"COPY {table_name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)"
        with self._raw.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write(binary_copy.HEADER)
            for start in range(0, batch.num_rows, SLICE_ROWS):
                copy.write(binary_copy.encode_rows(batch.slice(start, SLICE_ROWS), fields))
            copy.write(binary_copy.TRAILER)


class Staging:
    """Columns `seq` (unique, file order), `rn` (the source row's index) and the given ones.

    Use it as a context manager: leaving it waits for the COPY in flight, so that nothing else
    (a rollback, say) runs on the connection at the same time.
    """

    def __init__(
        self,
        connection: Connection,
        columns: list[tuple[str, TypeEngine[object]]],
        key: list[str] | None = None,
    ) -> None:
        self.connection = connection
        self.is_postgres = connection.dialect.name == "postgresql"
        connection.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
        self.table = Table(
            STAGING,
            MetaData(),
            Column(SEQ, BigInteger, nullable=False),
            Column(ROW, BigInteger, nullable=False),
            *(Column(name, kind) for name, kind in columns),
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DROP",
        )
        self.table.create(connection)
        self.names = [c.name for c in self.table.columns]
        self._types = [c.type for c in self.table.columns]
        self.rows = 0
        # Nulls staged per column, counted on the Arrow side so the merge need not scan for them.
        self.nulls = dict.fromkeys(self.names, 0)
        self.key_order = KeyOrder(key or [])
        self.writer = CopyWriter(connection) if self.is_postgres else None

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.writer is None:
            return
        try:
            self.writer.close()
        except Exception:
            if error is None:
                raise
            # Already failing: the first error is the one worth reporting.

    def append(self, batch: pa.Table) -> None:
        """Load a batch whose columns are `self.names`, in that order (on PostgreSQL in the
        background: call `wait()` before using the connection)."""
        for name, column in zip(self.names, batch.columns, strict=True):
            self.nulls[name] += column.null_count
        self.key_order.follow(batch)
        self.rows += batch.num_rows
        if self.writer is not None:
            self.writer.submit(STAGING, self.names, batch, self._types)
            return
        for start in range(0, batch.num_rows, SLICE_ROWS):
            self._insert(batch.slice(start, SLICE_ROWS))

    @property
    def keys_increasing(self) -> bool:
        """Whether the staged rows have keys and each is greater than the one before (then no
        key repeats, and the merge need not group the staged rows to find out)."""
        return self.key_order.increasing

    def wait(self) -> None:
        """Return once every appended batch is in the table and the connection is free."""
        if self.writer is not None:
            self.writer.wait()

    def _insert(self, batch: pa.Table) -> None:
        columns = [c.to_pylist() for c in batch.columns]
        placeholders = ", ".join("?" for _ in self.names)
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(
                f"INSERT INTO {STAGING} VALUES ({placeholders})", zip(*columns, strict=True)
            )
        finally:
            cursor.close()

    def analyze(self) -> None:
        """Give the planner row counts for the merge (a fresh temporary table has none)."""
        self.wait()
        self.connection.execute(text(f"ANALYZE {STAGING}"))

    def drop(self) -> None:
        self.wait()
        self.connection.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))


class KeyOrder:
    """Follows, batch after batch, whether the key columns increase strictly (file order)."""

    def __init__(self, key: list[str]) -> None:
        self.key = key
        self.increasing = bool(key)
        self._last: pa.Table | None = None

    def follow(self, batch: pa.Table) -> None:
        if not self.increasing or not batch.num_rows:
            return
        keys = batch.select(self.key)
        if self._last is not None:
            keys = pa.concat_tables([self._last, keys])
        self.increasing = keys_increase(keys)
        self._last = keys.slice(keys.num_rows - 1)


def keys_increase(keys: pa.Table) -> bool:
    """Whether each row's key (its columns compared in order) is greater than the previous
    row's. A null anywhere counts as not increasing."""
    if keys.num_rows < 2:
        return keys.num_rows == 0 or all(c.null_count == 0 for c in keys.columns)
    before = [c.slice(0, keys.num_rows - 1) for c in keys.columns]
    after = [c.slice(1) for c in keys.columns]
    greater = pc.greater(after[-1], before[-1])
    for earlier, later in zip(reversed(before[:-1]), reversed(after[:-1]), strict=True):
        greater = pc.or_(pc.greater(later, earlier), pc.and_(pc.equal(later, earlier), greater))
    return bool(pc.all(pc.fill_null(greater, False)).as_py())
