"""Reading block data: the paged grid with filters and search, and the streamed CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable

import pytest

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.errors import Invalid, NotFound
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import block_data, items
from planport.services.blocks.applications import ApplicationView
from planport.store.db import Database

DL, TL = BlockKind.DIMENSION_LIST, BlockKind.TRANSACTION_LIST
T = PropertyType
COUNTRIES = [("FR", "France"), ("DE", "Germany"), ("IT", "Italy"), ("ES", "Spain")]


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, DL, "Country")
    items.write_items(db, admin, created.id, [{"Code": c, "Name": n} for c, n in COUNTRIES])
    return created


@pytest.fixture
def sales(db: Database, admin: Actor, app: ApplicationView, country: BlockDef) -> BlockDef:
    """A Transaction List of 25 rows: Order n (1..25), Country cycling FR, DE, IT, ES."""
    created = blocks.create_list(db, admin, app.id, TL, "Sales")
    blocks.add_property(db, admin, created.id, "Order", T.INTEGER)
    created = blocks.add_property(
        db, admin, created.id, "Country", T.DIMENSION, referenced_list_id=country.id
    )
    rows = [{"Order": str(n), "Country": COUNTRIES[(n - 1) % 4][0]} for n in range(1, 26)]
    items.append_rows(db, admin, created.id, rows)
    return created


def prop_key(block: BlockDef, name: str) -> str:
    return str(next(p.id for p in block.properties if p.name == name))


def orders(page: block_data.GridPage) -> list[int]:
    return [int(row[0]) for row in page.rows]


def exported(db: Database, actor: Actor, block_id: uuid.UUID, **kw: object) -> list[list[str]]:
    _, chunks = block_data.export_csv(db, actor, block_id, **kw)  # type: ignore[arg-type]
    return list(csv.reader(io.StringIO("".join(chunks))))


# ---------------------------------------------------------------- paging


def test_the_first_page_shows_the_first_rows_and_the_totals(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    page = block_data.read_page(db, admin, sales.id, page=1, page_size=10)
    assert [c.label for c in page.columns] == ["Order", "Country"]
    assert orders(page) == list(range(1, 11))
    assert page.rows[0] == ["1", "FR"]
    assert (page.total, page.page, page.page_count) == (25, 1, 3)
    assert (page.first_row, page.last_row) == (1, 10)


def test_the_last_page_holds_the_remainder(db: Database, admin: Actor, sales: BlockDef) -> None:
    page = block_data.read_page(db, admin, sales.id, page=3, page_size=10)
    assert orders(page) == list(range(21, 26))
    assert (page.first_row, page.last_row, page.page_count) == (21, 25, 3)


def test_a_page_past_the_end_shows_the_last_page(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    page = block_data.read_page(db, admin, sales.id, page=99, page_size=10)
    assert page.page == 3
    assert orders(page) == list(range(21, 26))


def test_an_empty_block_has_one_empty_page(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    empty = blocks.create_list(db, admin, app.id, TL, "Empty")
    blocks.add_property(db, admin, empty.id, "Note", T.TEXT)
    page = block_data.read_page(db, admin, empty.id, page=5, page_size=10)
    assert (page.total, page.page, page.page_count, page.first_row, page.last_row) == (
        0,
        1,
        1,
        0,
        0,
    )
    assert page.rows == []


def test_pages_are_numbered_from_one_and_hold_at_least_one_row(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    for number, size in [(0, 10), (-1, 10), (1, 0)]:
        with pytest.raises(Invalid) as raised:
            block_data.read_page(db, admin, sales.id, page=number, page_size=size)
        assert raised.value.field == "page"


def test_a_dimension_list_shows_code_name_and_typed_properties(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    blocks.add_property(db, admin, country.id, "Joined", T.DATE)
    blocks.add_property(db, admin, country.id, "Euro", T.BOOLEAN)
    items.write_items(db, admin, country.id, [{"Code": "FR", "Joined": "1957-03-25", "Euro": "1"}])
    page = block_data.read_page(db, admin, country.id)
    assert [c.label for c in page.columns] == ["Code", "Name", "Joined", "Euro"]
    assert page.rows[0] == ["FR", "France", "1957-03-25", "true"]  # an omitted Name is left alone
    assert page.rows[1] == ["DE", "Germany", "", ""]


# ---------------------------------------------------------------- filters and search


def test_a_list_is_filtered_by_the_items_of_a_dimension_property(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    filters = {prop_key(sales, "Country"): ["DE", "ES"]}
    page = block_data.read_page(db, admin, sales.id, page_size=5, filters=filters)
    assert page.total == 12
    assert orders(page) == [2, 4, 6, 8, 10]
    assert {row[1] for row in page.rows} == {"DE", "ES"}
    assert page.filters == filters


def test_an_empty_filter_keeps_every_row(db: Database, admin: Actor, sales: BlockDef) -> None:
    page = block_data.read_page(db, admin, sales.id, filters={prop_key(sales, "Country"): []})
    assert page.total == 25


def test_a_metric_is_filtered_by_the_items_of_its_dimensions(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    month = blocks.create_list(db, admin, app.id, DL, "Month")
    items.write_items(db, admin, month.id, [{"Code": f"2025-{m:02d}"} for m in range(1, 13)])
    metric = blocks.create_metric(
        db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id, month.id]
    )
    items.set_cells(
        db,
        admin,
        metric.id,
        [
            {"Country": c, "Month": f"2025-{m:02d}", "Value": str(m)}
            for c, _ in COUNTRIES
            for m in range(1, 13)
        ],
    )
    filters = {str(country.id): ["IT"], str(month.id): ["2025-03", "2025-04"]}
    page = block_data.read_page(db, admin, metric.id, filters=filters)
    assert [c.label for c in page.columns] == ["Country", "Month", "Revenue"]
    assert page.rows == [["IT", "2025-03", "3"], ["IT", "2025-04", "4"]]
    assert page.total == 2


def test_a_dimension_list_is_searched_by_code_or_name_ignoring_case(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    by_name = block_data.read_page(db, admin, country.id, search="  ital ")
    assert [row[0] for row in by_name.rows] == ["IT"]
    by_code = block_data.read_page(db, admin, country.id, search="de")
    assert [row[0] for row in by_code.rows] == ["DE"]
    by_both = block_data.read_page(db, admin, country.id, search="an")
    assert [row[0] for row in by_both.rows] == ["FR", "DE"]
    assert by_both.total == 2


def test_a_search_treats_percent_and_underscore_as_plain_characters(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    accounts = blocks.create_list(db, admin, app.id, DL, "Account")
    items.write_items(
        db,
        admin,
        accounts.id,
        [{"Code": "A_1"}, {"Code": "AB1"}, {"Code": "100%", "Name": "Full"}, {"Code": "1000"}],
    )
    assert [r[0] for r in block_data.read_page(db, admin, accounts.id, search="A_1").rows] == [
        "A_1"
    ]
    assert [r[0] for r in block_data.read_page(db, admin, accounts.id, search="0%").rows] == [
        "100%"
    ]


def test_filtering_on_a_column_that_is_no_dimension_is_invalid(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    for key in (prop_key(sales, "Order"), "country", str(uuid.uuid4())):
        with pytest.raises(Invalid, match="no dimension column") as raised:
            block_data.read_page(db, admin, sales.id, filters={key: ["FR"]})
        assert raised.value.field == "filter"


def test_reading_needs_a_role_in_the_application(
    db: Database, sales: BlockDef, member: Actor
) -> None:
    # Without any role the block is not there for the member, as an unknown id.
    with pytest.raises(NotFound):
        block_data.read_page(db, member, sales.id)
    with pytest.raises(NotFound):
        block_data.export_csv(db, member, sales.id)


def test_a_reader_reads_and_exports(
    db: Database, sales: BlockDef, member_as: Callable[[str], Actor]
) -> None:
    reader = member_as("Reader")
    assert block_data.read_page(db, reader, sales.id).total == 25
    assert len(exported(db, reader, sales.id)) == 26


def test_reading_an_unknown_block_is_not_found(db: Database, admin: Actor) -> None:
    with pytest.raises(NotFound):
        block_data.read_page(db, admin, uuid.uuid4())


def test_item_choices_list_codes_and_names_in_order(
    db: Database, admin: Actor, country: BlockDef, sales: BlockDef
) -> None:
    assert block_data.item_choices(db, admin, country.id, limit=3) == COUNTRIES[:3]
    with pytest.raises(Invalid, match="not a Dimension List"):
        block_data.item_choices(db, admin, sales.id)


# ---------------------------------------------------------------- CSV export


def test_the_export_streams_every_row_in_several_chunks(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    ledger = blocks.create_list(db, admin, app.id, TL, "Ledger")
    blocks.add_property(db, admin, ledger.id, "Line", T.INTEGER)
    blocks.add_property(db, admin, ledger.id, "Country", T.DIMENSION, referenced_list_id=country.id)
    ledger = blocks.add_property(db, admin, ledger.id, "Amount", T.NUMBER)
    count = 5_321
    rows = [
        {"Line": str(n), "Country": COUNTRIES[n % 4][0], "Amount": f"{n}.5"} for n in range(count)
    ]
    items.append_rows(db, admin, ledger.id, rows)

    definition, chunks = block_data.export_csv(db, admin, ledger.id)
    parts = list(chunks)

    assert definition.id == ledger.id
    assert len(parts) >= 3
    lines = list(csv.reader(io.StringIO("".join(parts))))
    assert lines[0] == ["Line", "Country", "Amount"]
    assert len(lines) == count + 1
    assert lines[1] == ["0", "FR", "0.5"]
    assert lines[-1] == [str(count - 1), COUNTRIES[(count - 1) % 4][0], f"{count - 1}.5"]
    assert [int(line[0]) for line in lines[1:]] == list(range(count))


def test_the_export_follows_the_filters(db: Database, admin: Actor, sales: BlockDef) -> None:
    lines = exported(db, admin, sales.id, filters={prop_key(sales, "Country"): ["IT"]})
    assert lines[0] == ["Order", "Country"]
    assert lines[1:] == [[str(n), "IT"] for n in (3, 7, 11, 15, 19, 23)]


def test_the_export_of_an_empty_block_is_its_header(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    empty = blocks.create_list(db, admin, app.id, DL, "Empty")
    assert exported(db, admin, empty.id) == [["Code", "Name"]]


def test_exported_text_that_a_spreadsheet_would_run_gets_a_leading_apostrophe(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    notes = blocks.create_list(db, admin, app.id, TL, "Notes")
    blocks.add_property(db, admin, notes.id, "Text", T.TEXT)
    blocks.add_property(db, admin, notes.id, "Amount", T.NUMBER)
    items.append_rows(
        db,
        admin,
        notes.id,
        [
            {"Text": '=HYPERLINK("http://evil")', "Amount": "-5"},
            {"Text": "@SUM(A1)", "Amount": "-0.25"},
            {"Text": "+33 1 23", "Amount": "3"},
            {"Text": "-minus", "Amount": ""},
            {"Text": "plain = text", "Amount": "0"},
        ],
    )
    assert exported(db, admin, notes.id)[1:] == [
        ['\'=HYPERLINK("http://evil")', "-5"],
        ["'@SUM(A1)", "-0.25"],
        ["'+33 1 23", "3"],
        ["'-minus", ""],
        ["plain = text", "0"],
    ]


def test_an_exported_metric_has_one_column_per_dimension_and_its_values(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = blocks.create_metric(db, admin, app.id, "Margin", ValueType.NUMBER, [country.id])
    items.set_cells(
        db,
        admin,
        metric.id,
        [{"Country": "ES", "Value": "-1.5"}, {"Country": "FR", "Value": "2"}],
    )
    assert exported(db, admin, metric.id) == [["Country", "Margin"], ["FR", "2"], ["ES", "-1.5"]]


def test_a_transaction_list_without_properties_reads_and_exports_empty(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    fresh = blocks.create_list(db, admin, app.id, TL, "Fresh")
    page = block_data.read_page(db, admin, fresh.id)
    assert (page.total, page.rows, page.columns) == (0, [], [])
    assert "".join(block_data.export_csv(db, admin, fresh.id)[1]).strip() == ""
