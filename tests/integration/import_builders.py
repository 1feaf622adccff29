"""Building what import tests need: CSV files on disk, mappings, and runs read back."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from planport.domain.file_settings import FileSettings
from planport.domain.mapping import (
    FieldMapping,
    ImportOptions,
    Mapping,
    MatchBy,
    PivotMapping,
    SourceColumn,
    UnknownItems,
)
from planport.domain.members import Actor
from planport.domain.summary import RejectGroup
from planport.services.imports import runs
from planport.services.imports.runs import RunView
from planport.store.db import Database
from planport.store.models import ImportRun, ImportRunReject


def write_csv(
    path: Path, header: Sequence[str] | None, rows: Sequence[Sequence[str]], **dialect: Any
) -> Path:
    """Write a CSV file with Python's csv module (quoting only where needed)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, **dialect)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def field(
    target: str | uuid.UUID,
    column: str | None = None,
    *,
    constant: str | None = None,
    load_timestamp: bool = False,
    match_by: MatchBy = MatchBy.CODE,
    unknown: UnknownItems = UnknownItems.SKIP,
) -> FieldMapping:
    """One mapped target, from a file column (default), a constant or the load timestamp."""
    return FieldMapping(
        target=str(target),
        source=SourceColumn(column=column, constant=constant, load_timestamp=load_timestamp),
        match_by=match_by,
        unknown_items=unknown,
    )


def mapping(*fields: FieldMapping, pivot: PivotMapping | None = None, **options: Any) -> Mapping:
    return Mapping(
        fields=list(fields),
        pivot=pivot,
        options=ImportOptions(**options),
    )


def run(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    path: Path,
    chosen: Mapping,
    settings: FileSettings | None = None,
) -> RunView:
    return runs.run_import(db, actor, block_id, path, settings or FileSettings(), chosen)


def group(run_view: RunView, reason: str, column: str | None = None) -> RejectGroup:
    """The run's reject group for `reason` (and `column`); fails the test when there is none."""
    assert run_view.summary is not None, run_view.errors
    found = [
        g
        for g in run_view.summary.groups
        if g.reason == reason and (column is None or g.column == column)
    ]
    assert len(found) == 1, [(g.reason, g.column) for g in run_view.summary.groups]
    return found[0]


def sample_lines(reject_group: RejectGroup) -> list[int]:
    return [s.line for s in reject_group.samples]


def rejects_text(db: Database, actor: Actor, run_id: uuid.UUID) -> str:
    return "".join(runs.rejects_csv(db, actor, run_id))


def run_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ImportRun)) or 0


def reject_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ImportRunReject)) or 0
