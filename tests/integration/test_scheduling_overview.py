"""What the tour of the Import Scheduling page found: the Success flag beside Failed, the
configurations that cannot be scheduled (and have no schedule) folded under one line, the
sidebar entry, every mistake of the schedule form at once, "Next fire" for one fire, and
proper trigger labels."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from planport.domain.blocks import BlockDef
from planport.domain.members import Actor
from planport.scheduling import Repeat
from planport.services.blocks.applications import ApplicationView
from planport.services.imports.configurations import ConfigurationView
from planport.services.scheduling import schedules
from planport.services.scheduling.overview import Blocker, folded_line
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import ImportConfiguration
from planport.web import create_app
from tests.integration.history_builders import a_run
from tests.integration.schedule_builders import (
    daily,
    folder_configuration,
    make_upload_only,
    product_list,
)
from tests.integration.test_import_pages import log_in
from tests.integration.test_scheduling_pages import base, post_form, text_of


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db.url, run_retries=0)
    (tmp_path / "imports").mkdir()
    with TestClient(create_app(settings, db), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def admin_client(client: TestClient, admin: Actor) -> TestClient:
    client.headers["X-CSRF-Token"] = log_in(client, admin.email)
    return client


@pytest.fixture
def products(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    return product_list(db, admin, app, "Product")


@pytest.fixture
def configuration(db: Database, admin: Actor, products: BlockDef) -> ConfigurationView:
    return folder_configuration(db, admin, products)


def section_html(page: str, configuration_id: uuid.UUID) -> str:
    """The HTML of one configuration's section of the page."""
    start = page.index(f'aria-labelledby="section-{configuration_id}"')
    return page[start : page.index("</section>", start)]


def test_a_last_run_that_completed_shows_success_on_its_configuration_and_schedule(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    products: BlockDef,
    tmp_path: Path,
) -> None:
    imported = folder_configuration(db, admin, products, folder=tmp_path / "imports")
    schedule = schedules.create_schedule(db, admin, imported.id, daily("2030-03-28T02:30"))
    a_run(db, imported, "completed", trigger="schedule", schedule_id=schedule.id)
    with db.write() as session:
        session.execute(update(ImportConfiguration).values(last_run_status="completed"))

    page = admin_client.get(base(app)).text
    shown = section_html(page, imported.id)

    flag = '<span class="tag run-completed flag-success">Success</span>'
    assert shown.count(flag) == 2  # the configuration's and its schedule row's
    assert "flag-failed" not in shown


def test_a_schedule_whose_last_run_failed_shows_failed_in_its_row(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    schedule = schedules.create_schedule(db, admin, configuration.id, daily("2030-03-28T02:30"))
    a_run(db, configuration, "failed", trigger="schedule", schedule_id=schedule.id)

    page = admin_client.get(base(app)).text
    row = page[page.index(f'id="schedule-{schedule.id}"') :]
    row = row[: row.index('class="menu"')]  # up to its actions

    assert '<span class="tag run-failed flag-failed">Failed</span>' in row


def test_configurations_that_cannot_be_scheduled_are_folded_under_one_line_with_the_fix(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    products: BlockDef,
) -> None:
    scheduled = folder_configuration(db, admin, products, "Products from ERP")
    uploads = [folder_configuration(db, admin, products, f"Upload {n}") for n in (1, 2, 3)]
    for each in uploads:
        make_upload_only(db, each.id)
    # One with a schedule stays in full, however it lost its source: its schedule needs care.
    kept = folder_configuration(db, admin, products, "Kept")
    schedules.create_schedule(db, admin, kept.id, daily("2030-03-28T02:30"))
    make_upload_only(db, kept.id)

    page = admin_client.get(base(app))
    text = text_of(page)

    assert f'aria-labelledby="section-{scheduled.id}"' in page.text
    assert f'aria-labelledby="section-{kept.id}"' in page.text
    for each in uploads:
        assert f'aria-labelledby="section-{each.id}"' not in page.text  # no section of its own
        assert f'<a href="/configurations/{each.id}">Upload' in page.text  # listed, folded
    assert (
        "3 configurations read an uploaded file and cannot be scheduled: give them a "
        "server-folder or block source." in text
    )
    folded = page.text[page.text.index('id="folded-configurations"') :]
    assert "<summary>" in folded.split("<ul>")[0]  # the list is behind a disclosure


def test_the_folded_line_names_each_reason_with_its_count_and_fix() -> None:
    line = folded_line([Blocker.UPLOAD, Blocker.IN_ERROR, Blocker.UPLOAD])

    assert line == (
        "3 configurations cannot be scheduled: 2 read an uploaded file (give them a "
        "server-folder or block source); 1 is in error (repair it from its configuration page)."
    )
    assert folded_line([Blocker.UPLOAD]) == (
        "1 configuration reads an uploaded file and cannot be scheduled: give it a "
        "server-folder or block source."
    )
    assert folded_line([]) is None


def test_the_application_sidebar_leads_to_import_scheduling_only_with_import_data(
    db: Database,
    client: TestClient,
    app: ApplicationView,
    admin: Actor,
    member_as: Callable[[str], Actor],
) -> None:
    log_in(client, member_as("Reader").email)
    reader_page = client.get(f"/applications/{app.id}").text
    assert 'class="sidebar"' in reader_page
    assert f'href="{base(app)}"' not in reader_page

    client.cookies.clear()
    log_in(client, admin.email)
    page = client.get(base(app)).text
    sidebar = page[
        page.index('class="sidebar"') : page.index("</nav>", page.index('class="sidebar"'))
    ]

    assert f'<a href="{base(app)}" aria-current="page">Import Scheduling</a>' in sidebar
    assert f'href="/applications/{app.id}/history"' in sidebar


def test_the_schedule_form_shows_every_mistake_at_once_each_beside_its_field(
    admin_client: TestClient,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    response = post_form(
        admin_client,
        f"{base(app)}/new",
        configuration.id,
        time_zone="Europe/Pariss",
        grace_minutes="lots",
        pause_after_failures="0",
        alert_recipients="not-an-address",
    )

    assert response.status_code == 422
    shown = {
        k: html.unescape(v) for k, v in re.findall(r'id="error-([a-z_]+)">(.*?)</p>', response.text)
    }
    assert set(shown) == {"time_zone", "grace_minutes", "pause_after_failures", "alert_recipients"}
    assert "Europe/Paris" in shown["time_zone"]  # the suggestion
    assert "'lots' is not a whole number" in shown["grace_minutes"]
    assert "1 to 100" in shown["pause_after_failures"]


def test_a_missing_configuration_and_a_bad_start_are_both_shown(
    admin_client: TestClient,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    response = post_form(admin_client, f"{base(app)}/new", None, start="")

    assert response.status_code == 422
    assert 'id="error-configuration"' in response.text
    assert 'id="error-start"' in response.text


def test_a_schedule_with_one_fire_left_says_next_fire(
    db: Database,
    admin_client: TestClient,
    admin: Actor,
    app: ApplicationView,
    configuration: ConfigurationView,
) -> None:
    once = daily("2030-03-28T02:30")
    once = schedules.ScheduleInput(once.start, once.time_zone, Repeat.none())
    schedules.create_schedule(db, admin, configuration.id, once)

    page = admin_client.get(base(app)).text

    assert "<summary>Next fire</summary>" in page
    assert "Next 1 fires" not in page


def test_the_history_trigger_filter_names_every_trigger_properly(
    admin_client: TestClient, app: ApplicationView
) -> None:
    page = admin_client.get(f"/applications/{app.id}/history").text
    options = re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', page)

    labels = dict(options)
    assert labels["api"] == "API"
    assert labels["run_again"] == "Run again"
    assert labels["command_line"] == "Command line"
