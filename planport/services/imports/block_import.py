"""The steps a Check and a run share: prepare the target, match the file, run the pipeline.

A preview (`preview.preview_import`) and a run (`runs.execute`) go through exactly these
checks and the same pipeline. The block changes in one transaction on one connection, under a
per-block lock (`lock_block`), so two imports into one block never interleave and a failure
leaves the block exactly as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from planport.domain.blocks import BlockDef
from planport.domain.clock import utc_now
from planport.domain.enums import BlockKind, Permission, PropertyType
from planport.domain.errors import Invalid
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import ClearMode, Mapping, check_mapping
from planport.domain.members import Actor
from planport.domain.work_limits import WorkLimit
from planport.engine.pipeline import ImportResult, import_file
from planport.engine.reader import FileUnreadable, Source, open_source
from planport.engine.writers import Reference
from planport.services.blocks.definitions import load_block, to_def, uses_of_list
from planport.services.workspace import access
from planport.store.db import Database
from planport.store.models import Block

MERGE_WORK_MEM = "256MB"


@dataclass(frozen=True, slots=True)
class ImportTarget:
    """The block an import writes, with the Dimension Lists its codes resolve against and the
    columns of other blocks that hold its items (for clearing a Dimension List)."""

    block: BlockDef
    lists: dict[uuid.UUID, BlockDef]
    references: list[Reference]


@dataclass(frozen=True, slots=True)
class ImportStep:
    """One pass of the pipeline over `source` into `target`: a whole run by default, or a
    Check (`row_limit` rows, `preview_rows` of them kept to show, then rolled back)."""

    target: ImportTarget
    source: Source
    mapping: Mapping
    row_limit: int | None = None
    preview_rows: int = 0
    on_progress: Callable[[int], None] | None = None


def run_permissions(mapping: Mapping) -> tuple[Permission, ...]:
    """The permissions a run importing with `mapping` uses, in the order messages name them:
    Import Data and Write, and Delete Item when it clears items first.

    The one statement of the rule: queueing a run, executing it (as its actor or its
    schedule's owner) and editing what a configuration does all check this same list.
    """
    needed: tuple[Permission, ...] = (Permission.IMPORT_DATA, Permission.WRITE)
    if mapping.options.clear is not ClearMode.OFF:
        needed += (Permission.DELETE_ITEM,)
    return needed


def prepare(db: Database, actor: Actor, block_id: uuid.UUID, mapping: Mapping) -> ImportTarget:
    """Check access and the mapping; load the definitions the pipeline needs. Raises
    NotFound, PermissionDenied, or Invalid (field `mapping`)."""
    with db.read() as session:
        block = to_def(load_block(session, actor, block_id, Permission.IMPORT_DATA))
        for permission in run_permissions(mapping):
            access.require(session, actor, permission, block.application_id)
        problems = check_mapping(block, mapping)
        if problems:
            raise Invalid(" ".join(problems), field="mapping")
        return target_of(session, block)


def target_of(session: Session, block: BlockDef) -> ImportTarget:
    """The target `block` with its lists and references, read in the caller's session."""
    return ImportTarget(block, _dimension_lists(session, block), _references(session, block))


def _dimension_lists(session: Session, block: BlockDef) -> dict[uuid.UUID, BlockDef]:
    ids = {p.referenced_block_id for p in block.properties if p.type is PropertyType.DIMENSION}
    ids |= {d.list_id for d in block.dimensions}
    lists = {}
    for list_id in ids:
        if list_id is not None:
            stored = session.get(Block, list_id)
            assert stored is not None
            lists[list_id] = to_def(stored)
    return lists


def _references(session: Session, block: BlockDef) -> list[Reference]:
    """Columns of other blocks holding this Dimension List's item ids (for clearing it)."""
    if block.kind is not BlockKind.DIMENSION_LIST:
        return []
    return [
        Reference(use.definition.table_name, use.column_name, f"{use.block.name} ({use.how})")
        for use in uses_of_list(session, block.id)
    ]


class FileDoesNotMatch(Exception):
    """The file lacks columns the mapping uses."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def refuse_unmatched_file(block: BlockDef, mapping: Mapping, source: Source) -> None:
    """Raises FileDoesNotMatch, naming the file, when it lacks columns `mapping` uses."""
    problems = check_mapping(block, mapping, source.columns)
    if problems:
        raise FileDoesNotMatch(f"{source.name}: " + " ".join(problems))


def open_file(path: Path, settings: FileSettings, limit: WorkLimit | None = None) -> Source:
    """The file at `path` read with `settings`. Raises Invalid (field `file`) when it cannot
    be read, with the reader's message."""
    try:
        return open_source(path, settings, limit=limit)
    except FileUnreadable as error:
        raise Invalid(error.message, field="file") from None
    except OSError as error:
        raise Invalid(
            f"The file could not be read: {error.strerror or error}.", field="file"
        ) from None


def run_step(connection: Connection, step: ImportStep) -> ImportResult:
    """The pipeline for `step` in the caller's transaction on `connection`."""
    target = step.target
    return import_file(
        connection,
        target.block,
        target.lists,
        step.source,
        step.mapping,
        started_at=utc_now(),
        row_limit=step.row_limit,
        preview_rows=step.preview_rows,
        on_progress=step.on_progress,
        references=target.references,
    )


def lock_block(connection: Connection, block: BlockDef) -> None:
    """Two imports into one block never interleave. SQLite: the write transaction already holds
    the database's write lock (BEGIN IMMEDIATE). PostgreSQL: an advisory lock per block, held
    until the transaction ends."""
    if connection.dialect.name == "postgresql":
        key = int.from_bytes(block.id.bytes[:8], "big", signed=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        # The merge groups and joins millions of staged rows: let them hash in memory rather
        # than sort on disk (for this transaction only).
        connection.execute(text(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'"))
