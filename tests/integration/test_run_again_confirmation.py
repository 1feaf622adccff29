"""Run again on an Import Summary asks first (GET confirms, POST runs): which file it imports
and when that file came, whether newer imports would be overwritten, and for a configuration
with its own source that it reads that source as it is now. And the summary's actions fit the
run's trigger: the wizard's for an upload through the wizard, the configuration's otherwise."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus, Trigger
from planport.domain.mapping import CODE, NAME
from planport.domain.members import Actor
from planport.execution import QueueOnly
from planport.services import blocks
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, runs
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import ImportRun
from planport.web import create_app
from tests.integration.builders import PASSWORD
from tests.integration.import_builders import field, mapping, write_csv
from tests.integration.schedule_builders import folder_configuration

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CHOSEN = mapping(field(CODE, "Code"), field(NAME, "Name"))


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    """Runs wait in the queue: what Run again queued is looked at, not executed."""
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    with TestClient(create_app(settings, db, QueueOnly()), follow_redirects=False) as test:
        yield test


def log_in(client: TestClient, email: str) -> None:
    token = CSRF.findall(client.get("/login").text)[0]
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    client.headers["X-CSRF-Token"] = CSRF.findall(client.get("/account").text)[0]


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    return blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")


def imported(
    db: Database, admin: Actor, block: BlockDef, path: Path, rows: list[list[str]], **extra: object
) -> uuid.UUID:
    """An upload imported into `block` (through the wizard unless `extra` says otherwise)."""
    write_csv(path, ["Code", "Name"], rows)
    done = runs.run_import(db, admin, block.id, path, FileSettings(), CHOSEN, **extra)  # type: ignore[arg-type]
    assert done.status is RunStatus.COMPLETED
    return done.id


def test_run_again_on_a_summary_asks_first_naming_the_file_and_its_upload(
    client: TestClient, db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    first = imported(db, admin, country, tmp_path / "countries.csv", [["FR", "France"]])
    log_in(client, admin.email)
    summary = client.get(f"/runs/{first}")
    # One click no longer imports: the summary links to a confirmation.
    assert f'href="/runs/{first}/again"' in summary.text
    assert f'action="/runs/{first}/again"' not in summary.text

    confirmation = client.get(f"/runs/{first}/again")
    assert confirmation.status_code == 200
    text = confirmation.text
    assert "Run this import again?" in text
    assert "<strong>countries.csv</strong>" in text
    assert "uploaded 20" in text  # the upload's date and time
    assert "Newer imports exist" not in text
    assert f'action="/runs/{first}/again"' in text
    assert len(runs.list_runs(db, admin, country.id)) == 1  # the confirmation ran nothing

    queued = client.post(f"/runs/{first}/again")
    assert queued.status_code == 303
    new_id = uuid.UUID(queued.headers["location"].rsplit("/", 1)[-1])
    assert runs.get_run(db, admin, new_id).status is RunStatus.QUEUED


def test_run_again_of_an_older_run_warns_that_newer_imports_would_be_overwritten(
    client: TestClient, db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    old = imported(db, admin, country, tmp_path / "january.csv", [["FR", "France"]])
    newer = imported(db, admin, country, tmp_path / "february.csv", [["FR", "République"]])
    latest = runs.get_run(db, admin, newer)
    log_in(client, admin.email)

    text = client.get(f"/runs/{old}/again").text
    assert "Newer imports exist" in text
    assert "1 import into Country ran after this one" in text
    assert "would overwrite what it wrote" in text
    assert latest.created_at.strftime("%Y-%m-%d") in text
    assert "Newer imports exist" not in client.get(f"/runs/{newer}/again").text


def test_run_again_of_a_folder_configuration_says_it_reads_the_folder_as_it_is_now(
    client: TestClient, db: Database, admin: Actor, country: BlockDef
) -> None:
    configuration = folder_configuration(db, admin, country, "Countries from ERP")
    run_id = runs.start_configuration_run(db, admin, configuration.id)
    log_in(client, admin.email)
    text = client.get(f"/runs/{run_id}/again").text
    assert "It reads its source as it is now" in text
    assert "the file products.csv in the server folder" in text
    assert "<strong>Countries from ERP</strong>" in text
    assert "uploaded" not in text


def test_run_again_of_a_run_whose_upload_was_swept_says_so_and_offers_no_button(
    client: TestClient, db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = tmp_path / "countries.csv"
    first = imported(db, admin, country, path, [["FR", "France"]])
    path.unlink()
    log_in(client, admin.email)
    page = client.get(f"/runs/{first}/again")
    assert page.status_code == 200
    assert "is no longer available" in page.text
    assert f'action="/runs/{first}/again"' not in page.text


def test_a_reader_may_not_open_run_again(
    client: TestClient,
    db: Database,
    admin: Actor,
    country: BlockDef,
    tmp_path: Path,
    member_as: Callable[[str], Actor],
) -> None:
    first = imported(db, admin, country, tmp_path / "countries.csv", [["FR", "France"]])
    log_in(client, member_as("Reader").email)
    assert f"/runs/{first}/again" not in client.get(f"/runs/{first}").text
    assert client.get(f"/runs/{first}/again").status_code == 403
    assert client.post(f"/runs/{first}/again").status_code == 403


# ---------------------------------------------------------------- the summary's actions


def saved_configuration(db: Database, admin: Actor, block: BlockDef) -> uuid.UUID:
    return configurations.save_configuration(
        db, admin, block.id, "Countries", FileSettings(), CHOSEN
    ).id


def wizard_actions(text: str) -> set[str]:
    return {a for a in ("Import another file", "Save as import configuration") if a in text}


def test_a_wizard_upload_summary_offers_the_wizard_actions(
    client: TestClient, db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    run_id = imported(db, admin, country, tmp_path / "countries.csv", [["FR", "France"]])
    log_in(client, admin.email)
    text = client.get(f"/runs/{run_id}").text
    assert wizard_actions(text) == {"Import another file", "Save as import configuration"}
    assert "Open configuration" not in text


@pytest.mark.parametrize("trigger", [Trigger.SCHEDULE, Trigger.MANUAL, Trigger.RUN_AGAIN])
def test_a_configuration_run_summary_links_to_its_configuration_schedules_and_history(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    tmp_path: Path,
    trigger: Trigger,
) -> None:
    cid = saved_configuration(db, admin, country)
    run_id = imported(
        db,
        admin,
        country,
        tmp_path / "countries.csv",
        [["FR", "France"]],
        trigger=trigger,
        configuration_id=cid,
    )
    log_in(client, admin.email)
    text = client.get(f"/runs/{run_id}").text
    assert wizard_actions(text) == set()
    assert f'href="/configurations/{cid}">Open configuration Countries' in text
    assert f'href="/applications/{app.id}/scheduling#section-{cid}"' in text
    assert f'href="/applications/{app.id}/history?configuration={cid}"' in text


def test_a_retried_run_summary_offers_no_wizard_actions(
    client: TestClient, db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    first = imported(db, admin, country, tmp_path / "countries.csv", [["FR", "France"]])
    retry = imported(db, admin, country, tmp_path / "countries.csv", [["FR", "France"]])
    with db.write() as session:
        session.execute(
            update(ImportRun).where(ImportRun.id == retry).values(attempt=2, retry_of=first)
        )
    log_in(client, admin.email)
    assert wizard_actions(client.get(f"/runs/{retry}").text) == set()
    assert wizard_actions(client.get(f"/runs/{first}").text) != set()


def test_a_reader_sees_the_configuration_link_but_not_schedules_or_history(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    tmp_path: Path,
    member_as: Callable[[str], Actor],
) -> None:
    cid = saved_configuration(db, admin, country)
    run_id = imported(
        db,
        admin,
        country,
        tmp_path / "countries.csv",
        [["FR", "France"]],
        trigger=Trigger.SCHEDULE,
        configuration_id=cid,
    )
    log_in(client, member_as("Reader").email)
    text = client.get(f"/runs/{run_id}").text
    assert f'href="/configurations/{cid}"' in text
    assert "/scheduling" not in text
    assert "/history" not in text
