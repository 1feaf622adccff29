"""The Source section of a configuration's page and "New copy from another block" on a block's
imports, over a real database (FastAPI TestClient)."""

from __future__ import annotations

import html
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient

from planport.connectors import BlockSource, FolderSource, UploadSource
from planport.domain.enums import ValueType
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.imports import configurations, sources
from planport.services.imports.configurations import ConfigurationView
from planport.store.db import Database
from tests.integration.builders import grant
from tests.integration.import_builders import field, mapping, write_csv
from tests.integration.test_import_pages import (  # noqa: F401 - fixtures
    Model,
    admin_client,
    client,
    log_in,
    model,
)


@pytest.fixture
def saved(db: Database, admin: Actor, model: Model) -> ConfigurationView:  # noqa: F811
    return configurations.save_configuration(
        db, admin, model.country, "Countries", FileSettings(), mapping(field(CODE, "Code"))
    )


@pytest.fixture
def forecast(db: Database, admin: Actor, model: Model) -> uuid.UUID:  # noqa: F811
    return blocks.create_metric(
        db, admin, model.application.id, "Forecast", ValueType.NUMBER, [model.country, model.month]
    ).id


def text_of(page: str) -> str:
    """The page's text, tags removed and whitespace folded, for reading it as a person does."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_source_section_shows_an_upload_cannot_be_scheduled(
    admin_client: TestClient,  # noqa: F811
    saved: ConfigurationView,
) -> None:
    page = admin_client.get(f"/configurations/{saved.id}")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Reads A file given with each run (upload)" in shown
    assert configurations.UPLOAD_NOT_SCHEDULABLE in shown
    assert 'value="upload" checked' in page.text


def test_a_folder_pattern_is_saved_and_the_page_shows_the_file_a_run_reads_now(
    admin_client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    saved: ConfigurationView,
    tmp_path: Path,
) -> None:
    root = tmp_path / "imports" / "budget-2025"
    root.mkdir(parents=True)
    check = admin_client.get(
        f"/configurations/{saved.id}/source/check", params={"location": "erp/*.csv"}
    )
    assert "No file matches erp/*.csv in the application's import folder." in text_of(check.text)
    (root / "erp").mkdir()
    write_csv(root / "erp" / "countries_1.csv", ["Code"], [["FR"]])
    response = admin_client.post(
        f"/configurations/{saved.id}/source", data={"kind": "folder", "location": "erp/*.csv"}
    )
    assert response.status_code == 303, response.text
    assert configurations.get_configuration(db, admin, saved.id).source == FolderSource(
        pattern="erp/*.csv"
    )
    shown = text_of(admin_client.get(response.headers["location"]).text)
    assert "Server folder: the most recent file matching erp/*.csv" in shown
    assert f"Folder {root}" in shown
    assert "A run now reads erp/countries_1.csv" in shown
    assert "It can run by itself, on a schedule." in shown
    back = admin_client.post(f"/configurations/{saved.id}/source", data={"kind": "upload"})
    assert back.status_code == 303
    assert configurations.get_configuration(db, admin, saved.id).source == UploadSource()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "folder", "location": "../etc/x.csv"}, "uses '..'"),
        ({"kind": "folder", "location": "/etc/passwd"}, "is absolute"),
        ({"kind": "folder", "location": " "}, "Give the path or pattern"),
        ({"kind": "block", "source_block_id": ""}, "Choose the block to copy from."),
        ({"kind": "block", "source_block_id": str(uuid.uuid4())}, "source block does not exist"),
        ({"kind": "push"}, "Choose where the configuration reads from."),
    ],
)
def test_a_source_that_cannot_be_used_is_explained_next_to_the_form_and_nothing_changes(
    admin_client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    saved: ConfigurationView,
    data: dict[str, str],
    message: str,
) -> None:
    response = admin_client.post(f"/configurations/{saved.id}/source", data=data)
    assert response.status_code == 422
    assert message in text_of(response.text)
    assert configurations.get_configuration(db, admin, saved.id).source == UploadSource()


def test_a_copy_from_another_block_is_created_from_the_block_imports(
    admin_client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    model: Model,  # noqa: F811
    forecast: uuid.UUID,
) -> None:
    imports_page = admin_client.get(f"/blocks/{forecast}/imports")
    assert "New copy from another block" in imports_page.text
    options = re.findall(r'<option value="([0-9a-f-]{36})"', imports_page.text)
    assert options == [str(model.revenue)]  # only the metric of the same shape
    response = admin_client.post(
        f"/blocks/{forecast}/imports/copy",
        data={"source_block_id": str(model.revenue), "name": "Actuals", "description": ""},
    )
    assert response.status_code == 303, response.text
    created_id = uuid.UUID(response.headers["location"].rsplit("/", 1)[1])
    created = configurations.get_configuration(db, admin, created_id)
    assert created.source == BlockSource(block_id=model.revenue)
    shown = text_of(admin_client.get(f"/configurations/{created_id}").text)
    assert "Reads Another block: Revenue" in shown
    refused = admin_client.post(
        f"/blocks/{forecast}/imports/copy",
        data={"source_block_id": str(model.month), "name": "Wrong"},
    )
    assert refused.status_code == 422
    assert "A Metric copies only from a Metric; 'Month' is a Dimension List." in text_of(
        refused.text
    )


def test_the_source_of_a_configuration_can_be_changed_to_another_block(
    admin_client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    model: Model,  # noqa: F811
    forecast: uuid.UUID,
) -> None:
    saved = configurations.save_configuration(
        db,
        admin,
        forecast,
        "Forecast file",
        FileSettings(),
        mapping(field(model.country, "C"), field(model.month, "M"), field("value", "V")),
    )
    response = admin_client.post(
        f"/configurations/{saved.id}/source",
        data={"kind": "block", "source_block_id": str(model.revenue), "location": ""},
    )
    assert response.status_code == 303, response.text
    changed = configurations.get_configuration(db, admin, saved.id)
    assert changed.source == BlockSource(block_id=model.revenue)
    assert {f.source.column for f in changed.mapping.fields} == {"Country", "Month", "Revenue"}


def test_a_member_without_import_data_sees_the_source_but_cannot_change_it(
    client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    member: Actor,
    model: Model,  # noqa: F811
    saved: ConfigurationView,
) -> None:
    grant(db, admin, model.application.id, member.email, "Reader")
    client.headers["X-CSRF-Token"] = log_in(client, member.email)
    page = client.get(f"/configurations/{saved.id}")
    assert page.status_code == 200
    assert "Change the source" not in page.text
    response = client.post(f"/configurations/{saved.id}/source", data={"kind": "upload"})
    assert response.status_code == 403


def test_edit_of_a_folder_configuration_opens_the_wizard_on_the_file_a_run_reads_now(
    admin_client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    saved: ConfigurationView,
    tmp_path: Path,
) -> None:
    root = tmp_path / "imports" / "budget-2025"
    (root / "erp").mkdir(parents=True)
    sources.set_source(db, admin, saved.id, FolderSource(pattern="erp/*.csv"))
    opened = admin_client.get(f"/configurations/{saved.id}/edit")
    assert "No file matches erp/*.csv in the application's import folder." in text_of(opened.text)
    assert "/edit/current" not in opened.text

    write_csv(root / "erp" / "countries_2.csv", ["Code", "Name"], [["FR", "France"]])
    opened = admin_client.get(f"/configurations/{saved.id}/edit")
    assert "a run now reads erp/countries_2.csv" in text_of(opened.text)
    continued = admin_client.post(f"/configurations/{saved.id}/edit/current")
    assert continued.status_code == 303, continued.text
    wizard, _, query = continued.headers["location"].partition("?")
    carried = {k: v[0] for k, v in parse_qs(query).items()}
    assert carried["editing"] == str(saved.id)
    (root / "erp" / "countries_2.csv").write_text("Other\nx\n")  # the sample is a copy
    step2 = admin_client.get(f"{wizard}/mapping", params=carried)
    assert step2.status_code == 200, step2.text
    assert "Save into Countries" in step2.text
    assert 'value="column:Name"' in step2.text  # the columns of the file when Edit began
    assert "column:Other" not in step2.text


def test_edit_of_a_folder_configuration_whose_file_went_away_says_so(
    admin_client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    saved: ConfigurationView,
    tmp_path: Path,
) -> None:
    (tmp_path / "imports").mkdir()
    sources.set_source(db, admin, saved.id, FolderSource(path="erp/countries.csv"))
    response = admin_client.post(f"/configurations/{saved.id}/edit/current")
    assert response.status_code == 422
    shown = text_of(response.text)
    assert shown.count("erp/countries.csv") == 1, shown  # said once, in the folder's card
    assert "Or choose a sample file" in response.text


def test_edit_of_a_block_copy_leads_to_its_source(
    admin_client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    model: Model,  # noqa: F811
    forecast: uuid.UUID,
) -> None:
    copy = configurations.create_block_configuration(db, admin, forecast, model.revenue, "Actuals")
    response = admin_client.get(f"/configurations/{copy.id}/edit", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/configurations/{copy.id}#source-title"


def test_a_reader_cannot_list_the_application_folder_through_the_source_check(
    client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    member: Actor,
    model: Model,  # noqa: F811
    saved: ConfigurationView,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "imports" / "budget-2025"
    folder.mkdir(parents=True)
    write_csv(folder / "salaries_2027.csv", ["Code"], [["FR"]])
    grant(db, admin, model.application.id, member.email, "Reader")
    client.headers["X-CSRF-Token"] = log_in(client, member.email)

    check = client.get(f"/configurations/{saved.id}/source/check", params={"location": "*.csv"})

    assert check.status_code == 403
    assert "salaries_2027" not in check.text
    assert "Import Data" in text_of(check.text)


def test_only_workspace_admins_see_where_the_application_folder_is_on_the_server(
    client: TestClient,  # noqa: F811
    db: Database,
    admin: Actor,
    member: Actor,
    model: Model,  # noqa: F811
    saved: ConfigurationView,
    tmp_path: Path,
) -> None:
    sources.set_source(db, admin, saved.id, FolderSource(pattern="erp/*.csv"))
    grant(db, admin, model.application.id, member.email, "Admin")
    client.headers["X-CSRF-Token"] = log_in(client, member.email)

    page = text_of(client.get(f"/configurations/{saved.id}").text)
    settings_page = text_of(client.get(f"/applications/{model.application.id}/settings").text)

    assert str(tmp_path) not in page
    assert "Folder budget-2025/" in page
    assert str(tmp_path) not in settings_page
    assert "A workspace admin chooses it." in settings_page
