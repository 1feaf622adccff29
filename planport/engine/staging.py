"""The staging table: a run's clean rows, loaded in bulk before set-based SQL merges them.

A temporary table on the run's own connection: PostgreSQL fills it with COPY (CSV written by
pyarrow, no Python per row), SQLite with one `executemany` per batch.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import BigInteger, Column, Connection, MetaData, Table, text
from sqlalchemy.types import TypeEngine

STAGING = "planport_staging"
SEQ, ROW = "seq", "rn"
SLICE_ROWS = 50_000


class Staging:
    """Columns `seq` (unique, file order), `rn` (the source row's index) and the given ones."""

    def __init__(
        self, connection: Connection, columns: list[tuple[str, TypeEngine[object]]]
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
        self.rows = 0

    def append(self, batch: pa.Table) -> None:
        """Load a batch whose columns are `self.names`, in that order, SLICE_ROWS at a time
        (memory stays bounded whatever the parser's block size)."""
        for start in range(0, batch.num_rows, SLICE_ROWS):
            part = batch.slice(start, SLICE_ROWS)
            if self.is_postgres:
                self._copy(part)
            else:
                self._insert(part)
            self.rows += part.num_rows

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
        self.connection.execute(text(f"ANALYZE {STAGING}"))

    def _copy(self, batch: pa.Table) -> None:
        buffer = io.BytesIO()
        pacsv.write_csv(
            batch, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed")
        )
        raw = self.connection.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(
                f"COPY {STAGING} ({', '.join(self.names)}) FROM STDIN WITH (FORMAT csv)"
            ) as copy,
        ):
            copy.write(buffer.getbuffer())

    def drop(self) -> None:
        self.connection.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
