"""A run's scratch database: a private SQLite file in which an import does its work.

SQLite has one write lock per database file, and an import written straight into Planport's
database would hold it from the first row to the commit. So on SQLite a run imports into a file
of its own (`services/_sqlite_lane` says when and how): the tables it writes (its block and the
Dimension Lists it may add items to) are copied there, Planport's database is attached read-only
as `src`, and the pipeline runs unchanged on that connection. SQLite looks an unqualified table
name up in `temp`, then `main` (the scratch file), then the attached databases, so the pipeline's
statements find the copies and read everything else (definitions of other blocks, references)
from `src`. Triggers on the copies record the keys of the rows that changed.

Then short transactions on Planport's database, which attaches the scratch file as
`planport_scratch`, move the result in: either the changed rows (`apply_changes`), or a whole
new table filled chunk by chunk beside the block's and swapped in (`NextTable`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Index, MetaData, Table, create_engine, event, text
from sqlalchemy.pool import NullPool

SRC = "src"
SCRATCH = "planport_scratch"
_CHANGED = "planport_changed_"
NEXT_MARK = "__next_"
OLD_MARK = "__old_"


def scratch_engine(path: Path, main_path: str) -> Engine:
    """An engine on the scratch file `path`, with Planport's database file `main_path`
    attached read-only as `src`. Its transactions begin deferred: BEGIN IMMEDIATE would take
    the write lock of every attached database, `src`'s included."""
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=NullPool,
        connect_args={"check_same_thread": False, "uri": True},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # Rollbacks and savepoints work (the pipeline uses them); nothing is kept past the run,
        # so neither a journal file nor syncing is worth paying for.
        dbapi_connection.execute("PRAGMA journal_mode=MEMORY")
        dbapi_connection.execute("PRAGMA synchronous=OFF")
        dbapi_connection.execute("PRAGMA cache_size=-131072")
        dbapi_connection.execute(f"ATTACH DATABASE ? AS {SRC}", (f"file:{main_path}?mode=ro",))

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# ---------------------------------------------------------------- on the scratch connection


def copy_in(connection: Connection, table: Table, *, track: bool) -> tuple[int, int]:
    """Create `table` (with its indexes) in the scratch file and copy `src`'s rows into it;
    with `track`, record the keys of rows changed from now on. Returns (rows, highest rowid)
    of `src`'s table, read in the caller's transaction (its snapshot of `src`)."""
    table.create(connection)
    columns = ", ".join(quote(c.name) for c in table.columns)
    name = quote(table.name)
    connection.execute(
        text(f"INSERT INTO main.{name} ({columns}) SELECT {columns} FROM {SRC}.{name}")
    )
    if track:
        _track(connection, table)
    rows, highest = connection.execute(
        text(f"SELECT count(*), coalesce(max(rowid), 0) FROM {SRC}.{name}")
    ).one()
    return int(rows), int(highest)


def _track(connection: Connection, table: Table) -> None:
    key = [c.name for c in table.primary_key.columns]
    changed = quote(_CHANGED + table.name)
    name = quote(table.name)
    columns = ", ".join(quote(k) for k in key)
    # Typed like the block's key: an untyped column has no affinity, so comparing it with a
    # typed NEW.key cannot use the primary key index, and every row a statement writes would
    # scan the whole table (a 100,000-row import took minutes instead of a fraction of a second).
    typed = ", ".join(
        f"{quote(c.name)} {c.type.compile(dialect=connection.dialect)}"
        for c in table.primary_key.columns
    )
    connection.execute(
        text(f"CREATE TABLE main.{changed} ({typed}, PRIMARY KEY ({columns})) WITHOUT ROWID")
    )

    def record(row: str) -> str:
        # Not INSERT OR IGNORE: the conflict policy of the statement that fires a trigger
        # overrides the trigger's own (an upsert's would fail on a key already recorded).
        values = ", ".join(f"{row}.{quote(k)}" for k in key)
        same = " AND ".join(f"{quote(k)} = {row}.{quote(k)}" for k in key)
        return (
            f"INSERT INTO {changed} SELECT {values} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {changed} WHERE {same});"
        )

    for event_name, body in (
        ("INSERT", record("NEW")),
        ("UPDATE", record("NEW") + " " + record("OLD")),
        ("DELETE", record("OLD")),
    ):
        trigger = quote(f"planport_track_{event_name.lower()}_{table.name}")
        connection.execute(
            text(f"CREATE TRIGGER main.{trigger} AFTER {event_name} ON {name} BEGIN {body} END")
        )


# ---------------------------------------------------------------- on Planport's connection


def attach(connection: Connection, path: Path) -> None:
    """Attach the scratch file to a connection of Planport's database (outside a transaction:
    SQLite refuses ATTACH inside one)."""
    raw: Any = connection.connection.driver_connection
    raw.execute(f"ATTACH DATABASE ? AS {SCRATCH}", (str(path),))


def detach(connection: Connection) -> None:
    raw: Any = connection.connection.driver_connection
    raw.execute(f"DETACH DATABASE {SCRATCH}")


def changed_rows(connection: Connection, table: Table) -> int:
    """How many rows of the scratch copy of `table` changed (0 when not tracked)."""
    changed = _CHANGED + table.name
    found = connection.execute(
        text(f"SELECT 1 FROM {SCRATCH}.sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": changed},
    ).first()
    if found is None:
        return 0
    return int(
        connection.execute(text(f"SELECT count(*) FROM {SCRATCH}.{quote(changed)}")).scalar_one()
    )


def shape(connection: Connection, table_name: str) -> tuple[int, int]:
    """(rows, highest rowid) of a table of Planport's database."""
    rows, highest = connection.execute(
        text(f"SELECT count(*), coalesce(max(rowid), 0) FROM main.{quote(table_name)}")
    ).one()
    return int(rows), int(highest)


def apply_changes(connection: Connection, table: Table) -> None:
    """Make the changed rows of `table` in Planport's database what they are in the scratch
    copy: delete them by key, insert the scratch copy's rows for those keys (set-based)."""
    key = ", ".join(quote(c.name) for c in table.primary_key.columns)
    columns = ", ".join(quote(c.name) for c in table.columns)
    name, changed = quote(table.name), quote(_CHANGED + table.name)
    keys = f"SELECT {key} FROM {SCRATCH}.{changed}"
    connection.execute(text(f"DELETE FROM main.{name} WHERE ({key}) IN ({keys})"))
    connection.execute(
        text(
            f"INSERT INTO main.{name} ({columns}) SELECT {columns} FROM {SCRATCH}.{name} "
            f"WHERE ({key}) IN ({keys})"
        )
    )


class NextTable:
    """The scratch copy of a block's table, moved into Planport's database as a new table
    beside the block's (a chunk per short transaction), then swapped in with two renames.

    The new table has the block's columns, key and indexes; its index names carry a random
    mark (SQLite cannot rename an index, and the block's own indexes keep their names until
    the swap), which is why `block_tables` finds indexes by column, not by name, on SQLite.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self._mark = mark = secrets.token_hex(4)
        self.name = f"{table.name}{NEXT_MARK}{mark}"
        self.old_name = f"{table.name}{OLD_MARK}{mark}"
        self._key = [c.name for c in table.primary_key.columns]
        self._after: tuple[Any, ...] | None = None
        self.done = False

    def create(self, connection: Connection) -> None:
        next_table = self.table.to_metadata(MetaData(), name=self.name)
        for index in list(next_table.indexes):
            next_table.indexes.discard(index)
        next_table.create(connection)
        for index in self.table.indexes:
            columns = [next_table.c[c.name] for c in index.columns]
            name = f"{index.name}{NEXT_MARK}{self._mark}"
            Index(name, *columns, unique=index.unique).create(connection)

    def fill(self, connection: Connection, rows: int) -> int:
        """Copy the next `rows` rows, in key order, from the scratch copy; returns how many
        were copied (0: the table is full)."""
        key = ", ".join(quote(k) for k in self._key)
        columns = ", ".join(quote(c.name) for c in self.table.columns)
        where, params = "", {}
        if self._after is not None:
            marks = ", ".join(f":k{i}" for i in range(len(self._key)))
            where = f"WHERE ({key}) > ({marks})"
            params = {f"k{i}": v for i, v in enumerate(self._after)}
        chunk = (
            f"SELECT {columns} FROM {SCRATCH}.{quote(self.table.name)} {where} "
            f"ORDER BY {key} LIMIT {int(rows)}"
        )
        copied = connection.execute(
            text(f"INSERT INTO main.{quote(self.name)} ({columns}) {chunk}"), params
        ).rowcount
        if copied:
            descending = ", ".join(f"{quote(k)} DESC" for k in self._key)
            last = connection.execute(
                text(f"SELECT {key} FROM ({chunk}) ORDER BY {descending} LIMIT 1"), params
            ).one()
            self._after = tuple(last)
        else:
            self.done = True
        return int(copied or 0)

    def swap(self, connection: Connection) -> None:
        """Put the new table in the block's place; the old one is kept as `old_name` for
        `drop_old` (dropping millions of rows would hold the lock for seconds)."""
        block, old, new = quote(self.table.name), quote(self.old_name), quote(self.name)
        connection.execute(text(f"ALTER TABLE main.{block} RENAME TO {old}"))
        connection.execute(text(f"ALTER TABLE main.{new} RENAME TO {block}"))

    def drop(self, connection: Connection) -> None:
        """Drop the new table (the run did not complete)."""
        connection.execute(text(f"DROP TABLE IF EXISTS main.{quote(self.name)}"))


def drop_old_rows(connection: Connection, table_name: str, rows: int) -> int:
    """Delete up to `rows` rows of a swapped-out table; drop it once empty. Returns the rows
    deleted (0: the table is gone)."""
    name = quote(table_name)
    exists = connection.execute(
        text("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": table_name},
    ).first()
    if exists is None:
        return 0
    deleted = connection.execute(
        text(f"DELETE FROM main.{name} WHERE rowid IN (SELECT rowid FROM main.{name} LIMIT {rows})")
    ).rowcount
    if not deleted:
        connection.execute(text(f"DROP TABLE main.{name}"))
    return int(deleted or 0)


def leftovers(connection: Connection, table_name: str) -> Sequence[str]:
    """Tables a run that stopped half-way left beside `table_name` (new or old copies)."""
    pattern = table_name.replace("_", "\\_")
    return list(
        connection.scalars(
            text(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' AND "
                "(name LIKE :next ESCAPE '\\' OR name LIKE :old ESCAPE '\\')"
            ),
            {"next": f"{pattern}\\_\\_next\\_%", "old": f"{pattern}\\_\\_old\\_%"},
        )
    )
