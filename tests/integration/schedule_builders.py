"""Building what scheduling tests need: a configuration fed by a server folder, schedules,
and a clock the tests move by hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from planport.connectors import FolderSource, UploadSource, source_json
from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, NAME
from planport.domain.members import Actor
from planport.scheduling import Repeat
from planport.services import blocks
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations
from planport.services.imports.configurations import ConfigurationView
from planport.services.scheduling.schedules import ScheduleInput
from planport.store.db import Database
from planport.store.models import Application, ImportConfiguration, ImportRun, ScheduleFire
from tests.integration.import_builders import field, mapping, write_csv


@dataclass
class Clock:
    """A clock tests move by hand (aware UTC)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def at(text: str) -> datetime:
    """An aware UTC instant from "2026-03-29T01:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def product_list(db: Database, admin: Actor, app: ApplicationView, name: str) -> BlockDef:
    return blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, name)


def folder_configuration(
    db: Database,
    actor: Actor,
    block: BlockDef,
    name: str = "Products from ERP",
    *,
    folder: Path | None = None,
) -> ConfigurationView:
    """A Dimension List configuration (Code, Name) reading `products.csv` from a server
    folder. The source (and the application's folder: the whole root) is set in the tables
    directly: scheduling tests do not depend on the source forms."""
    saved = configurations.save_configuration(
        db, actor, block.id, name, FileSettings(), mapping(field(CODE, "Code"), field(NAME, "Name"))
    )
    set_source(db, saved.id, FolderSource(path="products.csv"))
    read_whole_root(db, block.application_id)
    if folder is not None:
        write_csv(folder / "products.csv", ["Code", "Name"], [["P1", "Pen"], ["P2", "Paper"]])
    return saved


def read_whole_root(db: Database, application_id: uuid.UUID) -> None:
    """Let the application's folder sources read the whole import root (the folder that
    applications from before per-application folders have): scheduling tests place their
    files at the root and do not depend on folders."""
    with db.write() as session:
        session.execute(
            update(Application).where(Application.id == application_id).values(import_folder="")
        )


def make_upload_only(db: Database, configuration_id: uuid.UUID) -> None:
    set_source(db, configuration_id, UploadSource())


def set_source(
    db: Database, configuration_id: uuid.UUID, spec: FolderSource | UploadSource
) -> None:
    with db.write() as session:
        session.execute(
            update(ImportConfiguration)
            .where(ImportConfiguration.id == configuration_id)
            .values(source=source_json(spec))
        )


def daily(start: str, zone: str = "Europe/Paris", **extra: object) -> ScheduleInput:
    return ScheduleInput(datetime.fromisoformat(start), zone, Repeat.daily(), **extra)  # type: ignore[arg-type]


def fires_of(db: Database, schedule_id: uuid.UUID) -> list[tuple[datetime, str]]:
    with db.read() as session:
        found = session.execute(
            select(ScheduleFire.scheduled_for, ScheduleFire.outcome)
            .where(ScheduleFire.schedule_id == schedule_id)
            .order_by(ScheduleFire.scheduled_for)
        )
        return [(when, outcome) for when, outcome in found]


def runs_of(db: Database, schedule_id: uuid.UUID) -> list[ImportRun]:
    with db.read() as session:
        return list(
            session.scalars(
                select(ImportRun)
                .where(ImportRun.schedule_id == schedule_id)
                .order_by(ImportRun.scheduled_for, ImportRun.created_at)
            )
        )
