"""Workbooks (xlsx) and Parquet files imported like CSV files: uploaded through the wizard's
services and pushed through the Import API, each value landing as the same text in a CSV file
would, rejects numbered by sheet row, and an unreadable file failing the run in words."""

from __future__ import annotations

import datetime
import decimal
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from planport.domain.api_keys import ApiKeyType
from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, ValueType
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus
from planport.domain.mapping import VALUE, UnknownItems
from planport.domain.members import Actor
from planport.services import blocks, imports
from planport.services.blocks import items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, runs, uploads
from planport.services.workspace import api_keys
from planport.settings import Settings
from planport.store import block_tables
from planport.store.db import Database
from planport.web import create_app
from tests.integration.import_builders import field, group, mapping, sample_lines, write_csv

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    (tmp_path / "imports").mkdir()
    return Settings(data_dir=tmp_path, database_url=db.url, import_root=tmp_path / "imports")


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    items.write_items(db, admin, created.id, [{"Code": c} for c in ("FR", "DE", "US")])
    return blocks.get_block(db, admin, created.id)


def metric(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, name: str, kind: ValueType
) -> BlockDef:
    return blocks.create_metric(db, admin, app.id, name, kind, [country.id])


def stored(db: Database, block: BlockDef, country: BlockDef) -> dict[str, Any]:
    table = block_tables.build_table(block)
    codes = block_tables.item_codes_table(country.table_name, "c")
    dimension = table.c[block.dimensions[0].column_name]
    with db.read() as session:
        statement = select(codes.c.code, table.c.value).join(codes, codes.c.id == dimension)
        return {str(code): value for code, value in session.execute(statement).all()}


def workbook_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def upload(settings: Settings, admin: Actor, block: BlockDef, name: str, data: bytes) -> Path:
    """An upload as the wizard's first step makes it."""
    owner = uploads.UploadOwner(admin.id, block.id)
    _, path = uploads.new_upload(settings, owner, name, lambda p: p.write_bytes(data))
    return path


SALES: list[list[object]] = [
    ["Country", "Revenue", "Closed on"],
    ["FR", 1234.5, datetime.date(2027, 1, 31)],
    ["DE", "n/a", datetime.date(2027, 2, 28)],
    ["US", 0.1, datetime.datetime(2027, 3, 31)],
]


def test_an_uploaded_workbook_lands_in_a_metric_as_its_csv_text_would(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    settings: Settings,
    tmp_path: Path,
) -> None:
    # The sales sit in the second sheet, after the first sheet's notes.
    data = workbook_bytes({"Notes": [["Read me"]], "Sales": SALES})
    path = upload(settings, admin, country, "sales.xlsx", data)
    file_settings = FileSettings(sheet="Sales")
    view = imports.inspect_file(path, file_settings)
    assert view.columns == ["Country", "Revenue", "Closed on"]
    assert view.rows[0] == ["FR", "1234.5", "2027-01-31"]

    revenue = metric(db, admin, app, country, "Revenue", ValueType.NUMBER)
    chosen = mapping(field(country.id, "Country"), field(VALUE, "Revenue"))
    checked = imports.preview_import(db, admin, revenue.id, path, file_settings, chosen)
    assert checked.summary.skipped == 1
    done = runs.run_import(db, admin, revenue.id, path, file_settings, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors

    twin = metric(db, admin, app, country, "Revenue from CSV", ValueType.NUMBER)
    csv_path = write_csv(
        tmp_path / "sales.csv",
        ["Country", "Revenue"],
        [["FR", "1234.5"], ["DE", "n/a"], ["US", "0.1"]],
    )
    runs.run_import(db, admin, twin.id, csv_path, FileSettings(), chosen)
    assert stored(db, revenue, country) == stored(db, twin, country) == {"FR": 1234.5, "US": 0.1}


def test_a_reject_in_a_workbook_names_its_sheet_row(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, settings: Settings
) -> None:
    # Two empty rows above the header: the header is on sheet row 3, FR on row 4, DE (an
    # amount that is no number) on row 5.
    path = upload(
        settings, admin, country, "sales.xlsx", workbook_bytes({"Sales": [[], [], *SALES]})
    )
    revenue = metric(db, admin, app, country, "Revenue", ValueType.NUMBER)
    chosen = mapping(field(country.id, "Country"), field(VALUE, "Revenue"))
    done = runs.run_import(db, admin, revenue.id, path, FileSettings(), chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert sample_lines(group(done, "ParsingError", "Revenue")) == [5]


PARQUET = pa.table(
    {
        "Country": ["FR", "DE"],
        "Closed on": pa.array([datetime.date(2027, 1, 31), datetime.date(2026, 12, 1)]),
        "Amount": pa.array(
            [decimal.Decimal("1234.50"), decimal.Decimal("-0.05")], pa.decimal128(12, 2)
        ),
    }
)


@pytest.mark.parametrize(
    ("column", "kind", "texts"),
    [
        ("Closed on", ValueType.DATE, ["2027-01-31", "2026-12-01"]),
        ("Amount", ValueType.NUMBER, ["1234.50", "-0.05"]),
    ],
    ids=["date", "decimal"],
)
def test_an_uploaded_parquet_file_lands_as_a_csv_of_the_same_texts(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    settings: Settings,
    tmp_path: Path,
    column: str,
    kind: ValueType,
    texts: list[str],
) -> None:
    path = upload(settings, admin, country, "closing.parquet", parquet_bytes(PARQUET))
    target = metric(db, admin, app, country, "From Parquet", kind)
    chosen = mapping(field(country.id, "Country"), field(VALUE, column))
    done = runs.run_import(db, admin, target.id, path, FileSettings(), chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.inserted == 2

    twin = metric(db, admin, app, country, "From CSV", kind)
    csv_path = write_csv(
        tmp_path / "closing.csv", ["Country", column], list(zip(["FR", "DE"], texts, strict=True))
    )
    runs.run_import(db, admin, twin.id, csv_path, FileSettings(), chosen)
    assert stored(db, target, country) == stored(db, twin, country)
    assert len(stored(db, target, country)) == 2


def test_a_damaged_parquet_upload_fails_the_run_saying_so(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, settings: Settings
) -> None:
    whole = parquet_bytes(PARQUET)
    path = upload(settings, admin, country, "closing.parquet", whole[: len(whole) - 30])
    target = metric(db, admin, app, country, "Amount", ValueType.NUMBER)
    chosen = mapping(field(country.id, "Country"), field(VALUE, "Amount"))
    done = runs.run_import(db, admin, target.id, path, FileSettings(), chosen)
    assert done.status is RunStatus.FAILED
    assert "Parquet file is cut off or damaged" in done.errors[0].description


# ---------------------------------------------------------------- the Import API


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), follow_redirects=False) as test:
        yield test


@pytest.fixture
def key(db: Database, admin: Actor) -> str:
    spec = api_keys.KeySpec("Push key", ApiKeyType.IMPORT, admin.email)
    return api_keys.create_key(db, spec, by=admin, time_zone="UTC").secret


def configuration(
    db: Database, admin: Actor, block: BlockDef, column: str, file_settings: FileSettings
) -> uuid.UUID:
    chosen = mapping(
        field(block.dimensions[0].list_id, "Country", unknown=UnknownItems.CREATE),
        field(VALUE, column),
    )
    return configurations.save_configuration(
        db, admin, block.id, f"{block.name} push", file_settings, chosen
    ).id


def push(client: TestClient, key: str, configuration_id: uuid.UUID, body: bytes, kind: str) -> Any:
    answer = client.post(
        "/api/v1/import/push/csv",
        params={"configurationId": str(configuration_id)},
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": kind},
    )
    assert answer.status_code == 200, answer.text
    status = client.get(
        f"/api/v1/import/{answer.json()['importId']}/status",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert status.status_code == 200, status.text
    return status.json()


def test_a_pushed_parquet_file_lands_like_an_upload(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    client: TestClient,
    key: str,
) -> None:
    target = metric(db, admin, app, country, "Amount", ValueType.NUMBER)
    configuration_id = configuration(db, admin, target, "Amount", FileSettings())
    report = push(
        client, key, configuration_id, parquet_bytes(PARQUET), "application/vnd.apache.parquet"
    )
    assert report["importStatus"] == "Completed", report
    assert stored(db, target, country) == {"FR": 1234.5, "DE": -0.05}


def test_a_pushed_workbook_is_read_from_its_configured_sheet(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    client: TestClient,
    key: str,
) -> None:
    target = metric(db, admin, app, country, "Revenue", ValueType.NUMBER)
    configuration_id = configuration(db, admin, target, "Revenue", FileSettings(sheet="Sales"))
    data = workbook_bytes({"Notes": [["Read me"]], "Sales": SALES})
    report = push(client, key, configuration_id, data, "application/octet-stream")
    assert report["importStatus"] == "Completed", report
    assert stored(db, target, country) == {"FR": 1234.5, "US": 0.1}
    again = push(client, key, configuration_id, data, XLSX)
    assert again["importStatus"] == "Completed", again


def test_a_pushed_workbook_without_the_configured_sheet_is_refused_naming_its_sheets(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    client: TestClient,
    key: str,
) -> None:
    target = metric(db, admin, app, country, "Revenue", ValueType.NUMBER)
    configuration_id = configuration(db, admin, target, "Revenue", FileSettings(sheet="Sales"))
    answer = client.post(
        "/api/v1/import/push/csv",
        params={"configurationId": str(configuration_id)},
        content=workbook_bytes({"Actuals": SALES}),
        headers={"Authorization": f"Bearer {key}", "Content-Type": XLSX},
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == (
        "The workbook has no sheet named 'Sales'. Its sheets: 'Actuals'. "
        "Choose one in the file settings."
    )
    assert stored(db, target, country) == {}
