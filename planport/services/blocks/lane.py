"""How a run writes its block on SQLite without holding the database's one write lock.

SQLite lets one writer in at a time. Were a run to import inside one transaction on Planport's
database, as it does on PostgreSQL, every other writer (a page's "Start right now", the
scheduler's tick, heartbeats, sessions, other runs) would wait for the whole import, and fail
once SQLite's busy timeout ran out. So on SQLite a run goes in three steps:

1. **Prepare** in a scratch file of its own (`store/scratch`): the block's table and the
   Dimension Lists the run may add items to are copied there from one snapshot of Planport's
   database, and the pipeline runs unchanged on the copies. Nothing of Planport's database is
   locked; pages, heartbeats and progress go on.
2. **Move in** (only for large changes): the new content of the block's table is copied into a
   new table beside it, one chunk of rows per short write transaction.
3. **Finish** in one short write transaction: check that the block and its lists were not
   changed meanwhile, add the new items, swap in the new table (or apply the few changed rows),
   and finish the run. Readers see the old block until that commit and the new one after it:
   the block still changes atomically, and "block changed" and "run completed" commit together.

Two runs into one block take turns through a lease on the block (`block-import:<id>`), held for
the whole of the three steps. A change to the block's definition, or items added to one of its
lists by someone else between the snapshot and the finish, make the run prepare again from a
new snapshot (at most ATTEMPTS times).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Table, select, text
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef
from planport.domain.clock import utc_now
from planport.domain.errors import Conflict, PlanportError
from planport.engine.pipeline import ImportResult
from planport.logs import get_logger
from planport.scheduling.leases import Lease, LeaseHeld
from planport.store import block_tables, scratch
from planport.store.db import Database, TakingTurns
from planport.store.models import Block, ProcessLease

log = get_logger("planport.runs")
T = TypeVar("T")

ATTEMPTS = 3
# Rows changed at most for the finish to apply them itself (a fraction of a second); a larger
# change is moved into a new table first, chunk by chunk.
APPLY_ROWS = 50_000
CHUNK_ROWS = 50_000  # rows per transaction while moving in (~0.1–0.3 s each)
LEASE_POLL_S = 0.5


class BlockChanged(PlanportError):
    """The block's definition, or one of its lists, changed while the run prepared."""


@dataclass(slots=True)
class _Copy:
    table: Table
    rows: int
    highest: int
    tracked: bool


@dataclass(slots=True)
class Lane:
    """One run's way through the three steps. `checkpoint` raises when the run must stop
    (cancelled, lost); it is called between chunks."""

    db: Database
    block: BlockDef
    lists: dict[uuid.UUID, BlockDef]
    path: Path
    checkpoint: Callable[[], None]
    versions: dict[uuid.UUID, int] = field(default_factory=dict)
    copies: dict[str, _Copy] = field(default_factory=dict)
    next_table: scratch.NextTable | None = None
    turns: TakingTurns = field(default_factory=TakingTurns)

    # ---- 1. prepare

    def prepare(self, run_import: Callable[[Connection], ImportResult]) -> ImportResult:
        """Copy the block and its lists into a new scratch file and import there. Raises what
        the import raises."""
        self._discard_scratch()
        self.copies.clear()
        self.next_table = None
        engine = scratch.scratch_engine(self.path, _main_path(self.db))
        try:
            with engine.connect() as connection, connection.begin():
                self._snapshot(connection)
                result = run_import(connection)
        finally:
            engine.dispose()
        return result

    def _snapshot(self, connection: Connection) -> None:
        blocks = {self.block.id: self.block, **self.lists}
        found = connection.execute(
            select(Block.id, Block.definition_version).where(Block.id.in_(list(blocks))),
            execution_options={"schema_translate_map": {None: scratch.SRC}},
        )
        self.versions = {row[0]: row[1] for row in found}
        for definition in blocks.values():
            if definition.table_name in self.copies:
                continue
            table = block_tables.build_table(definition)
            is_target = definition.id == self.block.id
            # An empty block is replaced whole: tracking its rows would only cost time.
            empty = is_target and _is_empty(connection, table.name)
            count, highest = scratch.copy_in(connection, table, track=not empty)
            self.copies[table.name] = _Copy(table, count, highest, tracked=not empty)

    # ---- 2. move in

    def move_in(self) -> None:
        """Copy the block's new content into a new table beside it when the change is too
        large for the finish to apply. Raises what `checkpoint` raises (the new table is then
        dropped)."""
        target = self.copies[self.block.table_name]
        with self._attached() as connection:
            self._clean_leftovers(connection)
            changed = self._write(connection, lambda c: scratch.changed_rows(c, target.table))
            if target.tracked and changed <= APPLY_ROWS:
                return
            next_table = scratch.NextTable(target.table)
            self._write(connection, next_table.create)
            self.next_table = next_table
            try:
                while not next_table.done:
                    self.checkpoint()
                    self._write(connection, lambda c: next_table.fill(c, CHUNK_ROWS))
            except BaseException:
                self._write(connection, next_table.drop)
                self.next_table = None
                raise

    # ---- 3. finish

    @contextmanager
    def finishing(self) -> Iterator[Connection]:
        """Planport's write connection in one transaction that already holds the block's new
        content (raises BlockChanged, then nothing was written). The caller finishes the run
        on it and commits, or rolls back."""
        with self._attached() as attached, self.db.turn():
            started = time.monotonic()
            transaction = attached.begin()
            try:
                self._verify(attached)
                self._apply(attached)
                yield attached
            except BaseException:
                transaction.rollback()
                raise
            finally:
                if transaction.is_active:
                    transaction.rollback()
                self.turns.held_for(time.monotonic() - started)

    def _verify(self, connection: Connection) -> None:
        found = connection.execute(
            select(Block.id, Block.definition_version).where(Block.id.in_(list(self.versions)))
        )
        versions = {row[0]: row[1] for row in found}
        if versions != self.versions:
            raise BlockChanged(
                f"The definition of {self.block.name!r} or of a list it uses changed."
            )
        for name, copy in self.copies.items():
            if name == self.block.table_name:
                continue  # the lease keeps other runs out; see the module's doc
            if scratch.shape(connection, name) != (copy.rows, copy.highest):
                raise BlockChanged(
                    f"Items were added to or removed from a list of {self.block.name!r}."
                )

    def _apply(self, connection: Connection) -> None:
        for name, copy in self.copies.items():
            if name == self.block.table_name:
                continue
            if scratch.changed_rows(connection, copy.table):
                scratch.apply_changes(connection, copy.table)
        if self.next_table is not None:
            self.next_table.swap(connection)
        else:
            scratch.apply_changes(connection, self.copies[self.block.table_name].table)

    def after_commit(self) -> None:
        """Drop the swapped-out table, a chunk per transaction (best effort: a table left
        over is dropped by the next run into the block)."""
        if self.next_table is None:
            return
        try:
            with self.db.engine.execution_options(planport_write=True).connect() as connection:
                self._drop_in_chunks(connection, self.next_table_old)
        except Exception as error:  # the run is complete; the table goes next time
            log.warning("old block table left over", table=self.next_table_old, error=str(error))
        finally:
            self._discard_scratch()

    @property
    def next_table_old(self) -> str:
        assert self.next_table is not None
        return self.next_table.old_name

    # ---- pieces

    def _clean_leftovers(self, connection: Connection) -> None:
        found = self._write(connection, lambda c: scratch.leftovers(c, self.block.table_name))
        for name in found:
            self._drop_in_chunks(connection, name)

    def _drop_in_chunks(self, connection: Connection, table_name: str) -> None:
        while self._write(connection, lambda c: scratch.drop_old_rows(c, table_name, CHUNK_ROWS)):
            pass

    def _write(self, connection: Connection, step: Callable[[Connection], T]) -> T:
        """One short write transaction on `connection`, in this process's turn."""
        with self.db.turn():
            started = time.monotonic()
            with connection.begin():
                result = step(connection)
        self.turns.held_for(time.monotonic() - started)
        return result

    @contextmanager
    def _attached(self) -> Iterator[Connection]:
        # Not `write_connection`: the turn is taken per transaction, not for the whole step.
        with self.db.engine.execution_options(planport_write=True).connect() as connection:
            scratch.attach(connection, self.path)
            try:
                yield connection
            finally:
                if connection.in_transaction():
                    connection.rollback()
                scratch.detach(connection)

    def _discard_scratch(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


@contextmanager
def block_lease(
    db: Database,
    block_id: uuid.UUID,
    run_id: uuid.UUID,
    ttl: timedelta,
    clock: Callable[[], datetime],
    checkpoint: Callable[[], None],
) -> Iterator[Callable[[], None]]:
    """Wait for, then hold, the lease that lets one run at a time write `block_id`; yields
    a function that renews it (call it now and then; it raises LeaseLost if it was taken
    over). `checkpoint` is called while waiting."""
    lease = Lease(db, lease_name(block_id), f"run:{run_id}", ttl)
    while True:
        try:
            lease.acquire(clock())
            break
        except LeaseHeld:
            checkpoint()
            time.sleep(LEASE_POLL_S)
    renewed = [time.monotonic()]

    def renew() -> None:
        if time.monotonic() - renewed[0] < ttl.total_seconds() / 4:
            return
        if not lease.renew(clock()):
            raise LeaseLost()
        renewed[0] = time.monotonic()

    try:
        yield renew
    finally:
        try:
            lease.release()
        except Exception as error:  # it expires by itself
            log.warning("block lease not released", block_id=str(block_id), error=str(error))


def lease_name(block_id: uuid.UUID) -> str:
    return f"block-import:{block_id}"


def refuse_while_importing(session: Session, blocks: list[tuple[uuid.UUID, str]]) -> None:
    """Raise Conflict when a run is writing one of `blocks` (id, name) through the lane: a
    change made by hand meanwhile would be overwritten when the run swaps its table in."""
    if not blocks:
        return
    names = {lease_name(block_id): name for block_id, name in blocks}
    held = session.scalars(
        select(ProcessLease.name).where(
            ProcessLease.name.in_(list(names)), ProcessLease.expires_at > utc_now()
        )
    ).first()
    if held is not None:
        raise Conflict(
            f"An import into {names[held]!r} is running. A change made by hand now could be "
            "overwritten when it finishes: try again once it has finished."
        )


class LeaseLost(Exception):
    """Another run took the block's lease over (this one stopped renewing it for too long)."""


def applies(db: Database) -> bool:
    """Whether runs on `db` take the lane: SQLite with a database file (an in-memory database
    has one connection's worth of users and nothing to attach)."""
    return db.is_sqlite and db.engine.url.database not in (None, "", ":memory:")


def _main_path(db: Database) -> str:
    path = db.engine.url.database
    assert path is not None
    return path


def _is_empty(connection: Connection, table_name: str) -> bool:
    found = connection.execute(
        text(f"SELECT 1 FROM {scratch.SRC}.{scratch.quote(table_name)} LIMIT 1")
    ).first()
    return found is None
