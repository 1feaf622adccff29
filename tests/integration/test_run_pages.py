"""A run's page while it waits and after: progress polled by htmx, cancel, run again."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from planport.domain.enums import BlockKind
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus
from planport.domain.mapping import CODE, NAME
from planport.domain.members import Actor
from planport.execution import InlineExecutor, QueueOnly
from planport.services import blocks
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import runs
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.integration.builders import PASSWORD
from tests.integration.import_builders import field, mapping, write_csv

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(db: Database, tmp_path: Path, admin: Actor) -> Iterator[TestClient]:
    """Logged in as the admin, over an app whose runs wait in the queue (no executor here)."""
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    with TestClient(create_app(settings, db, QueueOnly()), follow_redirects=False) as test:
        token = CSRF.findall(test.get("/login").text)[0]
        test.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
        test.headers["X-CSRF-Token"] = CSRF.findall(test.get("/account").text)[0]
        yield test


@pytest.fixture
def queued(db: Database, admin: Actor, app: ApplicationView, tmp_path: Path) -> uuid.UUID:
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    path = write_csv(tmp_path / "countries.csv", ["Code", "Name"], [["FR", "France"]])
    chosen = mapping(field(CODE, "Code"), field(NAME, "Name"))
    return runs.start_import(db, admin, country.id, path, FileSettings(), chosen)


def test_a_queued_run_shows_that_it_waits_and_its_progress_is_polled(
    client: TestClient, queued: uuid.UUID
) -> None:
    page = client.get(f"/runs/{queued}")
    assert page.status_code == 200
    assert "Waiting to start" in page.text
    assert f'hx-get="/runs/{queued}/progress"' in page.text
    assert 'hx-trigger="every 1s"' in page.text
    assert "Import Summary</h1>" not in page.text
    fragment = client.get(f"/runs/{queued}/progress", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "Waiting to start" in fragment.text
    assert "HX-Refresh" not in fragment.headers


def test_cancelling_a_queued_run_from_its_page_ends_its_polling(
    client: TestClient, db: Database, admin: Actor, queued: uuid.UUID
) -> None:
    cancelled = client.post(f"/runs/{queued}/cancel")
    assert cancelled.status_code == 303
    assert runs.get_run(db, admin, queued).status is RunStatus.CANCELLED
    fragment = client.get(f"/runs/{queued}/progress", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Refresh"] == "true"
    page = client.get(f"/runs/{queued}")
    assert "The import was cancelled" in page.text
    again = client.post(f"/runs/{queued}/cancel")
    assert again.status_code == 409
    assert "already cancelled" in again.text


def test_run_again_from_a_finished_run_queues_a_new_run_and_shows_it(
    client: TestClient, db: Database, admin: Actor, queued: uuid.UUID, tmp_path: Path
) -> None:
    InlineExecutor(db, Settings(data_dir=tmp_path, database_url=db.url)).submit(queued)
    assert runs.get_run(db, admin, queued).status is RunStatus.COMPLETED
    again = client.post(f"/runs/{queued}/again")
    assert again.status_code == 303
    new_id = uuid.UUID(again.headers["location"].rsplit("/", 1)[-1])
    assert new_id != queued
    assert runs.get_run(db, admin, new_id).status is RunStatus.QUEUED


def test_starting_a_configuration_fed_by_uploads_right_now_is_refused(
    client: TestClient, db: Database, admin: Actor, queued: uuid.UUID
) -> None:
    from planport.services.imports import configurations

    view = runs.get_run(db, admin, queued)
    assert view.block_id is not None
    assert view.mapping is not None
    saved = configurations.save_configuration(
        db, admin, view.block_id, "Countries", FileSettings(), view.mapping
    )
    refused = client.post(f"/configurations/{saved.id}/start")
    assert refused.status_code == 409
    assert "Run with a new file" in refused.text
