"""The embedded default (SQLite) while an import runs: every page answers, "Start an import
right now" queues, the scheduler fires, progress is written, and nothing fails with "database
is locked" (docs/operations.md states the guarantee)."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from planport.domain.blocks import BlockDef
from planport.domain.clock import utc_now
from planport.domain.enums import BlockKind, ValueType
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus
from planport.domain.mapping import VALUE, Mapping
from planport.domain.members import Actor
from planport.execution import QueueOnly
from planport.services import blocks
from planport.services.blocks import items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import runs
from planport.services.scheduling import firing, schedules
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import ImportRun, MemberSession
from tests.integration.builders import PASSWORD
from tests.integration.import_builders import field, mapping
from tests.integration.schedule_builders import daily, folder_configuration, product_list

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ACCOUNTS, PERIODS = 1_000, 400  # 400,000 cells: an import of several seconds on SQLite


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the guarantee is the embedded default's (PostgreSQL has row locks)."""
    return f"sqlite:///{tmp_path / 'planport.db'}"


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    (tmp_path / "imports").mkdir()
    return Settings(data_dir=tmp_path, database_url=db.url, import_root=tmp_path / "imports")


@pytest.fixture
def client(db: Database, settings: Settings, admin: Actor) -> Iterator[TestClient]:
    with TestClient(create_app_for(settings, db), follow_redirects=False) as test:
        token = CSRF.findall(test.get("/login").text)[0]
        test.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
        test.headers["X-CSRF-Token"] = CSRF.findall(test.get("/account").text)[0]
        yield test


def create_app_for(settings: Settings, db: Database) -> object:
    from planport.web import create_app

    return create_app(settings, db, QueueOnly())


def big_metric(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    tmp_path: Path,
    *,
    accounts: int = ACCOUNTS,
) -> tuple[BlockDef, Path, Mapping]:
    account = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Account")
    period = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Period")
    items.write_items(db, admin, account.id, [{"Code": f"A{a:05d}"} for a in range(accounts)])
    items.write_items(db, admin, period.id, [{"Code": f"P{p:03d}"} for p in range(PERIODS)])
    metric = blocks.create_metric(
        db, admin, app.id, "Amount", ValueType.NUMBER, [account.id, period.id]
    )
    path = tmp_path / "amounts.csv"
    with path.open("w") as out:
        out.write("Account,Period,Amount\n")
        for a in range(accounts):
            out.writelines(f"A{a:05d},P{p:03d},{a}.{p}\n" for p in range(PERIODS))
    chosen = mapping(
        field(account.id, "Account"), field(period.id, "Period"), field(VALUE, "Amount")
    )
    return metric, path, chosen


def status_of(db: Database, run_id: uuid.UUID) -> tuple[str, int]:
    with db.read() as session:
        run = session.get(ImportRun, run_id)
        assert run is not None
        return run.status, run.rows_done


def test_pages_run_now_and_the_scheduler_work_while_an_import_writes_sqlite(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    settings: Settings,
    client: TestClient,
    tmp_path: Path,
) -> None:
    metric, path, chosen = big_metric(db, admin, app, tmp_path)
    products: BlockDef = product_list(db, admin, app, "Product")
    configuration = folder_configuration(db, admin, products, folder=settings.import_root)
    suppliers = product_list(db, admin, app, "Supplier")
    scheduled = folder_configuration(db, admin, suppliers, "Suppliers from ERP")
    schedule = schedules.create_schedule(db, admin, scheduled.id, daily("2026-01-05T06:00", "UTC"))
    big = runs.start_import(db, admin, metric.id, path, FileSettings(), chosen)
    assert runs.claim_run(db, big, "worker-1")
    importing = threading.Thread(
        target=runs.execute_run, args=(db, big, "worker-1"), kwargs={"settings": settings}
    )
    # Every page request from here on finds its session due for renewal (a write).
    with db.write() as session:
        session.execute(update(MemberSession).values(expires_at=utc_now() + timedelta(hours=1)))
    importing.start()
    answers: list[tuple[str, int]] = []
    while_running: dict[str, object] = {}
    try:
        while status_of(db, big)[0] == RunStatus.QUEUED.value or status_of(db, big)[1] == 0:
            if not importing.is_alive():
                break
            importing.join(0.02)
        for page in (
            f"/blocks/{metric.id}",
            f"/runs/{big}",
            f"/applications/{app.id}/scheduling",
            f"/blocks/{products.id}",
        ):
            answers.append((page, client.get(page).status_code))
        started = client.post(
            f"/applications/{app.id}/scheduling/configurations/{configuration.id}/start"
        )
        answers.append(("start right now", started.status_code))
        while_running["queued"] = queued_runs(db, configuration.id)
        assert schedule.next_fire_at is not None
        firing.fire_due(db, schedule.next_fire_at + timedelta(seconds=1))
        while_running["fired"] = schedule_fired(db, schedule.id)
        while_running["big"] = status_of(db, big)
    finally:
        importing.join(300)
    assert all(code in (200, 303) for _, code in answers), answers
    big_status, rows_done = while_running["big"]  # type: ignore[misc]
    assert big_status == RunStatus.RUNNING.value, "the import ended before the checks ran"
    assert rows_done > 0, "the import's progress was not written while it ran"
    assert while_running["queued"] == 1
    assert while_running["fired"]
    final, _ = status_of(db, big)
    assert final == RunStatus.COMPLETED.value
    with db.read() as session:
        cells = session.scalar(select(func.count()).select_from(text(metric.table_name)))
    assert cells == ACCOUNTS * PERIODS


def queued_runs(db: Database, configuration_id: uuid.UUID) -> int:
    with db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(ImportRun)
                .where(ImportRun.configuration_id == configuration_id)
            )
            or 0
        )


def schedule_fired(db: Database, schedule_id: uuid.UUID) -> bool:
    with db.read() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(ImportRun)
                .where(ImportRun.schedule_id == schedule_id)
            )
            or 0
        ) > 0


def test_a_configuration_changed_by_its_block_is_read_while_another_process_writes(
    db: Database, admin: Actor, app: ApplicationView, tmp_path: Path
) -> None:
    import sqlite3

    from planport.domain.enums import PropertyType
    from planport.domain.mapping import CODE, NAME
    from planport.services.imports import configurations

    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    region = blocks.add_property(db, admin, country.id, "Region", PropertyType.TEXT)
    region_id = region.properties[0].id
    chosen = mapping(field(CODE, "Code"), field(NAME, "Name"), field(region_id, "Region"))
    saved = configurations.save_configuration(
        db, admin, country.id, "Countries", FileSettings(), chosen
    )
    blocks.remove_property(db, admin, country.id, region_id, confirmed=True)
    impatient = Database(db.url, sqlite_busy_timeout_ms=200)
    other_process = sqlite3.connect(str(tmp_path / "planport.db"), isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # another process writing, e.g. an import
    try:
        found = configurations.get_configuration(impatient, admin, saved.id)
        listed = configurations.list_configurations(impatient, admin, country.id)
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
        impatient.dispose()
    assert found.error is not None
    assert "was deleted from 'Country'" in found.error
    assert [c.error for c in listed] == [found.error]


def test_a_configuration_page_and_the_command_line_answer_while_an_import_runs(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    settings: Settings,
    client: TestClient,
    tmp_path: Path,
) -> None:
    """Reads do not write: opening a configuration's page waits for no import, and
    `planport import run` into another block lands while a long import is under way."""
    from planport.domain.mapping import CODE, NAME
    from planport.services.imports import configurations
    from tests.integration.test_cli import planport

    # 2,000,000 cells: long enough on SQLite to outlast the command line's start.
    metric, path, chosen = big_metric(db, admin, app, tmp_path, accounts=5 * ACCOUNTS)
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    countries = configurations.save_configuration(
        db,
        admin,
        country.id,
        "Countries",
        FileSettings(),
        mapping(field(CODE, "Code"), field(NAME, "Name")),
    )
    small = tmp_path / "countries.csv"
    small.write_text("Code,Name\nFR,France\nDE,Germany\n")
    big = runs.start_import(db, admin, metric.id, path, FileSettings(), chosen)
    assert runs.claim_run(db, big, "worker-1")
    importing = threading.Thread(
        target=runs.execute_run, args=(db, big, "worker-1"), kwargs={"settings": settings}
    )
    importing.start()
    try:
        while status_of(db, big)[1] == 0 and importing.is_alive():
            importing.join(0.02)
        page = client.get(f"/configurations/{countries.id}")
        cli = planport(
            "import",
            "run",
            str(countries.id),
            str(small),
            "--as",
            admin.email,
            data_dir=tmp_path,
            env={"PLANPORT_DATABASE_URL": db.url},
            timeout=120,
        )
    finally:
        importing.join(300)
    assert page.status_code == 200
    assert "Countries" in page.text
    assert cli.returncode == 0, cli.stderr
    with db.read() as session:
        theirs = session.scalars(
            select(ImportRun).where(ImportRun.configuration_id == countries.id)
        ).one()
        long_one = session.get(ImportRun, big)
        assert long_one is not None
        assert long_one.finished_at is not None
        assert theirs.finished_at is not None
        assert theirs.finished_at < long_one.finished_at, "it waited for the long import"
        landed = session.scalar(select(func.count()).select_from(text(country.table_name)))
    assert landed == 2
    assert status_of(db, big)[0] == RunStatus.COMPLETED.value
