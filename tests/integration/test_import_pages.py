"""The import wizard's pages over a real database: upload → file settings → mapping → check →
run → Import Summary → save as configuration → run the configuration, and every refusal."""

from __future__ import annotations

import html
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus
from planport.domain.members import Actor
from planport.services import blocks, imports
from planport.services.blocks import applications, items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, runs
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.integration.builders import PASSWORD, grant, grid

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COUNTRIES = b"Code,Name,Region\nFR,France,EMEA\nDE,Germany,EMEA\nJP,Japan,APAC\n"
EMPLOYEES = (
    b"Employee ID,Country,Salary,Start date\n"
    b"E1,FR,1000,2027-01-04\n"
    b"E2,FR,lots,2027-01-05\n"
    b"E3,XX,3000,2027-01-06\n"
    b"E4,DE,4000,31/02/2027\n"
)
PIVOTED = b"Country,2027-01,2027-02\nFR,10,11\nDE,20,21\n"


@dataclass(frozen=True, slots=True)
class Model:
    application: ApplicationView
    country: uuid.UUID
    month: uuid.UUID
    employees: uuid.UUID
    revenue: uuid.UUID


@pytest.fixture
def model(db: Database, admin: Actor, app: ApplicationView) -> Model:
    """Country and Month lists, an Employees Transaction List and a Revenue Metric."""
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country").id
    blocks.add_property(db, admin, country, "Region", PropertyType.TEXT)
    items.write_items(db, admin, country, [{"Code": "FR", "Name": "France", "Region": "EMEA"}])
    items.write_items(db, admin, country, [{"Code": "DE", "Name": "Germany", "Region": "EMEA"}])
    month = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Month").id
    items.write_items(db, admin, month, [{"Code": "2027-01"}, {"Code": "2027-02"}])
    employees = blocks.create_list(db, admin, app.id, BlockKind.TRANSACTION_LIST, "Employees").id
    blocks.add_property(db, admin, employees, "Employee ID", PropertyType.TEXT)
    blocks.add_property(
        db, admin, employees, "Country", PropertyType.DIMENSION, referenced_list_id=country
    )
    blocks.add_property(db, admin, employees, "Salary", PropertyType.NUMBER)
    blocks.add_property(db, admin, employees, "Start date", PropertyType.DATE)
    revenue = blocks.create_metric(db, admin, app.id, "Revenue", ValueType.NUMBER, [month, country])
    return Model(app, country, month, employees, revenue.id)


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    with TestClient(create_app(settings, db), follow_redirects=False) as test_client:
        yield test_client


def log_in(client: TestClient, email: str) -> str:
    """Log in; returns the session's CSRF token."""
    token = csrf_of(client.get("/login"))
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/account"))


def csrf_of(response: Response) -> str:
    match = CSRF.search(response.text)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def admin_client(client: TestClient, admin: Actor) -> TestClient:
    client.headers["X-CSRF-Token"] = log_in(client, admin.email)
    return client


def upload(client: TestClient, block_id: uuid.UUID, name: str, content: bytes) -> Response:
    return client.post(f"/blocks/{block_id}/import", files={"file": (name, content, "text/csv")})


def start_wizard(client: TestClient, block_id: uuid.UUID, name: str, content: bytes) -> str:
    """Upload a file; returns the wizard's address (step 1)."""
    response = upload(client, block_id, name, content)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(rf"/blocks/{block_id}/import/[0-9a-f-]{{36}}", location)
    return location


def settings_query(**changes: str) -> dict[str, str]:
    """Step 1's form fields with their defaults, changed by `changes`."""
    fields = {
        "settings_form": "1",
        "encoding": "auto",
        "separator": "auto",
        "quote": '"',
        "header": "true",
        "skip_rows": "0",
        "layout": "flat",
        "decimal_separator": ".",
        "thousands_separator": "none",
        "multiplier": "1.0",
        "parentheses_negative": "true",
        "date_pattern": "yyyy-MM-dd",
    }
    return fields | changes


def mapping_form(page: str) -> dict[str, str | list[str]]:
    """The fields step 2's page would send as it stands (selected options, checked boxes)."""
    form: dict[str, str | list[str]] = {}
    for match in re.finditer(r"<select name=\"([^\"]+)\"[^>]*>(.*?)</select>", page, re.S):
        chosen = re.search(r"<option value=\"([^\"]*)\"[^>]*selected", match.group(2))
        first = re.search(r"<option value=\"([^\"]*)\"", match.group(2))
        picked = chosen or first
        assert picked is not None
        form[match.group(1)] = html.unescape(picked.group(1))
    for match in re.finditer(r"<input ([^>]*)>", page):
        attributes = dict(re.findall(r"(\w[\w-]*)=\"([^\"]*)\"", match.group(1)))
        name, kind = attributes.get("name"), attributes.get("type", "text")
        if not name or name == "csrf_token":
            continue
        value = html.unescape(attributes.get("value", ""))
        if kind in ("checkbox", "radio"):
            if " checked" not in f" {match.group(1)}":
                continue
            if kind == "checkbox" and name in ("pivot_column", "clear_scope"):
                listed = form.setdefault(name, [])
                assert isinstance(listed, list)
                listed.append(value)
                continue
        form[name] = value
    return form


# ---------------------------------------------------------------- the whole path


def test_a_dimension_list_goes_from_upload_to_a_saved_configuration_and_runs_it_again(
    admin_client: TestClient, db: Database, admin: Actor, model: Model
) -> None:
    client = admin_client
    block_page = client.get(f"/blocks/{model.country}")
    assert f'href="/blocks/{model.country}/import"' in block_page.text
    assert 'hx-get="/blocks/' in block_page.text  # the configurations section loads itself

    wizard = start_wizard(client, model.country, "countries.csv", COUNTRIES)
    step1 = client.get(wizard)
    assert step1.status_code == 200
    assert "countries.csv" in step1.text
    assert "Encoding <strong>utf-8</strong>" in step1.text
    assert "Separator <strong>Comma</strong>" in step1.text
    assert "<td>Japan</td>" in step1.text

    # Changing a setting re-reads the preview: with semicolons each line is one column.
    preview = client.get(f"{wizard}/preview", params=settings_query(separator="semicolon"))
    assert preview.status_code == 200
    assert "1 column" in preview.text
    assert "Separator <strong>Semicolon</strong>" in preview.text

    step2 = client.get(f"{wizard}/mapping", params=settings_query())
    assert step2.status_code == 200
    form = mapping_form(step2.text)
    assert form["source:code"] == "column:Code"
    assert form["source:name"] == "column:Name"

    check = client.post(f"{wizard}/check", data=form, headers={"HX-Request": "true"})
    assert check.status_code == 200, check.text
    assert "No problems in the first 3 rows." in check.text
    assert "<td>JP</td>" in check.text
    assert grid(db, admin, model.country) == [
        {"Code": "FR", "Name": "France", "Region": "EMEA"},
        {"Code": "DE", "Name": "Germany", "Region": "EMEA"},
    ], "a check writes nothing"

    ran = client.post(f"{wizard}/run", data=form)
    assert ran.status_code == 303, ran.text
    summary_url = ran.headers["location"]
    run_id = uuid.UUID(urlsplit(summary_url).path.rsplit("/", 1)[-1])
    summary = client.get(summary_url)
    assert summary.status_code == 200
    assert "Import Summary" in summary.text
    assert re.search(r"<dt>Inserted</dt><dd>1</dd>", summary.text)
    assert re.search(r"<dt>Updated</dt><dd>2</dd>", summary.text)
    assert "countries.csv" in summary.text
    assert runs.get_run(db, admin, run_id).file_sha256 in summary.text
    assert {row["Code"] for row in grid(db, admin, model.country)} == {"FR", "DE", "JP"}

    recipe = parse_qs(urlsplit(summary_url).query)
    saved = client.post(
        f"/runs/{run_id}/configuration",
        data={
            "name": "Countries",
            "description": "From the ERP",
            "file_settings": recipe.get("file_settings", ["{}"])[0],
            "mapping": recipe["mapping"][0],
        },
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/blocks/{model.country}#imports"
    [configuration] = configurations.list_configurations(db, admin, model.country)
    assert configuration.name == "Countries"
    assert configuration.description == "From the ERP"

    section = client.get(f"/blocks/{model.country}/imports", headers={"HX-Request": "true"})
    assert "Countries" in section.text
    assert str(configuration.id) in section.text
    assert "Copy ID" in section.text
    assert f'href="/runs/{run_id}"' in section.text

    again = client.post(
        f"/configurations/{configuration.id}/run",
        files={"file": ("more.csv", b"Code,Name,Region\nIT,Italy,EMEA\n", "text/csv")},
    )
    assert again.status_code == 303, again.text
    second = client.get(again.headers["location"])
    assert re.search(r"<dt>Inserted</dt><dd>1</dd>", second.text)
    assert "Countries" in second.text  # the configuration it ran
    assert {row["Code"] for row in grid(db, admin, model.country)} == {"FR", "DE", "JP", "IT"}


def test_rows_that_cannot_be_read_are_shown_in_the_check_and_the_summary_with_their_lines(
    admin_client: TestClient, db: Database, admin: Actor, model: Model
) -> None:
    client = admin_client
    wizard = start_wizard(client, model.employees, "employees.csv", EMPLOYEES)
    form = mapping_form(client.get(f"{wizard}/mapping", params=settings_query()).text)
    assert form["source:" + str(blocks.get_block(db, admin, model.employees).properties[2].id)]

    check = client.post(f"{wizard}/check", data=form, headers={"HX-Request": "true"})
    assert check.status_code == 200
    assert "3 of 4 rows would be skipped" in check.text
    assert 'th scope="col" class="bad">Salary</th>' in check.text
    assert '<span class="line">line 3</span>: <span class="bad">lots</span>' in check.text
    assert '<span class="line">line 4</span>: <span class="sample">XX</span>' in check.text

    ran = client.post(f"{wizard}/run", data=form)
    run_id = urlsplit(ran.headers["location"]).path.rsplit("/", 1)[-1]
    summary = client.get(ran.headers["location"])
    assert re.search(r"<dt>Skipped</dt><dd>3</dd>", summary.text)
    for text in ("ParsingError", "MissingModalitySkippedDataRow", "line 5", "31/02/2027"):
        assert text in summary.text
    assert f'href="/runs/{run_id}/rejects.csv"' in summary.text

    rejects = client.get(f"/runs/{run_id}/rejects.csv")
    assert rejects.status_code == 200
    assert rejects.headers["content-type"].startswith("text/csv")
    lines = rejects.text.splitlines()
    assert lines[0] == "Line,Reason,Column,Value,Description,Row"
    assert [line.split(",")[:4] for line in lines[1:]] == [
        ["3", "ParsingError", "Salary", "lots"],
        ["4", "MissingModalitySkippedDataRow", "Country", "XX"],
        ["5", "ParsingError", "Start date", "31/02/2027"],
    ]


def test_unknown_items_created_by_an_import_are_listed_in_its_summary(
    admin_client: TestClient, db: Database, admin: Actor, model: Model
) -> None:
    wizard = start_wizard(admin_client, model.employees, "employees.csv", EMPLOYEES)
    form = mapping_form(admin_client.get(f"{wizard}/mapping", params=settings_query()).text)
    country = blocks.get_block(db, admin, model.employees).properties[1]
    form[f"unknown:{country.id}"] = "create"
    check = admin_client.post(f"{wizard}/check", data=form, headers={"HX-Request": "true"})
    assert "Would create 1 item in Country (XX)." in check.text
    ran = admin_client.post(f"{wizard}/run", data=form)
    summary = admin_client.get(ran.headers["location"])
    assert "<strong>Country</strong>: 1 item (XX)" in summary.text
    assert "XX" in {row["Code"] for row in grid(db, admin, model.country)}


def test_a_pivoted_metric_file_maps_its_headers_to_the_pivoted_dimension(
    admin_client: TestClient, db: Database, admin: Actor, model: Model
) -> None:
    client = admin_client
    wizard = start_wizard(client, model.revenue, "revenue.csv", PIVOTED)
    step2 = client.get(f"{wizard}/mapping", params=settings_query(layout="pivoted"))
    assert "Pivoted columns" in step2.text
    form = mapping_form(step2.text)
    assert form["pivot_dimension"] == str(model.month)
    assert form["pivot_column"] == ["2027-01", "2027-02"]
    assert form["source:" + str(model.country)] == "column:Country"

    without_htmx = client.post(f"{wizard}/check", data=form)
    assert without_htmx.status_code == 200
    assert "Check of the first 2 rows" in without_htmx.text
    assert "Would insert <strong>4</strong>" in without_htmx.text

    ran = client.post(f"{wizard}/run", data=form)
    assert ran.status_code == 303, ran.text
    summary = client.get(ran.headers["location"])
    assert re.search(r"<dt>Inserted</dt><dd>4</dd>", summary.text)
    cells = {(r["Month"], r["Country"]): r["Revenue"] for r in grid(db, admin, model.revenue)}
    assert len(cells) == 4


# ---------------------------------------------------------------- refusals


def test_an_empty_upload_is_refused_with_a_message(
    admin_client: TestClient, model: Model, tmp_path: Path
) -> None:
    response = upload(admin_client, model.country, "empty.csv", b"")
    assert response.status_code == 422
    assert "empty.csv is empty" in response.text
    no_file = admin_client.post(f"/blocks/{model.country}/import", files={"other": ("x", b"x")})
    assert no_file.status_code == 422
    assert "Choose a file to import." in no_file.text
    assert not any((tmp_path / "uploads").glob("*/*"))


def test_an_unreadable_file_shows_why_in_red_instead_of_failing(
    admin_client: TestClient, model: Model
) -> None:
    wizard = start_wizard(admin_client, model.country, "photo.csv", bytes(range(256)) * 4)
    step1 = admin_client.get(wizard)
    assert step1.status_code == 422
    assert 'class="error" role="alert"' in step1.text
    assert "This looks like a binary file, not a CSV file" in step1.text
    step2 = admin_client.get(f"{wizard}/mapping", params=settings_query())
    assert step2.status_code == 422
    assert 'class="error" role="alert"' in step2.text


def test_a_check_slower_than_the_time_limit_says_so_and_writes_nothing(
    db: Database, admin: Actor, model: Model, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db.url, inspection_time_limit_s=0.3)
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        client.headers["X-CSRF-Token"] = log_in(client, admin.email)
        wizard = start_wizard(client, model.country, "countries.csv", COUNTRIES)
        form = mapping_form(client.get(f"{wizard}/mapping", params=settings_query()).text)
        # The sample grows on disk into seconds of blank lines before its rows (uploading
        # 160 MB through the test client would only cost time).
        (sample,) = (tmp_path / "uploads").glob(f"{wizard.rsplit('/', 1)[1]}/*/countries.csv")
        with sample.open("wb") as handle:
            handle.write(b"Code,Name,Region\n")
            for _ in range(160):
                handle.write(b"\n" * (1 << 20))
            handle.write(b"JP,Japan,APAC\n")

        check = client.post(f"{wizard}/check", data=form, headers={"HX-Request": "true"})

    assert check.status_code == 422, check.text
    assert "Reading this file took longer than 0.3 s" in check.text
    assert "PLANPORT_INSPECTION_TIME_LIMIT_S" in check.text
    assert [row["Code"] for row in grid(db, admin, model.country)] == ["FR", "DE"]


def test_wrong_settings_and_options_are_explained_next_to_their_form(
    admin_client: TestClient, model: Model
) -> None:
    client = admin_client
    wizard = start_wizard(client, model.country, "countries.csv", COUNTRIES)
    same = client.get(f"{wizard}/preview", params=settings_query(thousands_separator="dot"))
    assert same.status_code == 422
    assert "must differ from the decimal separator" in same.text
    pivoted_list = client.get(f"{wizard}/mapping", params=settings_query(layout="pivoted"))
    assert pivoted_list.status_code == 422
    assert "Only Metrics are imported from pivoted files" in pivoted_list.text

    form = mapping_form(client.get(f"{wizard}/mapping", params=settings_query()).text)
    bad = client.post(f"{wizard}/run", data={**form, "reject_threshold": "lots"})
    assert bad.status_code == 422
    assert "The reject threshold is a percentage from 0 to 100" in bad.text
    assert 'value="lots"' in bad.text
    assert '<option value="column:Code" selected>' in bad.text, "the mapping is kept"

    unmapped = client.post(f"{wizard}/run", data={**form, "source:code": ""})
    assert unmapped.status_code == 422
    assert "Map a column to the item code" in unmapped.text


def test_a_member_without_import_data_cannot_open_or_use_the_wizard(
    client: TestClient, db: Database, admin: Actor, member: Actor, model: Model, tmp_path: Path
) -> None:
    grant(db, admin, model.application.id, member.email, "Reader")
    client.headers["X-CSRF-Token"] = log_in(client, member.email)
    block_page = client.get(f"/blocks/{model.country}")
    assert block_page.status_code == 200
    assert f'href="/blocks/{model.country}/import"' not in block_page.text
    assert client.get(f"/blocks/{model.country}/import").status_code == 403
    refused = upload(client, model.country, "countries.csv", COUNTRIES)
    assert refused.status_code == 403
    assert "Import Data" in refused.text
    assert not (tmp_path / "uploads").exists()


def test_unknown_uploads_runs_and_configurations_are_not_found(
    admin_client: TestClient, model: Model
) -> None:
    unknown = uuid.uuid4()
    for path in (
        f"/blocks/{model.country}/import/{unknown}",
        f"/runs/{unknown}",
        f"/runs/{unknown}/rejects.csv",
        f"/configurations/{unknown}",
        f"/configurations/{unknown}/run",
        f"/blocks/{model.country}/import/..%2F..%2Fplanport.db",
    ):
        assert admin_client.get(path).status_code == 404, path


def test_configurations_are_renamed_duplicated_and_deleted_from_the_block(
    admin_client: TestClient, db: Database, admin: Actor, model: Model
) -> None:
    client = admin_client
    block = blocks.get_block(db, admin, model.country)
    mapping = imports.suggest_mapping(block, ["Code", "Name"])
    first = configurations.save_configuration(
        db, admin, model.country, "Countries", FileSettings(), mapping
    )
    configurations.save_configuration(db, admin, model.country, "Other", FileSettings(), mapping)

    taken = client.post(f"/configurations/{first.id}/rename", data={"name": "other"})
    assert taken.status_code == 409
    assert "already has an import configuration named" in taken.text
    renamed = client.post(f"/configurations/{first.id}/rename", data={"name": "ERP countries"})
    assert renamed.status_code == 303
    assert configurations.get_configuration(db, admin, first.id).name == "ERP countries"

    copied = client.post(f"/configurations/{first.id}/duplicate")
    assert copied.status_code == 303
    names = [c.name for c in configurations.list_configurations(db, admin, model.country)]
    assert names == ["ERP countries", "ERP countries (copy)", "Other"]

    wrong = client.post(f"/configurations/{first.id}/delete", data={"confirm_name": "nope"})
    assert wrong.status_code == 422
    assert "to delete it" in wrong.text
    deleted = client.post(
        f"/configurations/{first.id}/delete", data={"confirm_name": "ERP countries"}
    )
    assert deleted.status_code == 303
    assert client.get(f"/configurations/{first.id}").status_code == 404


def test_a_configuration_in_error_shows_why_and_cannot_run(
    admin_client: TestClient, db: Database, admin: Actor, model: Model
) -> None:
    block = blocks.get_block(db, admin, model.country)
    mapping = imports.suggest_mapping(block, ["Code", "Region"])
    saved = configurations.save_configuration(
        db, admin, model.country, "With region", FileSettings(), mapping
    )
    blocks.remove_property(db, admin, model.country, block.properties[0].id, confirmed=True)

    section = admin_client.get(f"/blocks/{model.country}/imports", headers={"HX-Request": "1"})
    assert "In error:" in section.text
    assert "Copy ID" not in section.text
    assert f"/configurations/{saved.id}/run" not in section.text
    refused = admin_client.post(
        f"/configurations/{saved.id}/run",
        files={"file": ("c.csv", b"Code,Region\nFR,EMEA\n", "text/csv")},
    )
    assert refused.status_code == 409
    assert "is in error and cannot run" in refused.text
    assert applications.get_application(db, admin, model.application.id).block_count == 4


def test_a_configuration_in_error_is_repaired_by_edit_keeping_its_id(
    admin_client: TestClient, db: Database, admin: Actor, model: Model, tmp_path: Path
) -> None:
    block = blocks.get_block(db, admin, model.country)
    semicolons = FileSettings(separator=";")
    mapping = imports.suggest_mapping(block, ["Code", "Region"])
    saved = configurations.save_configuration(
        db, admin, model.country, "With region", semicolons, mapping
    )
    blocks.remove_property(db, admin, model.country, block.properties[0].id, confirmed=True)
    area = blocks.add_property(db, admin, model.country, "Area", PropertyType.TEXT).properties[0]

    page = admin_client.get(f"/configurations/{saved.id}")
    assert f'href="/configurations/{saved.id}/edit">Edit it</a> to fit again' in page.text
    opened = admin_client.get(f"/configurations/{saved.id}/edit")
    assert opened.status_code == 200
    assert "<h1>Edit With region</h1>" in opened.text
    sample = b"Code;Area\nFR;Europe\n"
    uploaded = admin_client.post(
        f"/configurations/{saved.id}/edit", files={"file": ("new.csv", sample, "text/csv")}
    )
    assert uploaded.status_code == 303, uploaded.text
    wizard, _, query = uploaded.headers["location"].partition("?")
    carried = parse_qs(query)
    assert carried["editing"] == [str(saved.id)]
    step1 = admin_client.get(wizard, params={k: v[0] for k, v in carried.items()})
    assert "Separator <strong>Semicolon</strong>" in step1.text  # its saved settings
    step2 = admin_client.get(f"{wizard}/mapping", params={k: v[0] for k, v in carried.items()})
    assert step2.status_code == 200
    assert "What no longer fits" in step2.text
    assert "The mapped property &#39;Region&#39; was deleted from &#39;Country&#39;" in step2.text
    assert "Save into With region" in step2.text

    form = mapping_form(step2.text)
    assert form["editing"] == str(saved.id)
    form[f"source:{area.id}"] = "column:Area"
    done = admin_client.post(f"{wizard}/save", data=form)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/configurations/{saved.id}"
    repaired = configurations.get_configuration(db, admin, saved.id)
    assert not repaired.in_error
    assert repaired.mapping.field_for(str(area.id)) is not None
    assert [c.id for c in configurations.list_configurations(db, admin, model.country)] == [
        saved.id
    ]
    assert all(not row["Area"] for row in grid(db, admin, model.country))  # nothing imported
    (tmp_path / "next.csv").write_bytes(sample)
    ran = configurations.run_configuration(db, admin, saved.id, tmp_path / "next.csv")
    assert ran.status is RunStatus.COMPLETED, ran.errors
    assert grid(db, admin, model.country)[0]["Area"] == "Europe"


def test_uploads_older_than_the_retention_are_swept_when_a_new_one_arrives(
    tmp_path: Path,
) -> None:
    from planport.services.imports.uploads import sweep_uploads

    settings = Settings(data_dir=tmp_path, upload_retention_hours=1)
    uploads = tmp_path / "uploads"
    old, fresh = uploads / "old", uploads / "fresh"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "file.csv").write_text("Code\nA\n")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert sweep_uploads(settings) == 1
    assert not old.exists()
    assert (fresh / "file.csv").exists()


def test_any_run_of_the_history_can_be_saved_as_an_import_configuration(
    admin_client: TestClient, db: Database, admin: Actor, model: Model, tmp_path: Path
) -> None:
    from planport.domain.file_settings import FileSettings
    from planport.services import imports
    from planport.services.imports import configurations, runs

    path = tmp_path / "countries.csv"
    path.write_text("Code,Name\nIT,Italy\n")
    block = blocks.get_block(db, admin, model.country)
    chosen = imports.suggest_mapping(block, ["Code", "Name"])
    done = runs.run_import(db, admin, model.country, path, FileSettings(), chosen)
    page = admin_client.get(f"/runs/{done.id}")  # reached from the history: no recipe in the link
    assert "Save as import configuration" in page.text
    saved = admin_client.post(
        f"/runs/{done.id}/configuration",
        data={
            "name": "Countries again",
            "file_settings": html.unescape(
                re.search(r'name="file_settings" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
            ),
            "mapping": html.unescape(
                re.search(r'name="mapping" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
            ),
        },
    )
    assert saved.status_code == 303, saved.text
    names = [c.name for c in configurations.list_configurations(db, admin, model.country)]
    assert names == ["Countries again"]
