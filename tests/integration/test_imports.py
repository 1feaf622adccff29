"""Running imports into blocks: what lands, what is reported, and what a failed run leaves."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from planport.domain.blocks import BlockDef
from planport.domain.clock import utc_now
from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.errors import Invalid, PermissionDenied
from planport.domain.file_settings import DateFormat, FileSettings, Layout, NumberFormat
from planport.domain.imports import RunStatus, Trigger
from planport.domain.mapping import (
    CODE,
    NAME,
    VALUE,
    ClearMode,
    FieldMapping,
    Mapping,
    MatchBy,
    PivotMapping,
    TransactionMode,
    UnknownItems,
)
from planport.domain.members import Actor
from planport.services import blocks, imports
from planport.services.blocks import items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import runs
from planport.store.db import Database
from tests.integration.builders import grid
from tests.integration.import_builders import (
    field,
    group,
    mapping,
    rejects_text,
    run,
    run_count,
    sample_lines,
    write_csv,
)

DL, TL = BlockKind.DIMENSION_LIST, BlockKind.TRANSACTION_LIST
T = PropertyType
SKIPPED = "MissingModalitySkippedDataRow"
BLANKED = "MissingModalityUseDefaultOrNullModality"
OVERWRITTEN = "OverwrittenByLaterRow"
PARSING = "ParsingError"


def prop(block: BlockDef, name: str) -> uuid.UUID:
    return next(p.id for p in block.properties if p.name == name)


@pytest.fixture
def currency(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, DL, "Currency")
    items.write_items(
        db, admin, created.id, [{"Code": "EUR", "Name": "Euro"}, {"Code": "USD", "Name": "Dollar"}]
    )
    return created


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView, currency: BlockDef) -> BlockDef:
    """A Dimension List with a property of each type and two items, FR and DE."""
    created = blocks.create_list(db, admin, app.id, DL, "Country")
    for name, kind in [
        ("Region", T.TEXT),
        ("Population", T.INTEGER),
        ("Joined", T.DATE),
        ("In EU", T.BOOLEAN),
        ("Tax rate", T.NUMBER),
    ]:
        blocks.add_property(db, admin, created.id, name, kind)
    blocks.add_property(
        db, admin, created.id, "Currency", T.DIMENSION, referenced_list_id=currency.id
    )
    items.write_items(
        db,
        admin,
        created.id,
        [
            {"Code": "FR", "Name": "France", "Region": "EMEA", "Currency": "EUR"},
            {"Code": "DE", "Name": "Germany", "Region": "EMEA", "Population": "83000000"},
        ],
    )
    return blocks.get_block(db, admin, created.id)


@pytest.fixture
def month(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, DL, "Month")
    items.write_items(db, admin, created.id, [{"Code": f"2026-0{m}"} for m in (1, 2, 3)])
    return created


@pytest.fixture
def revenue(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> BlockDef:
    return blocks.create_metric(
        db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id, month.id]
    )


@pytest.fixture
def sales(db: Database, admin: Actor, app: ApplicationView, country: BlockDef) -> BlockDef:
    """A Transaction List: Order, Country (dimension), Amount, Source, Loaded, Loaded on."""
    created = blocks.create_list(db, admin, app.id, TL, "Sales")
    blocks.add_property(db, admin, created.id, "Order", T.TEXT)
    blocks.add_property(
        db, admin, created.id, "Country", T.DIMENSION, referenced_list_id=country.id
    )
    blocks.add_property(db, admin, created.id, "Amount", T.NUMBER)
    blocks.add_property(db, admin, created.id, "Source", T.TEXT)
    blocks.add_property(db, admin, created.id, "Loaded", T.TEXT)
    return blocks.add_property(db, admin, created.id, "Loaded on", T.DATE)


def by_code(db: Database, actor: Actor, block: BlockDef) -> dict[str, dict[str, str]]:
    return {row["Code"]: row for row in grid(db, actor, block.id)}


def cells(db: Database, actor: Actor, metric: BlockDef) -> dict[tuple[str, str], str]:
    return {(r["Country"], r["Month"]): r["Revenue"] for r in grid(db, actor, metric.id)}


def set_revenue(db: Database, actor: Actor, metric: BlockDef, values: dict[str, str]) -> None:
    """Cells keyed "FR/2026-01"."""
    items.set_cells(
        db,
        actor,
        metric.id,
        [
            {"Country": key.split("/")[0], "Month": key.split("/")[1], "Value": value}
            for key, value in values.items()
        ],
    )


def country_fields(country: BlockDef, *names: str) -> list[FieldMapping]:
    """Fields mapping Code and Name and the named properties from same-named columns."""
    return [
        field(CODE, "Code"),
        field(NAME, "Name"),
        *(field(prop(country, n), n) for n in names),
    ]


def revenue_mapping(country: BlockDef, month: BlockDef, **options: Any) -> Mapping:
    return mapping(
        field(country.id, "Country"), field(month.id, "Month"), field(VALUE, "Revenue"), **options
    )


# ---------------------------------------------------------------- Dimension Lists


def test_a_dimension_list_import_inserts_new_items_and_updates_existing_ones(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "countries.csv",
        ["Code", "Name", "Region"],
        [["FR", "République française", "Europe"], ["US", "United States", "Americas"]],
    )
    chosen = mapping(*country_fields(country, "Region"))
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.rows_read, done.inserted, done.updated, done.skipped) == (2, 1, 1, 0)
    found = by_code(db, admin, country)
    assert set(found) == {"FR", "DE", "US"}
    assert found["FR"]["Name"] == "République française"
    assert found["FR"]["Region"] == "Europe"
    assert found["FR"]["Currency"] == "EUR"  # unmapped properties keep their values
    assert found["US"]["Region"] == "Americas"
    assert found["DE"]["Population"] == "83000000"


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def test_new_items_keep_the_order_of_the_file_after_the_existing_ones(
    db: Database, admin: Actor, app: ApplicationView, tmp_path: Path
) -> None:
    month = blocks.create_list(db, admin, app.id, DL, "Month")
    items.write_items(db, admin, month.id, [{"Code": "Mar"}])
    path = write_csv(tmp_path / "months.csv", ["Code"], [[m] for m in MONTHS])
    chosen = mapping(field(CODE, "Code"))
    done = run(db, admin, month.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    expected = ["Mar", *(m for m in MONTHS if m != "Mar")]
    assert [row["Code"] for row in grid(db, admin, month.id)] == expected
    again = run(
        db, admin, month.id, write_csv(tmp_path / "back.csv", ["Code"], [["Dec"], ["Zed"]]), chosen
    )
    assert again.status is RunStatus.COMPLETED, again.errors
    assert [row["Code"] for row in grid(db, admin, month.id)] == [*expected, "Zed"]


def test_typed_properties_are_read_with_the_file_formats(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "countries.csv",
        ["Code", "Name", "Population", "Joined", "In EU", "Tax rate"],
        [
            ["FR", "France", "68 000 000", "01/01/1958", "oui", "20 %"],
            ["CH", "Suisse", "8 800 000", "", "non", "8,1 %"],
        ],
        delimiter=";",
    )
    settings = FileSettings(
        number=NumberFormat(decimal_separator=",", thousands_separator=" "),
        date=DateFormat(pattern="dd/MM/yyyy"),
    )
    chosen = mapping(*country_fields(country, "Population", "Joined", "In EU", "Tax rate"))
    done = runs.run_import(db, admin, country.id, path, settings, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    found = by_code(db, admin, country)
    assert found["FR"] == {
        "Code": "FR",
        "Name": "France",
        "Region": "EMEA",  # unmapped: unchanged
        "Population": "68000000",
        "Joined": "1958-01-01",
        "In EU": "true",
        "Tax rate": "0.2",
        "Currency": "EUR",  # unmapped: unchanged
    }
    assert (found["CH"]["Population"], found["CH"]["Joined"]) == ("8800000", "")
    assert found["CH"]["In EU"] == "false"
    assert float(found["CH"]["Tax rate"]) == pytest.approx(0.081)


@pytest.mark.parametrize(("match_by", "written"), [(MatchBy.CODE, "USD"), (MatchBy.NAME, "Dollar")])
def test_a_dimension_property_is_resolved_by_item_code_or_name(
    db: Database,
    admin: Actor,
    country: BlockDef,
    tmp_path: Path,
    match_by: MatchBy,
    written: str,
) -> None:
    path = write_csv(tmp_path / "c.csv", ["Code", "Currency"], [["US", f" {written} "]])
    chosen = mapping(
        field(CODE, "Code"), field(prop(country, "Currency"), "Currency", match_by=match_by)
    )
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert by_code(db, admin, country)["US"]["Currency"] == "USD"


def test_unknown_items_are_created_in_the_referenced_list_when_asked(
    db: Database, admin: Actor, country: BlockDef, currency: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["Code", "Currency"],
        [["GB", "GBP"], ["JP", "JPY"], ["GI", "GBP"], ["FR", "EUR"]],
    )
    chosen = mapping(
        field(CODE, "Code"),
        field(prop(country, "Currency"), "Currency", unknown=UnknownItems.CREATE),
    )
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.summary is not None
    assert done.summary.items_created == {"Currency": ["GBP", "JPY"]}
    assert done.summary.items_created_count == {"Currency": 2}
    assert [r["Code"] for r in grid(db, admin, currency.id)] == ["EUR", "USD", "GBP", "JPY"]
    found = by_code(db, admin, country)
    assert (found["GB"]["Currency"], found["GI"]["Currency"]) == ("GBP", "GBP")
    assert done.skipped == 0


def test_unknown_items_left_blank_keep_the_row_and_are_reported_with_lines(
    db: Database, admin: Actor, country: BlockDef, currency: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["Code", "Currency"],
        [["GB", "GBP"], ["IT", "EUR"], ["JP", "JPY"]],
    )
    chosen = mapping(
        field(CODE, "Code"),
        field(prop(country, "Currency"), "Currency", unknown=UnknownItems.BLANK),
    )
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.inserted, done.skipped) == (3, 0)
    found = by_code(db, admin, country)
    assert (found["GB"]["Currency"], found["IT"]["Currency"], found["JP"]["Currency"]) == (
        "",
        "EUR",
        "",
    )
    blanked = group(done, BLANKED, "Currency")
    assert blanked.count == 2
    assert [(s.line, s.value) for s in blanked.samples] == [(2, "GBP"), (4, "JPY")]
    assert "Currency" in blanked.description
    assert len(grid(db, admin, currency.id)) == 2  # nothing created


def test_unknown_items_skipped_drop_the_row_and_are_reported_with_lines(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["Code", "Name", "Currency"],
        [["GB", "UK", "GBP"], ["IT", "Italy", "EUR"], ["JP", "Japan", "JPY"]],
    )
    chosen = mapping(
        field(CODE, "Code"),
        field(NAME, "Name"),
        field(prop(country, "Currency"), "Currency", unknown=UnknownItems.SKIP),
    )
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.rows_read, done.inserted, done.skipped) == (3, 1, 2)
    assert set(by_code(db, admin, country)) == {"FR", "DE", "IT"}
    skipped = group(done, SKIPPED, "Currency")
    assert skipped.count == 2
    assert [(s.line, s.value) for s in skipped.samples] == [(2, "GBP"), (4, "JPY")]


def test_creating_items_matched_by_name_never_crashes_on_a_name_that_is_another_code(
    db: Database, admin: Actor, country: BlockDef, currency: BlockDef, tmp_path: Path
) -> None:
    # "EUR" is the code of the item named "Euro": no item is *named* EUR, and its code is taken.
    path = write_csv(tmp_path / "c.csv", ["Code", "Currency"], [["IT", "EUR"], ["JP", "Yen"]])
    chosen = mapping(
        field(CODE, "Code"),
        field(
            prop(country, "Currency"),
            "Currency",
            match_by=MatchBy.NAME,
            unknown=UnknownItems.CREATE,
        ),
    )
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.inserted + done.skipped == 2
    assert by_code(db, admin, country)["JP"]["Currency"] == "Yen"
    assert {r["Code"]: r["Name"] for r in grid(db, admin, currency.id)}["EUR"] == "Euro"


def test_an_item_code_with_a_control_character_is_refused_as_forms_refuse_it(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    with pytest.raises(Invalid, match="control character"):
        items.write_items(db, admin, country.id, [{"Code": "B\x9fAD"}])
    path = write_csv(tmp_path / "c.csv", ["Code"], [["IT"], ["B\x9fAD"], ["C\x85D"], ["T\tAB"]])
    # One column holding a tab: the separator is given, not detected (it would be ambiguous).
    done = run(
        db, admin, country.id, path, mapping(field(CODE, "Code")), FileSettings(separator=",")
    )
    assert done.status is RunStatus.COMPLETED, done.errors
    assert set(by_code(db, admin, country)) == {"FR", "DE", "IT"}
    assert sample_lines(group(done, PARSING, "Code")) == [3, 4, 5]


def test_a_code_repeated_in_the_file_keeps_its_last_row_and_reports_the_others(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["Code", "Name"],
        [["FR", "first"], ["US", "States"], ["FR", "second"], [" FR ", "third"]],
    )
    done = run(db, admin, country.id, path, mapping(*country_fields(country)))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert by_code(db, admin, country)["FR"]["Name"] == "third"
    assert (done.inserted, done.updated, done.skipped) == (1, 1, 0)
    overwritten = group(done, OVERWRITTEN)
    assert overwritten.count == 2
    assert sample_lines(overwritten) == [2, 4]


def test_a_value_that_cannot_be_read_skips_its_row_naming_line_column_and_value(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["Code", "Population", "Joined"],
        [
            ["IT", "59000000", "1958-01-01"],
            ["ES", "many", "1986-01-01"],
            ["PT", "10", "1986-02-30"],
        ],
    )
    chosen = mapping(
        field(CODE, "Code"), *(field(prop(country, n), n) for n in ("Population", "Joined"))
    )
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.rows_read, done.inserted, done.skipped) == (3, 1, 2)
    assert set(by_code(db, admin, country)) == {"FR", "DE", "IT"}
    population = group(done, PARSING, "Population")
    assert [(s.line, s.value) for s in population.samples] == [(3, "many")]
    assert "integer" in population.description
    joined = group(done, PARSING, "Joined")
    assert [(s.line, s.value) for s in joined.samples] == [(4, "1986-02-30")]


def test_a_blank_code_skips_its_row(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", ["Code", "Name"], [["  ", "Nowhere"], ["IT", "Italy"]])
    done = run(db, admin, country.id, path, mapping(*country_fields(country)))
    assert (done.inserted, done.skipped) == (1, 1)
    assert sample_lines(group(done, PARSING, "Code")) == [2]


def test_a_population_written_with_a_plus_sign_is_imported(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", ["Code", "Population"], [["IT", "+59000000"]])
    chosen = mapping(field(CODE, "Code"), field(prop(country, "Population"), "Population"))
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert by_code(db, admin, country)["IT"]["Population"] == "59000000"


def test_clearing_a_dimension_list_removes_the_items_missing_from_the_file(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", ["Code", "Name"], [["FR", "France"], ["IT", "Italy"]])
    done = run(db, admin, country.id, path, mapping(*country_fields(country), clear=ClearMode.ALL))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert set(by_code(db, admin, country)) == {"FR", "IT"}
    assert (done.inserted, done.updated, done.deleted) == (1, 1, 1)


def test_clearing_a_dimension_list_whose_removed_items_are_used_fails_and_changes_nothing(
    db: Database, admin: Actor, country: BlockDef, revenue: BlockDef, tmp_path: Path
) -> None:
    set_revenue(db, admin, revenue, {"DE/2026-01": "5"})
    before = grid(db, admin, country.id)
    path = write_csv(tmp_path / "c.csv", ["Code", "Name"], [["FR", "Changed"], ["IT", "Italy"]])
    done = run(db, admin, country.id, path, mapping(*country_fields(country), clear=ClearMode.ALL))
    assert done.status is RunStatus.FAILED
    assert [e.name for e in done.errors] == ["ItemsInUse"]
    assert "Revenue" in done.errors[0].description
    assert grid(db, admin, country.id) == before
    assert cells(db, admin, revenue) == {("DE", "2026-01"): "5"}


# ---------------------------------------------------------------- Transaction Lists


def test_a_transaction_list_import_appends_every_row(
    db: Database, admin: Actor, sales: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "s.csv",
        ["Order", "Country", "Amount"],
        [["O1", "FR", "10"], ["O1", "DE", "2.5"]],
    )
    chosen = mapping(*(field(prop(sales, n), n) for n in ("Order", "Country", "Amount")))
    first = run(db, admin, sales.id, path, chosen)
    second = run(db, admin, sales.id, path, chosen)
    assert (first.inserted, second.inserted, second.updated) == (2, 2, 0)
    rows = grid(db, admin, sales.id)
    assert [(r["Order"], r["Country"], r["Amount"]) for r in rows] == [
        ("O1", "FR", "10"),
        ("O1", "DE", "2.5"),
    ] * 2


def test_a_transaction_list_upsert_updates_rows_by_the_unique_property(
    db: Database, admin: Actor, sales: BlockDef, tmp_path: Path
) -> None:
    blocks.set_unique_property(db, admin, sales.id, prop(sales, "Order"))
    items.append_rows(db, admin, sales.id, [{"Order": "O1", "Amount": "10", "Source": "web"}])
    path = write_csv(
        tmp_path / "s.csv",
        ["Order", "Amount"],
        [["O1", "15"], ["O2", "7"], ["O3", "1"], ["O3", "3"]],
    )
    chosen = mapping(
        field(prop(sales, "Order"), "Order"),
        field(prop(sales, "Amount"), "Amount"),
        transaction_mode=TransactionMode.UPSERT,
    )
    done = run(db, admin, sales.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.inserted, done.updated) == (2, 1)
    rows = {r["Order"]: r for r in grid(db, admin, sales.id)}
    assert {k: r["Amount"] for k, r in rows.items()} == {"O1": "15", "O2": "7", "O3": "3"}
    assert rows["O1"]["Source"] == "web"  # unmapped properties keep their values
    assert sample_lines(group(done, OVERWRITTEN)) == [4]


def test_rows_without_a_unique_value_are_appended_in_upsert_mode(
    db: Database, admin: Actor, sales: BlockDef, tmp_path: Path
) -> None:
    blocks.set_unique_property(db, admin, sales.id, prop(sales, "Order"))
    path = write_csv(tmp_path / "s.csv", ["Order", "Amount"], [["", "1"], ["O1", "2"], ["", "3"]])
    chosen = mapping(
        field(prop(sales, "Order"), "Order"),
        field(prop(sales, "Amount"), "Amount"),
        transaction_mode=TransactionMode.UPSERT,
    )
    done = run(db, admin, sales.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.inserted, done.skipped) == (3, 0)
    assert sorted(r["Amount"] for r in grid(db, admin, sales.id)) == ["1", "2", "3"]


def test_upsert_into_a_list_without_a_unique_property_is_refused_before_running(
    db: Database, admin: Actor, sales: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", ["Order"], [["O1"]])
    chosen = mapping(field(prop(sales, "Order"), "Order"), transaction_mode=TransactionMode.UPSERT)
    with pytest.raises(Invalid, match="unique property"):
        run(db, admin, sales.id, path, chosen)
    assert run_count(db) == 0


# ---------------------------------------------------------------- Metrics


def test_a_flat_metric_file_sets_cells(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    set_revenue(db, admin, revenue, {"FR/2026-01": "1"})
    path = write_csv(
        tmp_path / "r.csv",
        ["Country", "Month", "Revenue"],
        [["FR", "2026-01", "100.5"], ["DE", "2026-01", "200"], ["DE", "2026-02", "-3"]],
    )
    done = run(db, admin, revenue.id, path, revenue_mapping(country, month))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.inserted, done.updated) == (2, 1)
    assert cells(db, admin, revenue) == {
        ("FR", "2026-01"): "100.5",
        ("DE", "2026-01"): "200",
        ("DE", "2026-02"): "-3",
    }


def test_a_metric_row_with_an_unknown_item_is_skipped(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path / "r.csv",
        ["Country", "Month", "Revenue"],
        [["FR", "2026-01", "1"], ["XX", "2026-01", "2"], ["FR", "", "3"]],
    )
    done = run(db, admin, revenue.id, path, revenue_mapping(country, month))
    assert cells(db, admin, revenue) == {("FR", "2026-01"): "1"}
    assert done.skipped == 2
    assert [(s.line, s.value) for s in group(done, SKIPPED, "Country").samples] == [(3, "XX")]
    assert sample_lines(group(done, PARSING, "Month")) == [4]


def pivot_settings() -> FileSettings:
    return FileSettings(layout=Layout.PIVOTED)


def pivot_mapping(
    country: BlockDef, month: BlockDef, columns: list[str], **options: Any
) -> Mapping:
    return mapping(
        field(country.id, "Country"),
        pivot=PivotMapping(dimension=str(month.id), columns=columns),
        **options,
    )


def test_a_pivoted_metric_file_sets_one_cell_per_header_item(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path / "p.csv",
        ["Country", "2026-01", "2026-02", "2026-03"],
        [["FR", "1", "2", "3"], ["DE", "4", "", "6"]],
    )
    chosen = pivot_mapping(country, month, ["2026-01", "2026-02", "2026-03"])
    done = runs.run_import(db, admin, revenue.id, path, pivot_settings(), chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.rows_read == 2
    assert done.inserted == 5
    assert cells(db, admin, revenue) == {
        ("FR", "2026-01"): "1",
        ("FR", "2026-02"): "2",
        ("FR", "2026-03"): "3",
        ("DE", "2026-01"): "4",
        ("DE", "2026-03"): "6",
    }


def test_a_pivoted_header_that_is_no_item_is_skipped_and_reported(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path / "p.csv",
        ["Country", "2026-01", "2026-13"],
        [["FR", "1", "9"], ["DE", "4", ""], ["IT", "", "8"]],
    )
    chosen = pivot_mapping(country, month, ["2026-01", "2026-13"])
    done = runs.run_import(db, admin, revenue.id, path, pivot_settings(), chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert cells(db, admin, revenue) == {("FR", "2026-01"): "1", ("DE", "2026-01"): "4"}
    unknown = group(done, SKIPPED, "2026-13")
    assert [(s.line, s.value) for s in unknown.samples] == [(2, "9")]
    assert "2026-13" in unknown.description
    assert [(s.line, s.value) for s in group(done, SKIPPED, "Country").samples] == [(4, "IT")]


@pytest.mark.parametrize("pivoted", [False, True], ids=["flat", "pivoted"])
def test_a_blank_value_clears_its_cell_when_blanks_overwrite(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
    pivoted: bool,
) -> None:
    set_revenue(db, admin, revenue, {"FR/2026-01": "1", "DE/2026-01": "2"})
    done = _import_fr_january_blank(db, admin, revenue, country, month, tmp_path, pivoted, True)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert cells(db, admin, revenue) == {("DE", "2026-01"): "2"}
    assert done.deleted == 1


@pytest.mark.parametrize("pivoted", [False, True], ids=["flat", "pivoted"])
def test_a_blank_value_keeps_its_cell_when_blanks_do_not_overwrite(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
    pivoted: bool,
) -> None:
    set_revenue(db, admin, revenue, {"FR/2026-01": "1", "DE/2026-01": "2"})
    done = _import_fr_january_blank(db, admin, revenue, country, month, tmp_path, pivoted, False)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert cells(db, admin, revenue) == {("FR", "2026-01"): "1", ("DE", "2026-01"): "2"}
    assert done.deleted == 0
    assert done.skipped == 0


def _import_fr_january_blank(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
    pivoted: bool,
    overwrite: bool,
) -> runs.RunView:
    if pivoted:
        path = write_csv(tmp_path / "p.csv", ["Country", "2026-01"], [["FR", " "]])
        chosen = pivot_mapping(country, month, ["2026-01"], blanks_overwrite=overwrite)
        return runs.run_import(db, admin, revenue.id, path, pivot_settings(), chosen)
    path = write_csv(tmp_path / "r.csv", ["Country", "Month", "Revenue"], [["FR", "2026-01", ""]])
    return run(
        db, admin, revenue.id, path, revenue_mapping(country, month, blanks_overwrite=overwrite)
    )


def test_clearing_a_whole_metric_leaves_only_the_cells_of_the_file(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    set_revenue(db, admin, revenue, {"FR/2026-01": "1", "DE/2026-01": "2", "FR/2026-02": "3"})
    path = write_csv(tmp_path / "r.csv", ["Country", "Month", "Revenue"], [["FR", "2026-03", "9"]])
    done = run(db, admin, revenue.id, path, revenue_mapping(country, month, clear=ClearMode.ALL))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert cells(db, admin, revenue) == {("FR", "2026-03"): "9"}
    assert done.deleted == 3


def test_clearing_a_scope_reloads_one_month_and_leaves_the_others(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    set_revenue(
        db,
        admin,
        revenue,
        {"FR/2026-01": "1", "DE/2026-01": "2", "FR/2026-02": "3", "DE/2026-02": "4"},
    )
    path = write_csv(tmp_path / "r.csv", ["Country", "Month", "Revenue"], [["FR", "2026-02", "30"]])
    chosen = revenue_mapping(country, month, clear=ClearMode.SCOPE, clear_scope=[str(month.id)])
    done = run(db, admin, revenue.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert cells(db, admin, revenue) == {
        ("FR", "2026-01"): "1",
        ("DE", "2026-01"): "2",
        ("FR", "2026-02"): "30",
    }


# ---------------------------------------------------------------- atomicity


def test_a_run_over_the_reject_threshold_fails_and_leaves_every_block_as_it_was(
    db: Database, admin: Actor, country: BlockDef, currency: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["Code", "Name", "Population", "Currency"],
        [["FR", "Changed", "1", "GBP"], ["IT", "Italy", "x", "EUR"], ["ES", "Spain", "y", "EUR"]],
    )
    chosen = mapping(
        *country_fields(country, "Population"),
        field(prop(country, "Currency"), "Currency", unknown=UnknownItems.CREATE),
        reject_threshold_percent=50,
    )
    countries_before = grid(db, admin, country.id)
    currencies_before = grid(db, admin, currency.id)
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.FAILED
    assert [e.name for e in done.errors] == ["RejectThresholdExceeded"]
    assert "2 of 3 rows" in done.errors[0].description
    assert grid(db, admin, country.id) == countries_before
    assert grid(db, admin, currency.id) == currencies_before
    assert (done.inserted, done.updated) == (0, 0)


def test_a_run_within_the_reject_threshold_completes(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv", ["Code", "Population"], [["IT", "1"], ["ES", "x"], ["PT", "2"]]
    )
    chosen = mapping(
        field(CODE, "Code"),
        field(prop(country, "Population"), "Population"),
        reject_threshold_percent=34,
    )
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.inserted, done.skipped) == (2, 1)


def test_a_run_failed_by_the_reject_threshold_still_says_which_rows_were_rejected(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", ["Code", "Population"], [["IT", "x"], ["ES", "y"]])
    chosen = mapping(
        field(CODE, "Code"),
        field(prop(country, "Population"), "Population"),
        reject_threshold_percent=10,
    )
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.FAILED
    # The person fixing the file needs the reasons and lines, not only the share.
    assert done.summary is not None
    assert [(s.line, s.value) for s in group(done, PARSING, "Population").samples] == [
        (2, "x"),
        (3, "y"),
    ]
    assert "ParsingError" in rejects_text(db, admin, done.id)


def test_a_file_missing_mapped_columns_fails_the_run_naming_them(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    before = grid(db, admin, country.id)
    path = write_csv(tmp_path / "c.csv", ["Code", "Name"], [["IT", "Italy"]])
    done = run(db, admin, country.id, path, mapping(*country_fields(country, "Region")))
    assert done.status is RunStatus.FAILED
    assert [e.name for e in done.errors] == ["FileDoesNotMatch"]
    assert "'Region'" in done.errors[0].description
    assert "c.csv" in done.errors[0].description
    assert grid(db, admin, country.id) == before


# ---------------------------------------------------------------- permissions


def test_a_reader_cannot_import(
    db: Database,
    country: BlockDef,
    member_as: Callable[[str], Actor],
    tmp_path: Path,
) -> None:
    reader = member_as("Reader")
    path = write_csv(tmp_path / "c.csv", ["Code"], [["IT"]])
    with pytest.raises(PermissionDenied, match="Import Data"):
        run(db, reader, country.id, path, mapping(field(CODE, "Code")))
    assert run_count(db) == 0


def test_a_contributor_can_import(
    db: Database,
    admin: Actor,
    country: BlockDef,
    member_as: Callable[[str], Actor],
    tmp_path: Path,
) -> None:
    contributor = member_as("Contributor")
    path = write_csv(tmp_path / "c.csv", ["Code"], [["IT"]])
    done = run(db, contributor, country.id, path, mapping(field(CODE, "Code")))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.actor_email == contributor.email
    assert "IT" in by_code(db, admin, country)


def test_a_contributor_cannot_clear_a_block(
    db: Database,
    admin: Actor,
    country: BlockDef,
    member_as: Callable[[str], Actor],
    tmp_path: Path,
) -> None:
    contributor = member_as("Contributor")
    path = write_csv(tmp_path / "c.csv", ["Code"], [["IT"]])
    with pytest.raises(PermissionDenied, match="Delete Item"):
        run(db, contributor, country.id, path, mapping(field(CODE, "Code"), clear=ClearMode.ALL))
    assert set(by_code(db, admin, country)) == {"FR", "DE"}
    assert run_count(db) == 0


# ---------------------------------------------------------------- the run row


def test_a_completed_run_records_its_file_and_counts(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "countries.csv",
        ["Code", "Name", "Population"],
        [["FR", "France", "1"], ["IT", "Italy", "2"], ["ES", "Spain", "many"]],
    )
    started = utc_now()
    done = run(db, admin, country.id, path, mapping(*country_fields(country, "Population")))
    assert done.status is RunStatus.COMPLETED
    assert done.file_name == "countries.csv"
    assert done.file_size == path.stat().st_size
    assert done.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (done.rows_read, done.inserted, done.updated, done.deleted, done.skipped) == (
        3,
        1,
        1,
        0,
        1,
    )
    assert done.trigger is Trigger.MANUAL
    assert done.actor_email == admin.email
    assert (done.block_id, done.block_name, done.configuration_id) == (country.id, "Country", None)
    assert done.started_at is not None
    assert done.finished_at is not None
    assert started <= done.started_at <= done.finished_at <= utc_now()
    assert done.errors == []
    assert runs.get_run(db, admin, done.id) == done


def test_runs_of_a_block_are_listed_newest_first_with_their_status(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    good = write_csv(tmp_path / "good.csv", ["Code"], [["IT"]])
    bad = write_csv(tmp_path / "bad.csv", ["Nothing"], [["IT"]])
    first = run(db, admin, country.id, good, mapping(field(CODE, "Code")))
    second = run(db, admin, country.id, bad, mapping(field(CODE, "Code")))
    listed = runs.list_runs(db, admin, country.id)
    assert [(r.id, r.status) for r in listed] == [
        (second.id, RunStatus.FAILED),
        (first.id, RunStatus.COMPLETED),
    ]


def test_the_rejects_file_lists_rejected_rows_and_escapes_formulas(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["Code", "Population"],
        [
            ["IT", "=1+2"],
            ["ES", "12"],
            ["PT", "@SUM(A1)"],
            ["GR", "-x"],
            ["NL", "+cmd"],
            ["BE", "plain, text"],
        ],
    )
    chosen = mapping(field(CODE, "Code"), field(prop(country, "Population"), "Population"))
    done = run(db, admin, country.id, path, chosen)
    lines = list(csv.reader(io.StringIO(rejects_text(db, admin, done.id))))
    assert lines[0] == ["Line", "Reason", "Column", "Value", "Description", "Row"]
    assert [(r[0], r[1], r[2], r[3]) for r in lines[1:]] == [
        ("2", PARSING, "Population", "'=1+2"),
        ("4", PARSING, "Population", "'@SUM(A1)"),
        ("5", PARSING, "Population", "'-x"),
        ("6", PARSING, "Population", "'+cmd"),
        ("7", PARSING, "Population", "plain, text"),
    ]
    # The whole row as in the file (a cell starting with a letter is no formula).
    assert [r[5] for r in lines[1:]] == [
        "IT,=1+2",
        "PT,@SUM(A1)",
        "GR,-x",
        "NL,+cmd",
        'BE,"plain, text"',
    ]
    assert all(r[4] == "The value is not a valid integer." for r in lines[1:])


def test_a_preview_shows_the_rows_to_import_and_writes_nothing(
    db: Database, admin: Actor, country: BlockDef, currency: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["Code", "Name", "Currency", "Population"],
        [["FR", "Changed", "EUR", "1"], ["GB", "UK", "GBP", "2"], ["IT", "Italy", "EUR", "x"]],
    )
    chosen = mapping(
        *country_fields(country, "Population"),
        field(prop(country, "Currency"), "Currency", unknown=UnknownItems.CREATE),
        clear=ClearMode.ALL,
    )
    countries_before = grid(db, admin, country.id)
    currencies_before = grid(db, admin, currency.id)
    preview = imports.preview_import(db, admin, country.id, path, FileSettings(), chosen)
    assert (preview.summary.rows_read, preview.summary.inserted, preview.summary.updated) == (
        3,
        1,
        1,
    )
    assert (preview.summary.skipped, preview.summary.deleted) == (1, 1)
    assert preview.summary.items_created == {"Currency": ["GBP"]}
    assert preview.rows == [
        {"Code": "FR", "Name": "Changed", "Population": 1, "Currency": "EUR"},
        {"Code": "GB", "Name": "UK", "Population": 2, "Currency": "GBP"},
    ]
    assert grid(db, admin, country.id) == countries_before
    assert grid(db, admin, currency.id) == currencies_before
    assert run_count(db) == 0


def test_a_preview_reads_only_the_rows_asked_for(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", ["Code"], [[f"C{i}"] for i in range(50)])
    preview = imports.preview_import(
        db, admin, country.id, path, FileSettings(), mapping(field(CODE, "Code")), rows=10
    )
    assert (preview.summary.rows_read, preview.summary.inserted) == (10, 10)
    assert set(by_code(db, admin, country)) == {"FR", "DE"}


# ---------------------------------------------------------------- virtual columns


def test_a_constant_source_fills_every_row(
    db: Database, admin: Actor, sales: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", ["Order"], [["O1"], ["O2"]])
    chosen = mapping(
        field(prop(sales, "Order"), "Order"),
        field(prop(sales, "Source"), constant="ERP export"),
        field(prop(sales, "Country"), constant="DE"),
    )
    done = run(db, admin, sales.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert [(r["Order"], r["Source"], r["Country"]) for r in grid(db, admin, sales.id)] == [
        ("O1", "ERP export", "DE"),
        ("O2", "ERP export", "DE"),
    ]


def test_the_load_timestamp_source_records_when_the_run_started(
    db: Database, admin: Actor, sales: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", ["Order"], [["O1"], ["O2"]])
    chosen = mapping(
        field(prop(sales, "Order"), "Order"),
        field(prop(sales, "Loaded"), load_timestamp=True),
    )
    before = utc_now()
    done = run(db, admin, sales.id, path, chosen)
    stamps = {r["Loaded"] for r in grid(db, admin, sales.id)}
    assert done.status is RunStatus.COMPLETED, done.errors
    assert len(stamps) == 1  # one instant for the whole run
    stamp = datetime.fromisoformat(stamps.pop())
    assert stamp.utcoffset() == timedelta(0)
    assert before <= stamp <= utc_now()


def test_the_load_timestamp_fills_a_date_property_with_the_day_of_the_run(
    db: Database, admin: Actor, sales: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", ["Order"], [["O1"]])
    chosen = mapping(
        field(prop(sales, "Order"), "Order"),
        field(prop(sales, "Loaded on"), load_timestamp=True),
    )
    done = run(db, admin, sales.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.skipped == 0, done.summary
    day = date.fromisoformat(grid(db, admin, sales.id)[0]["Loaded on"])
    assert day in {utc_now().date(), done.started_at.date() if done.started_at else None}


def test_counts_add_up_when_a_file_blanks_clears_and_rewrites_cells(
    db: Database, admin: Actor, tmp_path: Path
) -> None:
    from planport.domain.enums import BlockKind, ValueType
    from planport.domain.mapping import ClearMode, ImportOptions, SourceColumn
    from planport.services.blocks import applications

    app = applications.create_application(db, admin, "Counting")
    month = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Month")
    items.write_items(db, admin, month.id, [{"Code": m} for m in ("M1", "M2", "M3")])
    metric = blocks.create_metric(db, admin, app.id, "Sales", ValueType.NUMBER, [month.id])
    items.set_cells(db, admin, metric.id, [{"Month": m, "Value": "1"} for m in ("M1", "M2", "M3")])
    path = write_csv(tmp_path / "s.csv", ["Month", "Sales"], [["M1", ""], ["M2", "5"], ["M3", "1"]])
    fields = [
        FieldMapping(target=str(month.id), source=SourceColumn(column="Month")),
        FieldMapping(target="value", source=SourceColumn(column="Sales")),
    ]
    done = run(db, admin, metric.id, path, Mapping(fields=fields))
    # M1 blanked: deleted only; M2 changed and M3 unchanged: both existing, so updated.
    assert (done.inserted, done.updated, done.deleted) == (0, 2, 1)
    cleared = Mapping(fields=fields, options=ImportOptions(clear=ClearMode.ALL))
    again = run(db, admin, metric.id, path, cleared)
    # Everything cleared first (2 cells), then M2 and M3 written anew.
    assert (again.inserted, again.updated, again.deleted) == (2, 0, 2)


def test_a_pivoted_row_counts_as_skipped_only_when_it_lost_every_cell(
    db: Database, admin: Actor, tmp_path: Path
) -> None:
    from planport.domain.enums import BlockKind, ValueType
    from planport.domain.file_settings import FileSettings, Layout
    from planport.domain.mapping import PivotMapping, SourceColumn
    from planport.services.blocks import applications

    app = applications.create_application(db, admin, "Pivot counting")
    month = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Month")
    items.write_items(db, admin, month.id, [{"Code": "M1"}, {"Code": "M2"}])
    shop = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Shop")
    items.write_items(db, admin, shop.id, [{"Code": "S1"}, {"Code": "S2"}])
    metric = blocks.create_metric(db, admin, app.id, "Sales", ValueType.NUMBER, [shop.id, month.id])
    rows = [["S1", "1", "x"], ["S2", "y", "z"]]  # S1 keeps M1; S2 loses both cells
    path = write_csv(tmp_path / "p.csv", ["Shop", "M1", "M2"], rows)
    chosen = Mapping(
        fields=[FieldMapping(target=str(shop.id), source=SourceColumn(column="Shop"))],
        pivot=PivotMapping(dimension=str(month.id), columns=["M1", "M2"]),
    )
    done = run(db, admin, metric.id, path, chosen, FileSettings(layout=Layout.PIVOTED))
    assert done.inserted == 1
    assert done.skipped == 1
    assert sum(g.count for g in done.summary.groups) == 3  # type: ignore[union-attr]


# ---------------------------------------------------------------- loading fast, staying exact
# An empty Metric on PostgreSQL is loaded straight into its table; a file that repeats a cell
# falls back to staging. Keyed writes into a filled block go through MERGE on PostgreSQL 15+.
# These tests pin the contract of both paths (they run on SQLite too, through the upsert).


def test_a_cell_repeated_in_a_file_for_an_empty_metric_keeps_its_last_row(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    rows = [["FR", "2026-01", "1"], ["DE", "2026-01", "2"], ["FR", "2026-01", "3"]]
    path = write_csv(tmp_path / "r.csv", ["Country", "Month", "Revenue"], rows)
    done = run(db, admin, revenue.id, path, revenue_mapping(country, month))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert cells(db, admin, revenue) == {("FR", "2026-01"): "3", ("DE", "2026-01"): "2"}
    assert (done.rows_read, done.inserted, done.updated, done.skipped) == (3, 2, 0, 0)
    assert sample_lines(group(done, OVERWRITTEN)) == [2]


def test_items_created_before_a_repeated_cell_is_found_are_created_once(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    rows = [["IT", "2026-01", "1"], ["IT", "2026-01", "2"], ["ES", "2026-02", "3"]]
    path = write_csv(tmp_path / "r.csv", ["Country", "Month", "Revenue"], rows)
    chosen = mapping(
        field(country.id, "Country", unknown=UnknownItems.CREATE),
        field(month.id, "Month"),
        field(VALUE, "Revenue"),
    )
    done = run(db, admin, revenue.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.summary is not None
    assert done.summary.items_created_count == {"Country": 2}
    assert sorted(by_code(db, admin, country)) == ["DE", "ES", "FR", "IT"]
    assert cells(db, admin, revenue) == {("IT", "2026-01"): "2", ("ES", "2026-02"): "3"}
    assert (done.inserted, done.skipped) == (2, 0)


@pytest.mark.parametrize(
    ("rows", "expected", "inserted", "overwritten"),
    [
        ([["FR", "2026-01", "1"], ["FR", "2026-01", ""]], {}, 0, [2]),
        ([["FR", "2026-01", ""], ["FR", "2026-01", "1"]], {("FR", "2026-01"): "1"}, 1, [2]),
        ([["FR", "2026-01", ""], ["DE", "2026-01", "1"]], {("DE", "2026-01"): "1"}, 1, []),
        ([["FR", "2026-01", ""], ["FR", "2026-01", ""]], {}, 0, [2]),
    ],
    ids=["value-then-blank", "blank-then-value", "blank-alone", "blank-twice"],
)
def test_blank_values_in_a_file_for_an_empty_metric_clear_only_what_comes_before_them(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
    rows: list[list[str]],
    expected: dict[tuple[str, str], str],
    inserted: int,
    overwritten: list[int],
) -> None:
    path = write_csv(tmp_path / "r.csv", ["Country", "Month", "Revenue"], rows)
    done = run(db, admin, revenue.id, path, revenue_mapping(country, month))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert cells(db, admin, revenue) == expected
    assert (done.inserted, done.updated, done.deleted) == (inserted, 0, 0)
    assert done.summary is not None
    found = [g for g in done.summary.groups if g.reason == OVERWRITTEN]
    assert [s.line for g in found for s in g.samples] == overwritten


def test_a_repeated_cell_whose_first_row_matches_the_block_still_keeps_the_last_row(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    # The first row changes nothing; a write that skips unchanged rows must not let it win.
    set_revenue(db, admin, revenue, {"FR/2026-01": "5"})
    rows = [["FR", "2026-01", "7"], ["FR", "2026-01", "5"]]
    path = write_csv(tmp_path / "r.csv", ["Country", "Month", "Revenue"], rows)
    done = run(db, admin, revenue.id, path, revenue_mapping(country, month))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert cells(db, admin, revenue) == {("FR", "2026-01"): "5"}
    assert (done.inserted, done.updated, done.skipped) == (0, 1, 0)
    assert sample_lines(group(done, OVERWRITTEN)) == [2]


def test_a_metric_loaded_in_bulk_keeps_its_primary_key_and_indexes(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    from sqlalchemy import inspect

    def shape() -> tuple[Any, ...]:
        with db.engine.connect() as connection:
            seen = inspect(connection)
            key = seen.get_pk_constraint(revenue.table_name)
            indexes = seen.get_indexes(revenue.table_name)
        if db.is_sqlite:
            # A block table swapped in on SQLite keeps its key and indexes under other index
            # names (SQLite cannot rename an index); what they cover is what matters.
            covered = sorted((tuple(i["column_names"]), i["unique"]) for i in indexes)
            return tuple(key["constrained_columns"]), covered
        named = sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in indexes)
        return key["name"], tuple(key["constrained_columns"]), named

    before = shape()
    path = write_csv(tmp_path / "r.csv", ["Country", "Month", "Revenue"], [["FR", "2026-01", "1"]])
    assert run(db, admin, revenue.id, path, revenue_mapping(country, month)).inserted == 1
    assert shape() == before


def test_a_refill_that_adds_and_changes_cells_counts_each_once(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    set_revenue(db, admin, revenue, {"FR/2026-01": "1", "DE/2026-01": "2"})
    rows = [["FR", "2026-01", "1"], ["DE", "2026-01", "9"], ["FR", "2026-02", "3"]]
    path = write_csv(tmp_path / "r.csv", ["Country", "Month", "Revenue"], rows)
    done = run(db, admin, revenue.id, path, revenue_mapping(country, month))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.inserted, done.updated, done.deleted) == (1, 2, 0)
    assert cells(db, admin, revenue) == {
        ("FR", "2026-01"): "1",
        ("DE", "2026-01"): "9",
        ("FR", "2026-02"): "3",
    }


@pytest.mark.parametrize(
    ("written", "number"),
    [("1e308", NumberFormat(multiplier=3)), ("1e308", NumberFormat(multiplier=1000))],
)
def test_a_value_overflowing_after_scaling_is_a_parsing_error_not_inf(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    tmp_path: Path,
    written: str,
    number: NumberFormat,
) -> None:
    country = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    revenue = blocks.add_property(db, admin, country.id, "Revenue", T.NUMBER).properties[0].id
    path = write_csv(tmp_path / "c.csv", ["Code", "Revenue"], [["FR", "2"], ["DE", written]])
    chosen = mapping(field(CODE, "Code"), field(revenue, "Revenue"))

    done = run(db, admin, country.id, path, chosen, FileSettings(number=number))

    rejected = group(done, "ParsingError", "Revenue")
    assert [(s.line, s.value) for s in rejected.samples] == [(3, written)]
    assert [row["Code"] for row in grid(db, admin, country.id)] == ["FR"]
