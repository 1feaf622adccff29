"""A run as the Import API reports it: the run, the kind of block it imported into, and the
items it created per Dimension List by id (the Import Summary names lists by name)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from planport.domain.api_keys import ApiKeyType
from planport.domain.enums import BlockKind, Permission
from planport.domain.errors import NotFound
from planport.domain.imports import RunStatus
from planport.domain.members import Actor
from planport.domain.summary import ImportSummary, RunError
from planport.services.workspace import access, api_keys
from planport.store.db import Database
from planport.store.models import Block, ImportRun

RUN_NOT_FOUND = "Status with the specified importId was not found"


@dataclass(frozen=True, slots=True)
class ReportedRun:
    """What the report tells of a run: less than a `RunView`, whose mapping, file settings,
    member and key a polling client would pay for on every call and never sees."""

    id: uuid.UUID
    block_id: uuid.UUID | None
    status: RunStatus
    created_at: datetime
    finished_at: datetime | None
    inserted: int
    updated: int
    deleted: int
    skipped: int
    errors: list[RunError]
    summary: ImportSummary | None  # None unless the detailed report was asked for

    @property
    def finished(self) -> bool:
        return self.status.finished

    @classmethod
    def of(cls, row: Any, *, with_summary: bool) -> ReportedRun:
        """From a row of `_REPORTED_RUN`."""
        summary = row.summary if with_summary else None
        return cls(
            id=row.id,
            block_id=row.block_id,
            status=RunStatus(row.status),
            created_at=row.created_at,
            finished_at=row.finished_at,
            inserted=row.inserted,
            updated=row.updated,
            deleted=row.deleted,
            skipped=row.skipped,
            errors=[RunError(**e) for e in json.loads(row.errors)] if row.errors else [],
            summary=ImportSummary.from_json(json.loads(summary)) if summary else None,
        )


@dataclass(frozen=True, slots=True)
class RunReport:
    run: ReportedRun
    block_kind: BlockKind | None  # None when the block was deleted since
    items_created: tuple[tuple[uuid.UUID, int], ...]  # (Dimension List id, items created)


def run_report(
    db: Database, actor: Actor, run_id: uuid.UUID, *, detailed: bool = True
) -> RunReport:
    """The report of run `run_id` (with its Import Summary when `detailed`). Raises NotFound
    for an unknown run and for one `actor` may not read (the same answer: the id of another
    application's run tells nothing)."""
    with db.read() as session:
        return report_in(session, actor, run_id, detailed=detailed)


def keyed_report(
    db: Database,
    presented: str | None,
    address: str,
    run_id: uuid.UUID | None,
    *,
    detailed: bool = True,
) -> RunReport:
    """The report of run `run_id` for the Import key `presented`, both read in one
    transaction: a source system polls this, often every second. Raises KeyRejected first,
    then NotFound for an unknown run, `run_id` None (an id that is no UUID) included."""
    with api_keys.reading_as_key(db, presented, ApiKeyType.IMPORT, address) as (caller, session):
        if run_id is None:
            raise NotFound(RUN_NOT_FOUND)
        return report_in(session, caller.actor, run_id, detailed=detailed, known_active=True)


def report_in(
    session: Session,
    actor: Actor,
    run_id: uuid.UUID,
    *,
    detailed: bool = True,
    known_active: bool = False,
) -> RunReport:
    """`run_report`, inside a caller's read session (`known_active`: see `access.may_in`)."""
    row = session.execute(_REPORTED_RUN, {"run_id": run_id}).first()
    if row is None:
        raise NotFound(RUN_NOT_FOUND)
    if not access.may_in(
        session, actor, Permission.READ, row.application_id, known_active=known_active
    ):
        raise NotFound(RUN_NOT_FOUND)
    run = ReportedRun.of(row, with_summary=detailed)
    counts = run.summary.items_created_count if run.summary else {}
    lists: dict[str, uuid.UUID] = {}
    if counts:
        named = session.execute(
            select(Block.name, Block.id).where(
                Block.application_id == row.application_id,
                Block.kind == BlockKind.DIMENSION_LIST.value,
                Block.name.in_(list(counts)),
            )
        )
        lists = {row.name: row.id for row in named}
    created = tuple((lists[name], count) for name, count in counts.items() if name in lists)
    return RunReport(run, BlockKind(row.block_kind) if row.block_kind else None, created)


# One statement, built once, with only the columns the report tells: a source system may
# poll it every second. The block's kind comes along; loading a Block would load its whole
# definition (properties, dimensions), and a run's mapping and file settings are no part of
# the report.
_REPORTED_RUN = (
    select(
        ImportRun.id,
        ImportRun.application_id,
        ImportRun.block_id,
        ImportRun.status,
        ImportRun.created_at,
        ImportRun.finished_at,
        ImportRun.inserted,
        ImportRun.updated,
        ImportRun.deleted,
        ImportRun.skipped,
        ImportRun.errors,
        ImportRun.summary,
        Block.kind.label("block_kind"),
    )
    .outerjoin(Block, Block.id == ImportRun.block_id)
    .where(ImportRun.id == bindparam("run_id"))
)
