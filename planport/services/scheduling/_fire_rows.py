"""The statements of a scheduler tick, a fixed handful per batch of schedules whatever its size.

A tick claims its schedules with one joined SELECT of plain columns (no ORM objects), inserts
its runs and fires and moves its schedules on with one statement each. A batch's rows go to
PostgreSQL as one array per column, unnested into rows: one short statement, parsed and
planned once (a multi-row VALUES of thousands of placeholders is parsed anew by psycopg each
time, an executemany sends each row on its own). SQLite takes them as an executemany.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, Table, TableValuedAlias, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from planport.domain.imports import RunStatus
from planport.store.models import (
    Block,
    ImportConfiguration,
    ImportRun,
    ImportSchedule,
    ScheduleFire,
)

_SCHEDULES = cast(Table, ImportSchedule.__table__)
_RUNS = cast(Table, ImportRun.__table__)
_FIRES = cast(Table, ScheduleFire.__table__)
_FIRE_COLUMNS = ("schedule_id", "scheduled_for", "configuration_id", "outcome", "run_id")


def claim_due(session: Session, now: datetime, batch: int) -> Sequence[Row[Any]]:
    """Up to `batch` enabled schedules due at `now`, oldest first, each with the columns its
    fire needs: its own, its configuration's, its block's (None when deleted) and `waiting`,
    whether a run of the configuration is queued. On PostgreSQL the schedules are locked
    (`FOR UPDATE SKIP LOCKED`): concurrent schedulers claim disjoint ones."""
    s, c, b = ImportSchedule, ImportConfiguration, Block
    waiting = (
        select(ImportRun.id)
        .where(
            ImportRun.configuration_id == s.configuration_id,
            ImportRun.status == RunStatus.QUEUED.value,
        )
        .exists()
    )
    statement = (
        select(
            s.id,
            s.configuration_id,
            s.owner_id,
            s.start_local,
            s.time_zone,
            s.repeat,
            s.grace_seconds,
            s.next_fire_at,
            s.last_fire_at,
            c.name.label("configuration_name"),
            c.error.label("configuration_error"),
            c.source,
            c.file_settings,
            c.mapping,
            c.checked_version,
            b.definition_version,
            b.id.label("block_id"),
            # A deleted block: its runs still name what they were for (the configuration does).
            func.coalesce(b.application_id, c.application_id).label("application_id"),
            func.coalesce(b.name, c.block_name).label("block_name"),
            waiting.label("waiting"),
        )
        .join(c, c.id == s.configuration_id)
        .outerjoin(b, b.id == c.block_id)
        .where(s.enabled, s.next_fire_at <= now)
        .order_by(s.next_fire_at)
        .limit(batch)
    )
    if _on_postgresql(session):
        statement = statement.with_for_update(skip_locked=True, of=s)
    return list(session.execute(statement))


def insert_runs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert queued runs given as `runs.NewRun.row` values: an executemany of a Core
    INSERT (no unit of work). Arrays do not pay here: each run carries its recipe's JSON,
    which an array literal would escape and PostgreSQL unescape."""
    session.execute(insert(_RUNS), rows)


def insert_fires(session: Session, rows: list[dict[str, Any]]) -> set[tuple[uuid.UUID, datetime]]:
    """Insert fires given as rows of _FIRE_COLUMNS and `recorded_at`, except those already
    recorded; returns the keys this call inserted. The unique key arbitrates: a fire another
    scheduler recorded first is not returned. (RETURNING, not the row count: psycopg reports
    none for INSERT through SQLAlchemy 2.1.)"""
    if _on_postgresql(session):
        found = session.execute(_FIRES_FROM_ARRAYS, _arrays(rows))
    else:
        found = session.execute(_FIRES_FROM_ROWS, rows)
    return {(r.schedule_id, _aware(r.scheduled_for)) for r in found}


def advance(session: Session, rows: list[dict[str, Any]]) -> None:
    """Set `next_fire_at` and `last_fire_at` of schedules given as {"b_id", "b_next",
    "b_last"}."""
    if _on_postgresql(session):
        session.execute(_ADVANCE_FROM_ARRAYS, _arrays(rows))
    else:
        session.execute(_ADVANCE, rows)


def record_broken(session: Session, rows: list[dict[str, Any]]) -> None:
    """Record why schedules given as {"b_id", "b_error"} cannot be evaluated; they stop being
    polled (no next fire) until edited. Rare: an executemany everywhere."""
    session.execute(_BREAK, rows)


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _arrays(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def _given(**types: Any) -> TableValuedAlias:
    """PostgreSQL: rows given as one array parameter per column, `given(name, …)`."""
    arrays = (bindparam(name, type_=ARRAY(type_)) for name, type_ in types.items())
    return func.unnest(*arrays).table_valued(*types).render_derived(name="given")


def _fires_from_arrays() -> Any:
    columns = (*_FIRE_COLUMNS, "recorded_at")
    given = _given(**{name: _FIRES.c[name].type for name in columns})
    return (
        postgresql.insert(_FIRES)
        .from_select(columns, select(*(given.c[name] for name in columns)))
        .on_conflict_do_nothing()
        .returning(_FIRES.c.schedule_id, _FIRES.c.scheduled_for)
    )


def _advance_from_arrays() -> Any:
    given = _given(
        b_id=_SCHEDULES.c.id.type,
        b_next=_SCHEDULES.c.next_fire_at.type,
        b_last=_SCHEDULES.c.last_fire_at.type,
    )
    return (
        update(_SCHEDULES)
        .where(_SCHEDULES.c.id == given.c.b_id)
        .values(next_fire_at=given.c.b_next, last_fire_at=given.c.b_last)
    )


_FIRES_FROM_ARRAYS = _fires_from_arrays()
# SQLite: a list of rows, which SQLAlchemy sends as a few multi-row INSERTs compiled once.
_FIRES_FROM_ROWS = (
    sqlite.insert(_FIRES)
    .on_conflict_do_nothing()
    .returning(_FIRES.c.schedule_id, _FIRES.c.scheduled_for)
)
_ADVANCE_FROM_ARRAYS = _advance_from_arrays()
_ADVANCE = (
    update(_SCHEDULES)
    .where(_SCHEDULES.c.id == bindparam("b_id"))
    .values(next_fire_at=bindparam("b_next"), last_fire_at=bindparam("b_last"))
)
_BREAK = (
    update(_SCHEDULES)
    .where(_SCHEDULES.c.id == bindparam("b_id"))
    .values(error=bindparam("b_error"), next_fire_at=None)
)


def _aware(instant: datetime) -> datetime:
    # The RETURNING row bypasses the model's type on SQLite, which keeps no zone.
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
