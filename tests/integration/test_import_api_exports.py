"""The Export API for Lists and Metrics through the web application (SQLite and PostgreSQL):
the CSV each option gives, item and value filters, Metrics over several dimensions, the
owner's read access, keys of the wrong type, and a 400 naming the field for each bad option.
Answers are checked against what Pigment's document promises for these paths."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import event

from planport.domain.api_keys import ApiKeyType
from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.exports import ListExport
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications, csv_files, exports, items
from planport.services.blocks.applications import ApplicationView
from planport.services.workspace import api_keys
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.integration.builders import grant
from tests.pigment_schemas import document

DL, TL = BlockKind.DIMENSION_LIST, BlockKind.TRANSACTION_LIST
T = PropertyType
LIST_PATH = "/api/v1/export/list/{listId}"
METRIC_PATH = "/api/v1/export/metric/{metricId}"
LEGACY_LIST_PATH = "/api/export/list/{listId}"
LEGACY_METRIC_PATH = "/api/export/metric/{metricId}"
BOM = b"\xef\xbb\xbf"


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def client(tmp_path: Path, db: Database) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    with TestClient(create_app(settings, db), follow_redirects=False) as test:
        yield test


@pytest.fixture
def key_of(db: Database, admin: Actor) -> Callable[..., dict[str, str]]:
    """Authorization headers with a new key of `key_type` owned by `owner` (the admin)."""

    def make(
        owner: Actor | None = None, key_type: ApiKeyType = ApiKeyType.EXPORT
    ) -> dict[str, str]:
        spec = api_keys.KeySpec("Exports", key_type, (owner or admin).email)
        secret = api_keys.create_key(db, spec, by=admin, time_zone="UTC").secret
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def key(key_of: Callable[..., dict[str, str]]) -> dict[str, str]:
    return key_of()


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    """Country: FR, DE, IT with Population (integer), Area (km²) (number), Joined EU (date),
    Capital city (text)."""
    created = blocks.create_list(db, admin, app.id, DL, "Country")
    blocks.add_property(db, admin, created.id, "Population", T.INTEGER)
    blocks.add_property(db, admin, created.id, "Area (km²)", T.NUMBER)
    blocks.add_property(db, admin, created.id, "Joined EU", T.DATE)
    created = blocks.add_property(db, admin, created.id, "Capital city", T.TEXT)
    rows = [
        ("FR", "France", "68000000", "551695.5", "1957-03-25", "Paris"),
        ("DE", "Germany", "84000000", "357588.25", "1957-03-25", "Berlin"),
        ("IT", "Italy", "59000000", "302073", "", '=HYPERLINK("http://evil")'),
    ]
    labels = ("Code", "Name", "Population", "Area (km²)", "Joined EU", "Capital city")
    items.write_items(db, admin, created.id, [dict(zip(labels, r, strict=True)) for r in rows])
    return created


@pytest.fixture
def month(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, DL, "Sales month")
    items.write_items(db, admin, created.id, [{"Code": "2027-01"}, {"Code": "2027-02"}])
    return created


@pytest.fixture
def orders(db: Database, admin: Actor, app: ApplicationView, country: BlockDef) -> BlockDef:
    """A Transaction List: Order (integer), Country (dimension), Amount (number), Note (text)."""
    created = blocks.create_list(db, admin, app.id, TL, "Orders")
    blocks.add_property(db, admin, created.id, "Order", T.INTEGER)
    blocks.add_property(
        db, admin, created.id, "Country", T.DIMENSION, referenced_list_id=country.id
    )
    blocks.add_property(db, admin, created.id, "Amount", T.NUMBER)
    created = blocks.add_property(db, admin, created.id, "Note", T.TEXT)
    rows = [
        {"Order": "1", "Country": "FR", "Amount": "-5.5", "Note": "@SUM(A1)"},
        {"Order": "2", "Country": "DE", "Amount": "10", "Note": "plain"},
        {"Order": "3", "Country": "IT", "Amount": "0.25", "Note": "+33 1 23"},
        {"Order": "4", "Country": "FR", "Amount": "7", "Note": ""},
    ]
    items.append_rows(db, admin, created.id, rows)
    return created


@pytest.fixture
def revenue(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> BlockDef:
    """Revenue (number) over Country × Sales month, five of the six cells set."""
    created = blocks.create_metric(
        db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id, month.id]
    )
    cells = [
        ("FR", "2027-01", "100.5"),
        ("FR", "2027-02", "250"),
        ("DE", "2027-01", "80"),
        ("DE", "2027-02", "-20.75"),
        ("IT", "2027-02", "1000"),
    ]
    rows = [{"Country": c, "Sales month": m, "Value": v} for c, m, v in cells]
    items.set_cells(db, admin, created.id, rows)
    return created


@pytest.fixture
def target(db: Database, admin: Actor, app: ApplicationView, country: BlockDef) -> BlockDef:
    """Target (integer) over Country only: FR 200, DE 50 (IT has none)."""
    created = blocks.create_metric(db, admin, app.id, "Target", ValueType.INTEGER, [country.id])
    rows = [{"Country": "FR", "Value": "200"}, {"Country": "DE", "Value": "50"}]
    items.set_cells(db, admin, created.id, rows)
    return created


def export(
    client: TestClient,
    path: str,
    block: BlockDef | uuid.UUID | str,
    headers: dict[str, str],
    body: Any = None,
) -> Response:
    block_id = str(block.id if isinstance(block, BlockDef) else block)
    url = path.replace("{listId}", block_id).replace("{metricId}", block_id)
    if body is None:
        return client.post(url, headers=headers)
    return client.post(url, headers=headers, json=body)


def rows_of(answer: Response, delimiter: str = ";") -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8")), delimiter=delimiter))


def refused(answer: Response, path: str, status: int = 400) -> str:
    """The message of a refusal, after checking the answer is what the document allows for
    `path`: its status, and its JSON schema when the document gives one (it gives none for the
    export errors), else Planport's `{"error", "message"}`."""
    assert answer.status_code == status, answer.text
    documented = document()["paths"][path]["post"]["responses"]
    assert str(status) in documented
    assert "content" not in documented[str(status)]  # no schema: Planport's JSON answer
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) >= {"error", "message"}
    message: str = body["message"]
    return message


# ---------------------------------------------------------------- Lists


def test_a_list_exports_every_column_by_technical_name_with_the_v1_defaults(
    client: TestClient, country: BlockDef, key: dict[str, str]
) -> None:
    answer = export(client, LIST_PATH, country, key)

    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert "filename*=UTF-8''Country.csv" in answer.headers["content-disposition"]
    assert not answer.content.startswith(BOM)
    assert answer.content.decode().split("\r\n")[0] == (
        "Area_km²;Capital_city;Code;Joined_EU;Name;Population"
    )
    assert rows_of(answer)[1:] == [
        ["551695.5", "Paris", "FR", "1957-03-25", "France", "68000000"],
        ["357588.25", "Berlin", "DE", "1957-03-25", "Germany", "84000000"],
        ["302073", '\'=HYPERLINK("http://evil")', "IT", "", "Italy", "59000000"],
    ]


def test_the_legacy_path_writes_list_dates_as_month_day_year_unless_asked(
    client: TestClient, country: BlockDef, key: dict[str, str]
) -> None:
    chosen = {"propertyTechnicalNames": ["Code", "Joined_EU"]}
    legacy = rows_of(export(client, LEGACY_LIST_PATH, country, key, chosen))
    assert legacy == [["Code", "Joined_EU"], ["FR", "03/25/1957"], ["DE", "03/25/1957"], ["IT", ""]]
    iso = {**chosen, "dateFormat": "Iso8601"}
    assert rows_of(export(client, LEGACY_LIST_PATH, country, key, iso))[1] == ["FR", "1957-03-25"]
    on_v1 = {**chosen, "dateFormat": "Legacy"}
    assert rows_of(export(client, LIST_PATH, country, key, on_v1))[1] == ["FR", "03/25/1957"]


def test_chosen_properties_come_in_the_order_asked_under_friendly_headers(
    client: TestClient, country: BlockDef, key: dict[str, str]
) -> None:
    body = {"propertyTechnicalNames": ["Area_km²", "code"], "friendlyHeaders": True}
    assert rows_of(export(client, LIST_PATH, country, key, body)) == [
        ["Area (km²)", "Code"],
        ["551695.5", "FR"],
        ["357588.25", "DE"],
        ["302073", "IT"],
    ]
    technical = {**body, "friendlyHeaders": False}
    assert rows_of(export(client, LIST_PATH, country, key, technical))[0] == ["Area_km²", "Code"]


def test_comma_delimiter_comma_decimals_and_a_bom_are_written_as_asked(
    client: TestClient, country: BlockDef, key: dict[str, str]
) -> None:
    body = {
        "propertyTechnicalNames": ["Code", "Area_km²", "Population"],
        "fieldDelimiter": "Comma",
        "decimalSeparator": "Comma",
        "encoding": "Utf8WithBom",
    }
    answer = export(client, LIST_PATH, country, key, body)
    assert answer.content.startswith(BOM + b"Code,Area_km")
    lines = answer.content[len(BOM) :].decode().split("\r\n")
    # A decimal comma inside comma-separated fields is quoted; integers have no decimals.
    assert lines[1:4] == ['FR,"551695,5",68000000', 'DE,"357588,25",84000000', "IT,302073,59000000"]

    semicolons = {**body, "fieldDelimiter": "Semicolon", "encoding": "Utf8WithoutBom"}
    plain = export(client, LIST_PATH, country, key, semicolons)
    assert plain.content.decode().split("\r\n")[1] == "FR;551695,5;68000000"


def test_a_dimension_list_is_filtered_by_its_item_codes(
    client: TestClient, country: BlockDef, key: dict[str, str]
) -> None:
    body = {"propertyTechnicalNames": ["Code", "Name"], "listFilter": ["IT", "FR"]}
    assert rows_of(export(client, LIST_PATH, country, key, body))[1:] == [
        ["FR", "France"],
        ["IT", "Italy"],
    ]
    everything = {"propertyTechnicalNames": ["Code"], "listFilter": []}
    assert len(rows_of(export(client, LIST_PATH, country, key, everything))) == 4


def test_a_transaction_list_is_filtered_on_its_dimension_property_and_defuses_formulas(
    client: TestClient, orders: BlockDef, key: dict[str, str]
) -> None:
    body = {
        "propertyTechnicalNames": ["Order", "Country", "Amount", "Note"],
        "propertyFilters": [{"propertyTechnicalName": "Country", "modalityIds": ["FR", "IT"]}],
    }
    assert rows_of(export(client, LIST_PATH, orders, key, body)) == [
        ["Order", "Country", "Amount", "Note"],
        ["1", "FR", "-5.5", "'@SUM(A1)"],  # a negative number stays a number
        ["3", "IT", "0.25", "'+33 1 23"],
        ["4", "FR", "7", ""],
    ]


def test_a_formula_looking_item_code_and_header_are_defused(
    client: TestClient, db: Database, admin: Actor, app: ApplicationView, key: dict[str, str]
) -> None:
    tricky = blocks.create_list(db, admin, app.id, DL, "Tricky")
    tricky = blocks.add_property(db, admin, tricky.id, "-Net", T.NUMBER)
    items.write_items(db, admin, tricky.id, [{"Code": "=1+1", "Name": "-minus", "-Net": "-3"}])
    body = {"propertyTechnicalNames": ["Code", "Name", "Net"], "friendlyHeaders": True}
    assert rows_of(export(client, LIST_PATH, tricky, key, body)) == [
        ["Code", "Name", "'-Net"],
        ["'=1+1", "'-minus", "-3"],
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"propertyTechnicalNames": ["Colour"]}, "propertyTechnicalNames"),
        ({"propertyTechnicalNames": ["Code", "code"]}, "propertyTechnicalNames"),
        ({"propertyTechnicalNames": "Code"}, "propertyTechnicalNames"),
        ({"listFilter": ["FR", "XX"]}, "listFilter"),
        ({"listFilter": [1]}, "listFilter[0]"),
        (
            {"propertyFilters": [{"propertyTechnicalName": "Population", "modalityIds": []}]},
            "propertyFilters[0].propertyTechnicalName",
        ),
        (
            {"propertyFilters": [{"propertyTechnicalName": "Code"}]},
            "propertyFilters[0].modalityIds",
        ),
        ({"friendlyHeaders": "yes"}, "friendlyHeaders"),
        ({"dateFormat": "iso8601"}, "dateFormat"),
        ({"fieldDelimiter": "Tab"}, "fieldDelimiter"),
        ({"decimalSeparator": ","}, "decimalSeparator"),
        ({"encoding": "Latin1"}, "encoding"),
        ({"FriendlyHeaders": True}, "FriendlyHeaders"),
        ({"scenarios": []}, "scenarios"),  # a Metric's field: unknown to a List
    ],
)
def test_a_bad_list_option_is_a_400_naming_its_field(
    client: TestClient, country: BlockDef, key: dict[str, str], body: dict[str, Any], field: str
) -> None:
    message = refused(export(client, LIST_PATH, country, key, body), LIST_PATH)
    assert field in message


def test_list_refusals_say_what_would_work(
    client: TestClient, country: BlockDef, orders: BlockDef, key: dict[str, str]
) -> None:
    unknown = export(client, LIST_PATH, country, key, {"propertyTechnicalNames": ["Colour"]})
    assert "Code, Name, Population, Area_km², Joined_EU, Capital_city." in refused(
        unknown, LIST_PATH
    )
    code = export(client, LIST_PATH, country, key, {"listFilter": ["XX"]})
    assert "'Country' has no item with the code 'XX'" in refused(code, LIST_PATH)
    case = export(client, LIST_PATH, country, key, {"FriendlyHeaders": True})
    assert "did you mean friendlyHeaders?" in refused(case, LIST_PATH)
    rows = export(client, LIST_PATH, orders, key, {"listFilter": ["FR"]})
    assert "Transaction List" in refused(rows, LIST_PATH)


# ---------------------------------------------------------------- Metrics


def test_a_metric_over_two_dimensions_has_a_column_per_dimension_then_its_value(
    client: TestClient, revenue: BlockDef, key: dict[str, str]
) -> None:
    assert rows_of(export(client, METRIC_PATH, revenue, key)) == [
        ["Country", "Sales_month", "Revenue"],
        ["FR", "2027-01", "100.5"],
        ["FR", "2027-02", "250"],
        ["DE", "2027-01", "80"],
        ["DE", "2027-02", "-20.75"],
        ["IT", "2027-02", "1000"],
    ]
    friendly = export(client, METRIC_PATH, revenue, key, {"friendlyHeaders": True})
    assert rows_of(friendly)[0] == ["Country", "Sales month", "Revenue"]
    legacy = export(client, LEGACY_METRIC_PATH, revenue, key, {"decimalSeparator": "Comma"})
    assert rows_of(legacy)[1] == ["FR", "2027-01", "100,5"]


def test_legacy_metric_dates_carry_midnight_utc(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    key: dict[str, str],
) -> None:
    launch = blocks.create_metric(db, admin, app.id, "Launch", ValueType.DATE, [country.id])
    items.set_cells(db, admin, launch.id, [{"Country": "FR", "Value": "2054-01-21"}])
    legacy = rows_of(export(client, LEGACY_METRIC_PATH, launch, key))
    assert legacy[1] == ["FR", "01/21/2054 00:00:00 +00:00"]
    assert rows_of(export(client, METRIC_PATH, launch, key))[1] == ["FR", "2054-01-21"]


def test_dimension_filters_and_the_export_filter_combine_with_and(
    client: TestClient,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    key: dict[str, str],
) -> None:
    body = {
        "filters": [{"dimensionId": str(country.id), "modalityIds": ["FR", "DE"]}],
        "exportFilter": {
            "type": "Or",
            "or": [
                {
                    "type": "Dimension",
                    "dimension": {"dimensionId": str(month.id), "modalityIds": ["2027-01"]},
                },
                {
                    "type": "Value",
                    "value": {
                        "metricId": str(revenue.id),
                        "condition": {"type": "LessThan", "value": 0},
                    },
                },
            ],
        },
    }
    assert rows_of(export(client, METRIC_PATH, revenue, key, body))[1:] == [
        ["FR", "2027-01", "100.5"],
        ["DE", "2027-01", "80"],
        ["DE", "2027-02", "-20.75"],
    ]


@pytest.mark.parametrize(
    ("condition", "kept"),
    [
        ({"type": "GreaterThan", "value": 100.5}, [("FR", "2027-02"), ("IT", "2027-02")]),
        (
            {"type": "GreaterThanOrEqual", "value": 100.5},
            [("FR", "2027-01"), ("FR", "2027-02"), ("IT", "2027-02")],
        ),
        ({"type": "LessThanOrEqual", "value": 80}, [("DE", "2027-01"), ("DE", "2027-02")]),
        ({"type": "Equal", "value": 250}, [("FR", "2027-02")]),
        (
            {"type": "NotEqual", "value": 250},
            [("FR", "2027-01"), ("DE", "2027-01"), ("DE", "2027-02"), ("IT", "2027-02")],
        ),
        (
            {"type": "IsNotBlank"},
            [
                ("FR", "2027-01"),
                ("FR", "2027-02"),
                ("DE", "2027-01"),
                ("DE", "2027-02"),
                ("IT", "2027-02"),
            ],
        ),
    ],
)
def test_each_value_condition_keeps_the_rows_it_names(
    client: TestClient,
    revenue: BlockDef,
    key: dict[str, str],
    condition: dict[str, Any],
    kept: list[tuple[str, str]],
) -> None:
    value = {"metricId": str(revenue.id), "condition": condition}
    answer = export(
        client, METRIC_PATH, revenue, key, {"exportFilter": {"type": "Value", "value": value}}
    )
    assert [(row[0], row[1]) for row in rows_of(answer)[1:]] == kept


def test_a_condition_on_another_metric_reads_it_at_each_rows_items(
    client: TestClient, revenue: BlockDef, target: BlockDef, key: dict[str, str]
) -> None:
    """Target is over Country only: each Revenue row is kept when its country's Target
    passes; IT has no Target, so no condition keeps it."""
    condition = {"metricId": str(target.id), "condition": {"type": "GreaterThan", "value": 100}}
    body = {"exportFilter": {"type": "Value", "value": condition}}
    assert [row[0] for row in rows_of(export(client, METRIC_PATH, revenue, key, body))[1:]] == [
        "FR",
        "FR",
    ]
    blank = {"metricId": str(target.id), "condition": {"type": "IsNotBlank"}}
    both = {
        "exportFilter": {
            "type": "And",
            "and": [
                {"type": "Value", "value": blank},
                {
                    "type": "Value",
                    "value": {
                        "metricId": str(revenue.id),
                        "condition": {"type": "GreaterThan", "value": 90},
                    },
                },
            ],
        }
    }
    assert rows_of(export(client, METRIC_PATH, revenue, key, both))[1:] == [
        ["FR", "2027-01", "100.5"],
        ["FR", "2027-02", "250"],
    ]


def test_text_and_boolean_conditions_compare_as_their_type(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    key: dict[str, str],
) -> None:
    status = blocks.create_metric(db, admin, app.id, "Status", ValueType.TEXT, [country.id])
    cells = [{"Country": "FR", "Value": "Open"}, {"Country": "DE", "Value": "closed"}]
    items.set_cells(db, admin, status.id, cells)
    active = blocks.create_metric(db, admin, app.id, "Active", ValueType.BOOLEAN, [country.id])
    cells = [{"Country": "FR", "Value": "true"}, {"Country": "IT", "Value": "false"}]
    items.set_cells(db, admin, active.id, cells)

    def kept(metric: BlockDef, condition: dict[str, Any]) -> list[str]:
        value = {"metricId": str(metric.id), "condition": condition}
        body = {"exportFilter": {"type": "Value", "value": value}}
        return [row[0] for row in rows_of(export(client, METRIC_PATH, metric, key, body))[1:]]

    # Code-point order on both databases: "O" (U+004F) sorts before "c" (U+0063).
    assert kept(status, {"type": "LessThan", "value": "P"}) == ["FR"]
    assert kept(status, {"type": "GreaterThan", "value": "P"}) == ["DE"]
    assert kept(status, {"type": "Equal", "value": "closed"}) == ["DE"]
    assert kept(active, {"type": "Equal", "value": True}) == ["FR"]
    assert kept(active, {"type": "NotEqual", "value": True}) == ["IT"]
    ordered = {"metricId": str(active.id), "condition": {"type": "LessThan", "value": True}}
    answer = export(
        client, METRIC_PATH, active, key, {"exportFilter": {"type": "Value", "value": ordered}}
    )
    assert "exportFilter.value.condition.type" in refused(answer, METRIC_PATH)


def dimension_node(list_id: uuid.UUID | str, codes: list[str]) -> dict[str, Any]:
    return {"type": "Dimension", "dimension": {"dimensionId": str(list_id), "modalityIds": codes}}


def test_bad_metric_options_are_a_400_naming_their_field(
    client: TestClient,
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    orders: BlockDef,
    key: dict[str, str],
) -> None:
    region = blocks.create_list(db, admin, revenue.application_id, DL, "Region")
    zone_plan = blocks.create_metric(
        db, admin, revenue.application_id, "Zone plan", ValueType.NUMBER, [region.id]
    )

    def value(metric_id: Any, condition: Any) -> dict[str, Any]:
        return {
            "exportFilter": {
                "type": "Value",
                "value": {"metricId": metric_id, "condition": condition},
            }
        }

    revenue_id = str(revenue.id)
    cases: list[tuple[Any, str]] = [
        ({"scenarios": [str(uuid.uuid4())]}, "scenarios"),
        ({"filters": [{"dimensionId": "nope", "modalityIds": []}]}, "filters[0].dimensionId"),
        (
            {"filters": [{"dimensionId": str(region.id), "modalityIds": ["X"]}]},
            "filters[0].dimensionId",
        ),
        (
            {"filters": [{"dimensionId": str(country.id), "modalityIds": ["XX"]}]},
            "filters[0].modalityIds",
        ),
        ({"filters": {"dimensionId": str(country.id)}}, "filters"),
        ({"exportFilter": {"type": "Dimension"}}, "exportFilter.dimension"),
        ({"exportFilter": {"type": "Xor"}}, "exportFilter.type"),
        ({"exportFilter": {"and": []}}, "exportFilter.type"),
        ({"exportFilter": {"type": "And", "and": []}}, "exportFilter.and"),
        (
            {"exportFilter": {"type": "Or", "or": [dimension_node(country.id, ["FR"])], "and": []}},
            "exportFilter.and",
        ),
        (
            {
                "exportFilter": {
                    "type": "Or",
                    "or": [
                        {
                            "type": "Dimension",
                            "dimension": {"dimensionId": str(month.id), "modalityIds": ["2030-01"]},
                        }
                    ],
                }
            },
            "exportFilter.or[0].dimension.modalityIds",
        ),
        (value(revenue_id, {"type": "GreaterThan"}), "exportFilter.value.condition.value"),
        (
            value(revenue_id, {"type": "IsNotBlank", "value": 3}),
            "exportFilter.value.condition.value",
        ),
        (
            value(revenue_id, {"type": "GreaterThan", "value": "ten"}),
            "exportFilter.value.condition.value",
        ),
        (
            value(revenue_id, {"type": "GreaterThan", "value": [1]}),
            "exportFilter.value.condition.value",
        ),
        (
            value(revenue_id, {"type": "greaterThan", "value": 1}),
            "exportFilter.value.condition.type",
        ),
        (
            value(revenue_id, {"type": "Equal", "value": 1, "unit": "€"}),
            "exportFilter.value.condition.unit",
        ),
        (value(str(orders.id), {"type": "Equal", "value": 1}), "exportFilter.value.metricId"),
        (value(str(uuid.uuid4()), {"type": "Equal", "value": 1}), "exportFilter.value.metricId"),
        (value(str(zone_plan.id), {"type": "Equal", "value": 1}), "exportFilter.value.metricId"),
        (
            value(revenue_id, {"type": "Equal", "value": 10**400}),
            "exportFilter.value.condition.value",
        ),
        ({"propertyTechnicalNames": ["Code"]}, "propertyTechnicalNames"),
        ([], "The body"),
    ]
    for body, field in cases:
        answer = export(client, METRIC_PATH, revenue, key, body)
        assert answer.status_code == 400, body
        assert field in refused(answer, METRIC_PATH), (body, answer.text)


def test_a_condition_on_a_metric_of_other_dimensions_says_which(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    revenue: BlockDef,
    month: BlockDef,
    target: BlockDef,
    key: dict[str, str],
) -> None:
    monthly = blocks.create_metric(db, admin, app.id, "Monthly", ValueType.NUMBER, [month.id])
    condition = {"metricId": str(revenue.id), "condition": {"type": "GreaterThan", "value": 1}}
    body = {"exportFilter": {"type": "Value", "value": condition}}
    answer = export(client, METRIC_PATH, target, key, body)
    assert "'Revenue' is dimensioned by 'Sales month'" in refused(answer, METRIC_PATH)
    assert rows_of(export(client, METRIC_PATH, monthly, key))[0] == ["Sales_month", "Monthly"]


def test_a_filter_tree_nested_too_deep_is_refused_not_a_500(
    client: TestClient, revenue: BlockDef, country: BlockDef, key: dict[str, str]
) -> None:
    node: dict[str, Any] = dimension_node(country.id, ["FR"])
    for _ in range(40):
        node = {"type": "And", "and": [node]}
    answer = export(client, METRIC_PATH, revenue, key, {"exportFilter": node})
    assert "deep" in refused(answer, METRIC_PATH)
    # Within the 64 KB an API body may have, yet deeper than Python's JSON reader recurses.
    nested = b'{"exportFilter": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    headers = {**key, "Content-Type": "application/json"}
    path = f"/api/v1/export/metric/{revenue.id}"
    too_deep = client.post(path, headers=headers, content=nested)
    assert "nested too deeply" in refused(too_deep, METRIC_PATH)


# ---------------------------------------------------------------- bodies and ids


def test_the_document_s_json_content_types_are_read_and_others_refused(
    client: TestClient, country: BlockDef, key: dict[str, str]
) -> None:
    path = f"/api/v1/export/list/{country.id}"
    body = json.dumps({"propertyTechnicalNames": ["Code"]}).encode()
    for kind in (
        "application/json",
        "text/json",
        "application/json-patch+json",
        "application/vnd.x+json; charset=utf-8",
    ):
        answer = client.post(path, headers={**key, "Content-Type": kind}, content=body)
        assert rows_of(answer)[0] == ["Code"], kind
    form = client.post(
        path, headers={**key, "Content-Type": "application/x-www-form-urlencoded"}, content=body
    )
    assert "Content-Type: application/json" in refused(form, LIST_PATH)
    broken = client.post(
        path, headers={**key, "Content-Type": "application/json"}, content=b"{not json"
    )
    assert "not valid JSON" in refused(broken, LIST_PATH)
    nan = client.post(
        path, headers={**key, "Content-Type": "application/json"}, content=b'{"x": NaN}'
    )
    assert refused(nan, LIST_PATH)
    null = client.post(path, headers={**key, "Content-Type": "application/json"}, content=b"null")
    assert len(rows_of(null)) == 4


def test_a_list_id_on_the_metric_endpoint_and_back_is_404_pointing_to_the_right_one(
    client: TestClient, revenue: BlockDef, country: BlockDef, key: dict[str, str]
) -> None:
    as_metric = refused(export(client, METRIC_PATH, country, key), METRIC_PATH, 404)
    assert as_metric.startswith("Metric with the specified ID was not found")
    assert f"POST /api/v1/export/list/{country.id}" in as_metric
    as_list = refused(export(client, LEGACY_LIST_PATH, revenue, key), LEGACY_LIST_PATH, 404)
    assert as_list.startswith("List with the specified ID was not found")
    assert f"POST /api/export/metric/{revenue.id}" in as_list
    bad_id = refused(export(client, LIST_PATH, "not-a-uuid", key), LIST_PATH)
    assert "listId must be a UUID" in bad_id


# ---------------------------------------------------------------- access and keys


def test_a_block_the_owner_may_not_read_is_404_like_an_unknown_one(
    client: TestClient,
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    revenue: BlockDef,
    key_of: Callable[..., dict[str, str]],
    new_member: Callable[[str], Actor],
) -> None:
    outsider = key_of(owner=new_member("outsider@example.com"))
    for path, block, message in (
        (LIST_PATH, country, "List with the specified ID was not found"),
        (METRIC_PATH, revenue, "Metric with the specified ID was not found"),
    ):
        hidden = refused(export(client, path, block, outsider), path, 404)
        unknown = refused(export(client, path, uuid.uuid4(), outsider), path, 404)
        assert hidden == unknown == message

    reader = new_member("reader@example.com")
    grant(db, admin, app.id, reader.email, "Reader")
    reader_key = key_of(owner=reader)
    assert len(rows_of(export(client, LIST_PATH, country, reader_key))) == 4

    # A condition on a Metric the owner may not read says no more than for an unknown one.
    elsewhere = applications.create_application(db, admin, "Elsewhere")
    hidden_list = blocks.create_list(db, admin, elsewhere.id, DL, "Hidden")
    secret = blocks.create_metric(
        db, admin, elsewhere.id, "Secret", ValueType.NUMBER, [hidden_list.id]
    )
    messages = []
    for metric_id in (secret.id, uuid.uuid4()):
        condition = {"metricId": str(metric_id), "condition": {"type": "IsNotBlank"}}
        body = {"exportFilter": {"type": "Value", "value": condition}}
        answer = export(client, METRIC_PATH, revenue, reader_key, body)
        messages.append(refused(answer, METRIC_PATH).replace(str(metric_id), "<id>"))
    assert messages[0] == messages[1] == "exportFilter.value.metricId: no Metric with the ID <id>."


def test_only_an_export_key_exports(
    client: TestClient, country: BlockDef, revenue: BlockDef, key_of: Callable[..., dict[str, str]]
) -> None:
    for key_type in (ApiKeyType.IMPORT, ApiKeyType.METADATA):
        for path, block in ((LIST_PATH, country), (LEGACY_METRIC_PATH, revenue)):
            answer = export(client, path, block, key_of(key_type=key_type))
            assert answer.status_code == 403, answer.text
            assert answer.json()["reason"] == "wrong_key_type"
    missing = export(client, LIST_PATH, country, {})
    assert missing.status_code == 401
    assert missing.json()["reason"] == "missing_key"


# ---------------------------------------------------------------- streaming


def test_a_large_list_streams_in_batches_from_one_query(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    """The rows come in several chunks while one SELECT runs: no query per row, nothing
    fetched whole (STREAM_ROWS rows at a time)."""
    ledger = blocks.create_list(db, admin, app.id, TL, "Ledger")
    blocks.add_property(db, admin, ledger.id, "Line", T.INTEGER)
    ledger = blocks.add_property(
        db, admin, ledger.id, "Country", T.DIMENSION, referenced_list_id=country.id
    )
    count = csv_files.STREAM_ROWS * 3 + 17
    codes = ("FR", "DE", "IT")
    rows = [{"Line": str(n), "Country": codes[n % 3]} for n in range(count)]
    items.append_rows(db, admin, ledger.id, rows)

    statements: list[str] = []

    def count_statement(*args: Any) -> None:
        statements.append(args[2])

    found = exports.export_list(db, admin, ledger.id, ListExport())
    event.listen(db.engine, "before_cursor_execute", count_statement)
    try:
        chunks = list(found.chunks)
    finally:
        event.remove(db.engine, "before_cursor_execute", count_statement)

    assert len(chunks) >= 4
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    lines = list(csv.reader(io.StringIO("".join(chunks)), delimiter=";"))
    assert lines[0] == ["Country", "Line"]
    assert len(lines) == count + 1
    assert lines[-1] == [codes[(count - 1) % 3], str(count - 1)]
