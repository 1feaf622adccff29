"""A run as the Import API reports it: the run, the kind of block it imported into, and the
items it created per Dimension List by id (the Import Summary names lists by name)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from planport.domain.enums import BlockKind, Permission
from planport.domain.errors import NotFound
from planport.domain.members import Actor
from planport.services.imports.runs.views import RunView, _run_view
from planport.services.workspace import access
from planport.store.db import Database
from planport.store.models import Block, ImportRun

RUN_NOT_FOUND = "Status with the specified importId was not found"


@dataclass(frozen=True, slots=True)
class RunReport:
    run: RunView
    block_kind: BlockKind | None  # None when the block was deleted since
    items_created: tuple[tuple[uuid.UUID, int], ...]  # (Dimension List id, items created)


def run_report(db: Database, actor: Actor, run_id: uuid.UUID) -> RunReport:
    """The report of run `run_id`. Raises NotFound for an unknown run and for one `actor` may
    not read (the same answer: the id of another application's run tells nothing)."""
    with db.read() as session:
        row = session.get(ImportRun, run_id)
        if row is None or not access.may_in(session, actor, Permission.READ, row.application_id):
            raise NotFound(RUN_NOT_FOUND)
        run = _run_view(session, row)
        # One column, not the block: loading a Block loads its whole definition (properties,
        # dimensions), four statements a polling client would pay on every status call.
        kind = (
            session.scalar(select(Block.kind).where(Block.id == row.block_id))
            if row.block_id
            else None
        )
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
    return RunReport(run, BlockKind(kind) if kind else None, created)
