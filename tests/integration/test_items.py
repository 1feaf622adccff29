"""Writing block data: Dimension List items, Transaction List rows and Metric cells."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import text

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, OnReferenced, PropertyType, ValueType
from planport.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import items
from planport.services.blocks.applications import ApplicationView
from planport.services.blocks.items import WriteResult
from planport.store.db import Database
from tests.integration.builders import column_of, grid

DL, TL = BlockKind.DIMENSION_LIST, BlockKind.TRANSACTION_LIST
T = PropertyType


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    """A Dimension List with a text, a number and a boolean property, and three items."""
    created = blocks.create_list(db, admin, app.id, DL, "Country")
    blocks.add_property(db, admin, created.id, "Currency", T.TEXT)
    blocks.add_property(db, admin, created.id, "Tax rate", T.NUMBER)
    blocks.add_property(db, admin, created.id, "In EU", T.BOOLEAN)
    items.write_items(
        db,
        admin,
        created.id,
        [
            {"Code": "FR", "Name": "France", "Currency": "EUR", "Tax rate": "0.2"},
            {"Code": "DE", "Name": "Germany", "Currency": "EUR", "Tax rate": "0.19"},
            {"Code": "CH", "Name": "Switzerland", "Currency": "CHF", "In EU": "no"},
        ],
    )
    return blocks.get_block(db, admin, created.id)


@pytest.fixture
def month(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, DL, "Month")
    items.write_items(db, admin, created.id, [{"Code": "2025-01"}, {"Code": "2025-02"}])
    return created


@pytest.fixture
def sales(db: Database, admin: Actor, app: ApplicationView, country: BlockDef) -> BlockDef:
    """A Transaction List: Order (text), Country (dimension), Amount (number), Day (date)."""
    created = blocks.create_list(db, admin, app.id, TL, "Sales")
    blocks.add_property(db, admin, created.id, "Order", T.TEXT)
    blocks.add_property(
        db, admin, created.id, "Country", T.DIMENSION, referenced_list_id=country.id
    )
    blocks.add_property(db, admin, created.id, "Amount", T.NUMBER)
    return blocks.add_property(db, admin, created.id, "Day", T.DATE)


@pytest.fixture
def revenue(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> BlockDef:
    return blocks.create_metric(
        db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id, month.id]
    )


def codes(db: Database, admin: Actor, block: BlockDef) -> list[str]:
    return [row["Code"] for row in grid(db, admin, block.id)]


def cells(db: Database, admin: Actor, metric: BlockDef) -> dict[tuple[str, str], str]:
    return {(r["Country"], r["Month"]): r["Revenue"] for r in grid(db, admin, metric.id)}


# ---------------------------------------------------------------- Dimension List items


def test_writing_items_inserts_new_codes_and_updates_known_ones(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    result = items.write_items(
        db,
        admin,
        country.id,
        [
            {"Code": "FR", "Name": "République française", "Currency": "EUR"},
            {"Code": "IT", "Name": "Italy", "Currency": "EUR", "In EU": "yes"},
            {"Code": "ES", "Name": "Spain"},
        ],
    )
    assert result == WriteResult(inserted=2, updated=1)
    rows = {r["Code"]: r for r in grid(db, admin, country.id)}
    assert list(rows) == ["FR", "DE", "CH", "IT", "ES"]
    assert rows["FR"]["Name"] == "République française"
    assert (rows["IT"]["Currency"], rows["IT"]["In EU"]) == ("EUR", "true")
    assert rows["DE"]["Tax rate"] == "0.19"


def test_the_last_row_wins_when_a_batch_names_a_code_twice(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    result = items.write_items(
        db,
        admin,
        country.id,
        [
            {"Code": "IT", "Name": "first", "Currency": "ITL"},
            {"Code": "FR", "Currency": "FRF"},
            {"Code": "IT", "Name": "Italy", "Currency": "EUR"},
            {"Code": " FR ", "Currency": "EUR", "Name": "France"},
        ],
    )
    assert result == WriteResult(inserted=1, updated=1)
    assert codes(db, admin, country) == ["FR", "DE", "CH", "IT"]
    assert column_of(db, admin, country.id, "Currency") == {
        "FR": "EUR",
        "DE": "EUR",
        "CH": "CHF",
        "IT": "EUR",
    }
    assert column_of(db, admin, country.id, "Name")["IT"] == "Italy"


def test_labels_of_columns_are_matched_whatever_their_case(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    items.write_items(db, admin, country.id, [{"code": "IT", "NAME": "Italy", "tax RATE": "0.22"}])
    assert column_of(db, admin, country.id, "Tax rate")["IT"] == "0.22"
    assert column_of(db, admin, country.id, "Name")["IT"] == "Italy"


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ({"Code": "IT", "Tax rate": "22%"}, "Tax rate", "'22%' is not a number"),
        ({"Code": "IT", "In EU": "sometimes"}, "In EU", "is not a boolean"),
        ({"Code": "", "Name": "Nowhere"}, "Code", "must not be empty"),
        ({"Code": "IT", "Capital": "Rome"}, "Capital", "has no property 'Capital'"),
    ],
)
def test_a_batch_with_a_bad_value_is_refused_whole_naming_row_and_column(
    db: Database,
    admin: Actor,
    country: BlockDef,
    row: dict[str, str],
    column: str,
    reason: str,
) -> None:
    before = grid(db, admin, country.id)
    batch = [{"Code": "ES", "Name": "Spain"}, {"Code": "FR", "Name": "Changed"}, row]
    with pytest.raises(Invalid) as raised:
        items.write_items(db, admin, country.id, batch)
    assert raised.value.message.startswith("Row 3")
    assert f"'{column}'" in raised.value.message
    assert reason in raised.value.message
    assert raised.value.field == column
    assert grid(db, admin, country.id) == before


def test_an_integer_too_large_to_store_is_refused_naming_row_and_column(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    accounts = blocks.create_list(db, admin, app.id, DL, "Account")
    blocks.add_property(db, admin, accounts.id, "Ledger number", T.INTEGER)
    batch = [{"Code": "A1", "Ledger number": "1"}, {"Code": "A2", "Ledger number": "1e30"}]
    with pytest.raises(Invalid, match="Row 2, column 'Ledger number'"):
        items.write_items(db, admin, accounts.id, batch)
    assert grid(db, admin, accounts.id) == []


def test_blank_values_leave_a_property_empty(db: Database, admin: Actor, country: BlockDef) -> None:
    items.write_items(db, admin, country.id, [{"Code": "FR", "Name": "France", "Tax rate": " "}])
    assert column_of(db, admin, country.id, "Tax rate")["FR"] == ""


def test_writing_items_into_a_transaction_list_is_invalid(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    with pytest.raises(Invalid, match="not a Dimension List"):
        items.write_items(db, admin, sales.id, [{"Code": "X"}])


# ---------------------------------------------------------------- Transaction List rows


def test_rows_are_appended_with_their_dimension_items(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    result = items.append_rows(
        db,
        admin,
        sales.id,
        [
            {"Order": "A-1", "Country": "FR", "Amount": "10.5", "Day": "2025-01-31"},
            {"Order": "A-1", "Country": "DE", "Amount": "-3"},
            {"Order": "A-2", "Country": ""},
        ],
    )
    assert result == WriteResult(inserted=3)
    assert grid(db, admin, sales.id) == [
        {"Order": "A-1", "Country": "FR", "Amount": "10.5", "Day": "2025-01-31"},
        {"Order": "A-1", "Country": "DE", "Amount": "-3", "Day": ""},
        {"Order": "A-2", "Country": "", "Amount": "", "Day": ""},
    ]


def test_an_unknown_item_code_refuses_the_whole_batch_naming_it(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    with pytest.raises(Invalid) as raised:
        items.append_rows(
            db, admin, sales.id, [{"Order": "A-1", "Country": "FR"}, {"Country": "XX"}]
        )
    assert (
        raised.value.message == "Row 2, column 'Country': 'Country' has no item with the code 'XX'."
    )
    assert raised.value.field == "Country"
    assert grid(db, admin, sales.id) == []


def test_a_bad_date_refuses_the_whole_batch(db: Database, admin: Actor, sales: BlockDef) -> None:
    with pytest.raises(Invalid, match=r"Row 1, column 'Day': '31/01/2025' is not a date"):
        items.append_rows(db, admin, sales.id, [{"Day": "31/01/2025"}, {"Order": "B"}])
    assert grid(db, admin, sales.id) == []


def test_rows_with_a_unique_property_update_the_row_holding_that_value(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    order = next(p.id for p in sales.properties if p.name == "Order")
    blocks.set_unique_property(db, admin, sales.id, order)
    items.append_rows(
        db, admin, sales.id, [{"Order": "A-1", "Amount": "1"}, {"Order": "A-2", "Amount": "2"}]
    )
    result = items.append_rows(
        db,
        admin,
        sales.id,
        [
            {"Order": "A-2", "Amount": "20"},
            {"Order": "A-3", "Amount": "3"},
            {"Order": "A-3", "Amount": "30"},
            {"Order": "", "Amount": "99"},
            {"Order": "", "Amount": "98"},
        ],
    )
    assert result == WriteResult(inserted=3, updated=1)
    assert [(r["Order"], r["Amount"]) for r in grid(db, admin, sales.id)] == [
        ("A-1", "1"),
        ("A-2", "20"),
        ("A-3", "30"),
        ("", "99"),
        ("", "98"),
    ]


def test_without_a_unique_property_equal_rows_are_all_kept(
    db: Database, admin: Actor, sales: BlockDef
) -> None:
    row = {"Order": "A-1", "Amount": "1"}
    items.append_rows(db, admin, sales.id, [row, row])
    assert items.append_rows(db, admin, sales.id, [row]) == WriteResult(inserted=1)
    assert len(grid(db, admin, sales.id)) == 3


def test_rows_are_deleted_by_row_id(db: Database, admin: Actor, sales: BlockDef) -> None:
    items.append_rows(db, admin, sales.id, [{"Order": o} for o in ("A", "B", "C")])
    table = blocks.get_block(db, admin, sales.id).table_name
    with db.read() as session:
        first, _, third = session.scalars(text(f'SELECT id FROM "{table}" ORDER BY id')).all()
    result = items.delete_rows(db, admin, sales.id, [first, third, 999_999])
    assert result == WriteResult(deleted=2)
    assert [r["Order"] for r in grid(db, admin, sales.id)] == ["B"]


# ---------------------------------------------------------------- Metric cells


def test_cells_are_set_by_item_codes_of_each_dimension(
    db: Database, admin: Actor, revenue: BlockDef
) -> None:
    result = items.set_cells(
        db,
        admin,
        revenue.id,
        [
            {"Country": "FR", "Month": "2025-01", "Value": "100"},
            {"country": "DE", "MONTH": "2025-02", "value": "-7.5"},
        ],
    )
    assert result == WriteResult(inserted=2)
    result = items.set_cells(
        db,
        admin,
        revenue.id,
        [
            {"Country": "FR", "Month": "2025-01", "Value": "1"},
            {"Country": "FR", "Month": "2025-01", "Value": "150"},
            {"Country": "CH", "Month": "2025-01", "Value": "3"},
        ],
    )
    assert result == WriteResult(inserted=1, updated=1)
    assert cells(db, admin, revenue) == {
        ("FR", "2025-01"): "150",
        ("DE", "2025-02"): "-7.5",
        ("CH", "2025-01"): "3",
    }


def test_a_blank_value_clears_the_cell(db: Database, admin: Actor, revenue: BlockDef) -> None:
    items.set_cells(
        db,
        admin,
        revenue.id,
        [
            {"Country": "FR", "Month": "2025-01", "Value": "1"},
            {"Country": "FR", "Month": "2025-02", "Value": "2"},
        ],
    )
    result = items.set_cells(
        db,
        admin,
        revenue.id,
        [
            {"Country": "FR", "Month": "2025-01", "Value": ""},
            {"Country": "DE", "Month": "2025-01", "Value": " "},
        ],
    )
    assert result == WriteResult(deleted=1)
    assert cells(db, admin, revenue) == {("FR", "2025-02"): "2"}


def test_a_cell_naming_an_unknown_item_refuses_the_batch(
    db: Database, admin: Actor, revenue: BlockDef
) -> None:
    with pytest.raises(Invalid, match="Row 2, column 'Month': 'Month' has no item with the code"):
        items.set_cells(
            db,
            admin,
            revenue.id,
            [
                {"Country": "FR", "Month": "2025-01", "Value": "1"},
                {"Country": "FR", "Month": "2030-01", "Value": "1"},
            ],
        )
    assert cells(db, admin, revenue) == {}


def test_a_cell_missing_a_dimension_refuses_the_batch(
    db: Database, admin: Actor, revenue: BlockDef
) -> None:
    with pytest.raises(Invalid, match="Row 1, column 'Month'") as raised:
        items.set_cells(db, admin, revenue.id, [{"Country": "FR", "Value": "1"}])
    assert raised.value.field == "Month"


def test_a_cell_value_of_the_wrong_type_refuses_the_batch(
    db: Database, admin: Actor, revenue: BlockDef
) -> None:
    with pytest.raises(Invalid, match="Row 1, column 'Value': 'lots' is not a number"):
        items.set_cells(
            db, admin, revenue.id, [{"Country": "FR", "Month": "2025-01", "Value": "lots"}]
        )
    assert cells(db, admin, revenue) == {}


# ---------------------------------------------------------------- deleting items


def test_unused_items_are_deleted_by_code(db: Database, admin: Actor, country: BlockDef) -> None:
    assert items.delete_items(db, admin, country.id, ["CH", "DE"]) == WriteResult(deleted=2)
    assert codes(db, admin, country) == ["FR"]


def test_deleting_an_unknown_code_is_invalid_and_deletes_nothing(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    with pytest.raises(Invalid, match="no item with the code 'XX'"):
        items.delete_items(db, admin, country.id, ["FR", "XX"])
    assert codes(db, admin, country) == ["FR", "DE", "CH"]


def test_deleting_items_in_use_is_refused_naming_the_uses(
    db: Database, admin: Actor, country: BlockDef, sales: BlockDef, revenue: BlockDef
) -> None:
    items.append_rows(db, admin, sales.id, [{"Order": "A", "Country": "FR"}, {"Country": "FR"}])
    items.set_cells(db, admin, revenue.id, [{"Country": "FR", "Month": "2025-01", "Value": "1"}])
    with pytest.raises(Conflict) as raised:
        items.delete_items(db, admin, country.id, ["FR", "CH"])
    assert "2 row(s) of Sales (property Country)" in raised.value.message
    assert "1 cell(s) of Revenue" in raised.value.message
    assert codes(db, admin, country) == ["FR", "DE", "CH"]
    assert [r["Country"] for r in grid(db, admin, sales.id)] == ["FR", "FR"]
    assert cells(db, admin, revenue) == {("FR", "2025-01"): "1"}


def test_deleting_items_with_cascade_blanks_properties_and_deletes_cells(
    db: Database, admin: Actor, country: BlockDef, sales: BlockDef, revenue: BlockDef
) -> None:
    items.append_rows(
        db, admin, sales.id, [{"Order": "A", "Country": "FR"}, {"Order": "B", "Country": "DE"}]
    )
    items.set_cells(
        db,
        admin,
        revenue.id,
        [
            {"Country": "FR", "Month": "2025-01", "Value": "1"},
            {"Country": "DE", "Month": "2025-01", "Value": "2"},
        ],
    )
    result = items.delete_items(db, admin, country.id, ["FR"], on_referenced=OnReferenced.CASCADE)
    assert result == WriteResult(deleted=1)
    assert codes(db, admin, country) == ["DE", "CH"]
    assert [(r["Order"], r["Country"]) for r in grid(db, admin, sales.id)] == [
        ("A", ""),
        ("B", "DE"),
    ]
    assert cells(db, admin, revenue) == {("DE", "2025-01"): "2"}


def test_a_new_item_with_a_deleted_code_is_not_taken_for_the_old_one(
    db: Database, admin: Actor, country: BlockDef, sales: BlockDef
) -> None:
    items.append_rows(db, admin, sales.id, [{"Order": "A", "Country": "CH"}])
    items.delete_items(db, admin, country.id, ["CH"], on_referenced=OnReferenced.CASCADE)
    items.write_items(db, admin, country.id, [{"Code": "CH", "Name": "Switzerland"}])
    assert [r["Country"] for r in grid(db, admin, sales.id)] == [""]


# ---------------------------------------------------------------- permissions


def test_a_reader_cannot_write_data(
    db: Database,
    admin: Actor,
    country: BlockDef,
    sales: BlockDef,
    revenue: BlockDef,
    member_as: Callable[[str], Actor],
) -> None:
    reader = member_as("Reader")
    writes = [
        lambda: items.write_items(db, reader, country.id, [{"Code": "IT"}]),
        lambda: items.append_rows(db, reader, sales.id, [{"Order": "A"}]),
        lambda: items.set_cells(
            db, reader, revenue.id, [{"Country": "FR", "Month": "2025-01", "Value": "1"}]
        ),
    ]
    for write in writes:
        with pytest.raises(PermissionDenied, match="the Write permission"):
            write()
    assert codes(db, admin, country) == ["FR", "DE", "CH"]
    assert grid(db, admin, sales.id) == []
    assert cells(db, admin, revenue) == {}


def test_a_contributor_writes_but_cannot_delete_items_or_rows(
    db: Database,
    admin: Actor,
    country: BlockDef,
    sales: BlockDef,
    member_as: Callable[[str], Actor],
) -> None:
    contributor = member_as("Contributor")
    items.write_items(db, contributor, country.id, [{"Code": "IT"}])
    items.append_rows(db, contributor, sales.id, [{"Order": "A"}])
    with pytest.raises(PermissionDenied, match="the Delete Item permission"):
        items.delete_items(db, contributor, country.id, ["IT"])
    with pytest.raises(PermissionDenied, match="the Delete Item permission"):
        items.delete_rows(db, contributor, sales.id, [1])
    assert codes(db, admin, country) == ["FR", "DE", "CH", "IT"]
    assert len(grid(db, admin, sales.id)) == 1


def test_a_member_without_a_role_is_told_nothing_more_than_not_found(
    db: Database, country: BlockDef, member: Actor
) -> None:
    with pytest.raises(NotFound):
        items.write_items(db, member, country.id, [{"Code": "IT"}])


def test_writing_to_an_unknown_block_is_not_found(db: Database, admin: Actor) -> None:
    with pytest.raises(NotFound):
        items.write_items(db, admin, uuid.uuid4(), [{"Code": "IT"}])
