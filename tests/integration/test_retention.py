"""History retention: old runs go, but each configuration keeps its last 50 runs."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, insert, select

from planport.domain.members import Actor
from planport.services.blocks.applications import ApplicationView
from planport.services.scheduling import history
from planport.store.db import Database
from planport.store.models import ImportRun
from tests.integration.schedule_builders import at, folder_configuration, product_list

NOW = at("2026-12-01T12:00")


def add_runs(
    db: Database,
    app: ApplicationView,
    configuration_id: uuid.UUID | None,
    ages_days: list[int],
    status: str = "completed",
) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "application_id": app.id,
            "configuration_id": configuration_id,
            "block_name": "Product",
            "trigger": "manual",
            "status": status,
            "created_at": NOW - timedelta(days=age),
            "file_settings": "{}",
            "mapping": "{}",
        }
        for age in ages_days
    ]
    with db.write() as session:
        session.execute(insert(ImportRun), rows)


def ages(db: Database, configuration_id: uuid.UUID | None) -> list[int]:
    with db.read() as session:
        created = session.scalars(
            select(ImportRun.created_at)
            .where(
                ImportRun.configuration_id == configuration_id
                if configuration_id
                else ImportRun.configuration_id.is_(None)
            )
            .order_by(ImportRun.created_at.desc())
        )
        return [(NOW - c).days for c in created]


def test_runs_past_retention_go_but_each_configuration_keeps_its_last_fifty(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    busy = folder_configuration(db, admin, product_list(db, admin, app, "Product"), "Busy")
    rare = folder_configuration(db, admin, product_list(db, admin, app, "Supplier"), "Rare")
    add_runs(db, app, busy.id, [1] + [200 + n for n in range(60)])  # 1 recent, 60 old
    add_runs(db, app, rare.id, [300, 400])  # old, but among its last fifty
    add_runs(db, app, None, [5, 250])  # runs of no configuration (e.g. deleted since)
    add_runs(db, app, busy.id, [500], status="running")  # never deleted while unfinished

    deleted = history.purge(db, NOW, retention=timedelta(days=183))

    kept_busy = ages(db, busy.id)
    assert len(kept_busy) == 51  # its last 50 finished runs, and the running one
    assert kept_busy[:2] == [1, 200]
    assert 500 in kept_busy
    assert ages(db, rare.id) == [300, 400]
    assert ages(db, None) == [5]
    assert deleted == 60 + 1 - 50 + 1
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(ImportRun)) == 51 + 2 + 1
