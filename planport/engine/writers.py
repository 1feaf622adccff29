"""Merging the staging table into the block's table with set-based SQL.

The same statements run on PostgreSQL and SQLite (3.33+: upserts, row values). Order: drop rows
overwritten later in the file (on PostgreSQL only once the upsert refuses them), clear what the
options say, delete cells blanked by the file, count the keys that already exist, then one
upsert.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Index, func, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind
from planport.engine.mapping import CODE, NAME, VALUE, ClearMode, ImportOptions, TransactionMode
from planport.engine.staging import ROW, SEQ, STAGING, Staging
from planport.engine.summary import ImportSummary, Reason, RejectLog
from planport.store import block_tables
from planport.store.db import rowcount

# unique_violation (a new key twice), cardinality_violation (an upsert touching a row twice)
_DUPLICATE_STATES = {"23505", "21000"}
BULK_ROWS = 100_000  # staged rows from which secondary indexes are rebuilt, not maintained

Quote = Callable[[str], str]


class MergeRefused(Exception):
    """The merge would break a rule (e.g. clear items still in use); nothing is written."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


@dataclass(frozen=True, slots=True)
class Reference:
    """A column of another block that holds item ids of the Dimension List being imported."""

    table_name: str
    column_name: str
    description: str  # "Employees (property Country)"


@dataclass(frozen=True, slots=True)
class Plan:
    """How staging columns map onto the block table."""

    columns: dict[str, str]  # staging column -> block table column
    key: list[str]  # staging columns identifying a row of the block (empty: append)
    value_columns: list[str]  # staging columns updated on conflict
    keep_existing_when_blank: bool = False  # on conflict, a NULL staged value keeps the old one


def plan_for(
    block: BlockDef, targets: dict[str, str], pivot: tuple[str, str] | None, options: ImportOptions
) -> Plan:
    """`targets` maps staging column -> mapping target ("code", a property id…); `pivot` is
    (staging item column, pivoted dimension id) plus the staging value column "pivot_value"."""
    columns: dict[str, str] = {}
    for staging_column, target in targets.items():
        columns[staging_column] = _block_column(block, target)
    if pivot is not None:
        item_column, dimension = pivot
        columns[item_column] = block.dimension(uuid.UUID(dimension)).column_name
        columns["pivot_value"] = VALUE
    inverse = {v: k for k, v in columns.items()}
    if block.kind is BlockKind.DIMENSION_LIST:
        key = [inverse["code"]]
    elif block.kind is BlockKind.METRIC:
        key = [inverse[d.column_name] for d in block.dimensions]
    elif options.transaction_mode is TransactionMode.UPSERT and block.unique_property_id:
        key = [inverse[block.property(block.unique_property_id).column_name]]
    else:
        key = []
    value_columns = [c for c in columns if c not in key]
    return Plan(columns, key, value_columns, options.keep_existing_when_blank)


def _block_column(block: BlockDef, target: str) -> str:
    if target in (CODE, NAME, VALUE):
        return target
    target_id = uuid.UUID(target)
    if block.kind is BlockKind.METRIC:
        return block.dimension(target_id).column_name
    return block.property(target_id).column_name


def merge(
    connection: Connection,
    block: BlockDef,
    staging: Staging,
    plan: Plan,
    options: ImportOptions,
    summary: ImportSummary,
    log: RejectLog,
    references: Sequence[Reference] = (),
) -> None:
    """Write the staged rows into the block; fills inserted/updated/deleted in `summary`."""
    q = connection.dialect.identifier_preparer.quote
    target = q(block.table_name)
    if staging.is_postgres:
        staging.analyze()
    optimistic = _duplicates_would_fail(connection, block, plan, options)
    if plan.key and not optimistic:
        _drop_overwritten(connection, plan.key, log)
    # Clear and blank first, then count: a cell cleared and written again is deleted and
    # inserted (never also "updated"), and a blanked cell is only deleted.
    summary.deleted += _clear(connection, block, target, plan, options, references, q)
    if block.kind is BlockKind.METRIC:
        summary.deleted += _delete_blanked_cells(connection, target, plan, q)
    existing = _existing_keys(connection, target, plan, q) if plan.key else 0
    staged = connection.execute(text(f"SELECT count(*) FROM {STAGING}")).scalar_one()
    rebuild = _without_secondary_indexes(connection, block, staged)
    if optimistic and not _upserted_without_duplicates(connection, target, plan, existing, q):
        _drop_overwritten(connection, plan.key, log)
        existing = _existing_keys(connection, target, plan, q)
        staged = connection.execute(text(f"SELECT count(*) FROM {STAGING}")).scalar_one()
        _upsert(connection, target, plan, existing, q)
    elif not optimistic:
        _upsert(connection, target, plan, existing, q)
    for index in rebuild:
        index.create(connection)
    summary.updated += existing
    summary.inserted += staged - existing


def _duplicates_would_fail(
    connection: Connection, block: BlockDef, plan: Plan, options: ImportOptions
) -> bool:
    """Whether the upsert itself would refuse keys repeated in the file, so that looking for
    them first (a GROUP BY over every staged row) can wait until one actually fails.

    PostgreSQL refuses both a repeated new key (unique violation) and an upsert touching a row
    twice; SQLite only the former, so there only a plain insert qualifies. Without value columns
    the upsert does nothing on conflict (nothing would fail), and blank metric values must meet
    their duplicates before they clear cells.
    """
    if not plan.key or not plan.value_columns:
        return False
    if (
        block.kind is BlockKind.METRIC
        and options.blanks_overwrite
        and _has_blank_values(connection, plan)
    ):
        return False
    return connection.dialect.name == "postgresql"


def _has_blank_values(connection: Connection, plan: Plan) -> bool:
    value = next(k for k, v in plan.columns.items() if v == VALUE)
    found = connection.execute(text(f"SELECT 1 FROM {STAGING} WHERE {value} IS NULL LIMIT 1"))
    return found.first() is not None


def _upserted_without_duplicates(
    connection: Connection, target: str, plan: Plan, existing: int, q: Quote
) -> bool:
    """Try the upsert in a savepoint; False (and nothing changed) when the file repeats a key."""
    try:
        with connection.begin_nested():
            _upsert(connection, target, plan, existing, q)
    except (IntegrityError, ProgrammingError) as error:
        if getattr(error.orig, "sqlstate", None) not in _DUPLICATE_STATES:
            raise
        return False
    return True


def _drop_overwritten(connection: Connection, key: list[str], log: RejectLog) -> None:
    """Rows whose key appears again later in the file: the last one wins, the others are
    reported and removed."""
    keys = ", ".join(key)
    join = " AND ".join(f"s.{k} = d.{k}" for k in key)
    duplicates = f"""
        SELECT s.{SEQ} AS seq, s.{ROW} AS rn FROM {STAGING} s
        JOIN (SELECT {keys}, max({SEQ}) AS keep FROM {STAGING}
              GROUP BY {keys} HAVING count(*) > 1) d
          ON {join}
        WHERE s.{SEQ} < d.keep
    """
    rows = connection.execute(text(duplicates)).all()
    if not rows:
        return
    log.add(
        Reason.OVERWRITTEN_IN_FILE,
        "(key)",
        "A later row of the file has the same key; the later row was imported.",
        [r.rn for r in rows],
        [""] * len(rows),
    )
    connection.execute(
        text(f"DELETE FROM {STAGING} WHERE {SEQ} IN (SELECT seq FROM ({duplicates}) x)")
    )


def _existing_keys(connection: Connection, target: str, plan: Plan, q: Quote) -> int:
    join = " AND ".join(f"t.{q(plan.columns[k])} = s.{k}" for k in plan.key)
    condition = " AND ".join(f"s.{k} IS NOT NULL" for k in plan.key)
    sql = f"SELECT count(*) FROM {STAGING} s JOIN {target} t ON {join} WHERE {condition}"
    return int(connection.execute(text(sql)).scalar_one())


def _clear(
    connection: Connection,
    block: BlockDef,
    target: str,
    plan: Plan,
    options: ImportOptions,
    references: Sequence[Reference],
    q: Quote,
) -> int:
    if options.clear is ClearMode.OFF:
        return 0
    if options.clear is ClearMode.ALL and block.kind is BlockKind.DIMENSION_LIST:
        code = plan.key[0]
        in_file = f"SELECT {code} FROM {STAGING} WHERE {code} IS NOT NULL"
        doomed = f"SELECT id FROM {target} WHERE code NOT IN ({in_file})"
        _refuse_if_used(connection, doomed, references, q)
        return rowcount(connection.execute(text(f"DELETE FROM {target} WHERE id IN ({doomed})")))
    if options.clear is ClearMode.ALL:
        return rowcount(connection.execute(text(f"DELETE FROM {target}")))
    inverse = {v: k for k, v in plan.columns.items()}
    conditions = []
    for scope in options.clear_scope:
        column = _block_column(block, scope)
        conditions.append(f"{q(column)} IN (SELECT DISTINCT {inverse[column]} FROM {STAGING})")
    return rowcount(
        connection.execute(text(f"DELETE FROM {target} WHERE {' AND '.join(conditions)}"))
    )


def _refuse_if_used(
    connection: Connection, doomed: str, references: Sequence[Reference], q: Quote
) -> None:
    uses = []
    for reference in references:
        table = q(reference.table_name)
        column = q(reference.column_name)
        count = connection.execute(
            text(f"SELECT count(*) FROM {table} WHERE {column} IN ({doomed})")
        ).scalar_one()
        if count:
            uses.append(f"{count:,} in {reference.description}")
    if uses:
        raise MergeRefused(
            "ItemsInUse",
            "Clearing the list would remove items that are still used: "
            + ", ".join(uses)
            + ". Nothing was imported; import without clearing, or remove those uses first.",
        )


def _delete_blanked_cells(connection: Connection, target: str, plan: Plan, q: Quote) -> int:
    """Cells whose value the file leaves blank are cleared; those rows are then done."""
    value = next(k for k, v in plan.columns.items() if v == VALUE)
    match = " AND ".join(f"s.{k} = {target}.{q(plan.columns[k])}" for k in plan.key)
    deleted = rowcount(
        connection.execute(
            text(
                f"DELETE FROM {target} WHERE EXISTS "
                f"(SELECT 1 FROM {STAGING} s WHERE s.{value} IS NULL AND {match})"
            )
        )
    )
    connection.execute(text(f"DELETE FROM {STAGING} WHERE {value} IS NULL"))
    return deleted


def _upsert(connection: Connection, target: str, plan: Plan, existing: int, q: Quote) -> None:
    """One INSERT … SELECT.

    Keyed rows go in key order, so the primary key index fills sequentially. When no staged
    key exists yet (`existing` is 0, and the block is locked) there can be no conflict, so the
    plain INSERT skips conflict handling. An existing row is only rewritten when a value
    changes: re-importing a file rewrites (and logs) nothing that did not change.
    """
    staging_columns = list(plan.columns)
    block_columns = ", ".join(q(plan.columns[c]) for c in staging_columns)
    order = ", ".join(plan.key) if plan.key else SEQ
    select = f"SELECT {', '.join(staging_columns)} FROM {STAGING} WHERE true ORDER BY {order}"
    sql = f"INSERT INTO {target} AS t ({block_columns}) {select}"
    if plan.key and existing:
        conflict = ", ".join(q(plan.columns[k]) for k in plan.key)
        sql += f" ON CONFLICT ({conflict}) " + _on_conflict(connection, plan, q)
    connection.execute(text(sql))


def _on_conflict(connection: Connection, plan: Plan, q: Quote) -> str:
    columns = [q(plan.columns[c]) for c in plan.value_columns]
    if not columns:
        return "DO NOTHING"
    incoming = {c: f"excluded.{c}" for c in columns}
    if plan.keep_existing_when_blank:
        incoming = {c: f"COALESCE(excluded.{c}, t.{c})" for c in columns}
    updates = ", ".join(f"{c} = {incoming[c]}" for c in columns)
    old = f"({', '.join(f't.{c}' for c in columns)})" if len(columns) > 1 else f"t.{columns[0]}"
    new = f"({', '.join(incoming.values())})" if len(columns) > 1 else incoming[columns[0]]
    differs = "IS DISTINCT FROM" if connection.dialect.name == "postgresql" else "IS NOT"
    return f"DO UPDATE SET {updates} WHERE {old} {differs} {new}"


def _without_secondary_indexes(connection: Connection, block: BlockDef, staged: int) -> list[Index]:
    """Drop the block's non-unique indexes before a large load (rebuilding them afterwards
    is several times cheaper than maintaining them row by row). Returns what to rebuild."""
    if staged < BULK_ROWS:
        return []
    table = block_tables.build_table(block)
    current = connection.execute(select(func.count()).select_from(table)).scalar_one()
    if staged < current:
        return []
    dropped = [index for index in table.indexes if not index.unique]
    for index in dropped:
        index.drop(connection)
    return dropped
