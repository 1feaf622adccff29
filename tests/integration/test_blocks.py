"""Blocks and their definitions: lists, metrics, properties, dimensions; every change of
definition keeps the block's table and data in step, or changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import applications, items
from planport.services.blocks.applications import ApplicationView
from planport.store.db import Database
from tests.integration.builders import (
    column_names,
    column_of,
    grid,
    index_columns,
    table_names,
)

DL, TL = BlockKind.DIMENSION_LIST, BlockKind.TRANSACTION_LIST
T = PropertyType


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    """A Dimension List with three items."""
    created = blocks.create_list(db, admin, app.id, DL, "Country")
    items.write_items(
        db,
        admin,
        created.id,
        [
            {"Code": "FR", "Name": "France"},
            {"Code": "DE", "Name": "Germany"},
            {"Code": "IT", "Name": "Italy"},
        ],
    )
    return created


@pytest.fixture
def month(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, DL, "Month")
    items.write_items(db, admin, created.id, [{"Code": "2025-01"}, {"Code": "2025-02"}])
    return created


def with_property(
    db: Database, admin: Actor, block: BlockDef, name: str, kind: PropertyType, **kw: uuid.UUID
) -> tuple[BlockDef, uuid.UUID]:
    """Add a property; returns the new definition and the property's id."""
    changed = blocks.add_property(db, admin, block.id, name, kind, **kw)
    return changed, next(p.id for p in changed.properties if p.name == name)


def revenue(
    db: Database, admin: Actor, app: ApplicationView, lists: list[BlockDef], cells: list[dict]
) -> BlockDef:
    metric = blocks.create_metric(
        db, admin, app.id, "Revenue", ValueType.NUMBER, [b.id for b in lists]
    )
    items.set_cells(db, admin, metric.id, cells)
    return metric


def version(db: Database, admin: Actor, block_id: uuid.UUID) -> int:
    return blocks.get_block(db, admin, block_id).definition_version


# ---------------------------------------------------------------- creating blocks


def test_a_dimension_list_gets_a_table_with_code_and_name(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    created = blocks.create_list(db, admin, app.id, DL, "Country", "Where we sell")
    assert (created.kind, created.name, created.description) == (DL, "Country", "Where we sell")
    assert created.definition_version == 1
    assert column_names(db, created.table_name) == ["id", "code", "name"]
    assert index_columns(db, created.table_name, unique=True) == {"code"}
    assert blocks.get_block(db, admin, created.id) == created


def test_a_transaction_list_gets_a_table_with_a_row_id(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    created = blocks.create_list(db, admin, app.id, TL, "Sales")
    assert column_names(db, created.table_name) == ["id"]


def test_a_metric_gets_a_table_keyed_by_its_dimensions(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    metric = blocks.create_metric(
        db, admin, app.id, "Revenue", ValueType.NUMBER, [month.id, country.id]
    )
    assert metric.kind is BlockKind.METRIC
    assert metric.value_type is ValueType.NUMBER
    assert [d.list_name for d in metric.dimensions] == ["Month", "Country"]
    dims = [d.column_name for d in metric.dimensions]
    assert column_names(db, metric.table_name) == [*dims, "value"]


def test_create_list_does_not_make_metrics(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    with pytest.raises(Invalid):
        blocks.create_list(db, admin, app.id, BlockKind.METRIC, "Revenue")
    assert blocks.list_blocks(db, admin, app.id) == []


def test_a_duplicate_block_name_is_refused_whatever_its_kind_or_case(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    for kind, name in [(DL, "Country"), (TL, "country"), (DL, " COUNTRY "), (TL, "Ｃountry")]:
        with pytest.raises(Conflict, match="'Country' already exists") as raised:
            blocks.create_list(db, admin, app.id, kind, name)
        assert raised.value.field == "name"
    assert [b.name for b in blocks.list_blocks(db, admin, app.id)] == ["Country"]


def test_a_metric_cannot_take_the_name_of_a_list(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    with pytest.raises(Conflict, match="already exists"):
        blocks.create_metric(db, admin, app.id, "country", ValueType.NUMBER, [country.id])


def test_the_same_block_name_may_be_used_in_two_applications(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    other = applications.create_application(db, admin, "Forecast")
    created = blocks.create_list(db, admin, other.id, DL, "Country")
    assert created.table_name != country.table_name


def test_a_metric_over_a_transaction_list_is_a_conflict(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    before = table_names(db)
    with pytest.raises(Conflict, match="'Sales' is a Transaction List"):
        blocks.create_metric(db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id, sales.id])
    assert table_names(db) == before
    assert [b.name for b in blocks.list_blocks(db, admin, app.id)] == ["Country", "Sales"]


def test_a_metric_over_another_metric_is_a_conflict(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    units = blocks.create_metric(db, admin, app.id, "Units", ValueType.INTEGER, [country.id])
    with pytest.raises(Conflict, match="only Dimension Lists"):
        blocks.create_metric(db, admin, app.id, "Price", ValueType.NUMBER, [units.id])


def test_a_metric_over_the_same_list_twice_is_invalid(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    with pytest.raises(Invalid, match="same Dimension List twice") as raised:
        blocks.create_metric(db, admin, app.id, "Trade", ValueType.NUMBER, [country.id, country.id])
    assert raised.value.field == "dimensions"
    assert len(blocks.list_blocks(db, admin, app.id)) == 1


def test_a_metric_without_dimensions_is_invalid(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    with pytest.raises(Invalid, match="at least one") as raised:
        blocks.create_metric(db, admin, app.id, "Revenue", ValueType.NUMBER, [])
    assert raised.value.field == "dimensions"


def test_a_metric_over_a_list_of_another_application_is_not_found(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    other = applications.create_application(db, admin, "Forecast")
    foreign = blocks.create_list(db, admin, other.id, DL, "Country")
    with pytest.raises(NotFound):
        blocks.create_metric(db, admin, app.id, "Revenue", ValueType.NUMBER, [foreign.id])


def test_only_holders_of_configure_blocks_create_blocks(
    db: Database, admin: Actor, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    for role in ("Contributor", "Reader"):
        actor = member_as(role)
        with pytest.raises(PermissionDenied, match="Configure Blocks"):
            blocks.create_list(db, actor, app.id, DL, "Country")
    assert blocks.list_blocks(db, admin, app.id) == []


def test_a_modeler_creates_blocks(
    db: Database, app: ApplicationView, member_as: Callable[[str], Actor]
) -> None:
    actor = member_as("Modeler")
    created = blocks.create_list(db, actor, app.id, DL, "Country")
    assert blocks.get_block(db, actor, created.id).name == "Country"


def test_blocks_are_listed_lists_first_then_metrics_by_name_with_a_summary(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "sales")
    blocks.add_property(db, admin, sales.id, "Amount", T.NUMBER)
    blocks.create_metric(db, admin, app.id, "Price", ValueType.NUMBER, [country.id, month.id])
    listed = blocks.list_blocks(db, admin, app.id)
    assert [(b.name, b.kind, b.row_count, b.detail) for b in listed] == [
        ("Country", DL, 3, "0 properties"),
        ("Month", DL, 2, "0 properties"),
        ("sales", TL, 0, "1 property"),
        ("Price", BlockKind.METRIC, 0, "Country × Month · Number"),
    ]
    assert [b.name for b in blocks.list_dimension_lists(db, admin, app.id)] == ["Country", "Month"]


def test_renaming_a_block_bumps_its_definition_version(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    renamed = blocks.rename_block(db, admin, country.id, "Countries", "All of them")
    assert (renamed.name, renamed.description) == ("Countries", "All of them")
    assert renamed.definition_version == country.definition_version + 1
    assert renamed.table_name == country.table_name


def test_renaming_a_block_to_the_name_of_another_is_a_conflict(
    db: Database, admin: Actor, country: BlockDef, month: BlockDef
) -> None:
    with pytest.raises(Conflict):
        blocks.rename_block(db, admin, month.id, "COUNTRY")
    assert blocks.get_block(db, admin, month.id) == month


def test_an_unknown_block_is_not_found(db: Database, admin: Actor) -> None:
    unknown = uuid.uuid4()
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: blocks.get_block(db, admin, unknown),
        "rename": lambda: blocks.rename_block(db, admin, unknown, "X"),
        "delete": lambda: blocks.delete_block(db, admin, unknown),
        "add property": lambda: blocks.add_property(db, admin, unknown, "X", T.TEXT),
        "add dimension": lambda: blocks.add_metric_dimension(db, admin, unknown, unknown),
        "value type": lambda: blocks.change_metric_value_type(db, admin, unknown, ValueType.TEXT),
        "unique": lambda: blocks.set_unique_property(db, admin, unknown, None),
    }
    for call in calls.values():
        with pytest.raises(NotFound, match="block does not exist"):
            call()


# ---------------------------------------------------------------- properties


def test_adding_a_property_adds_a_column_and_existing_items_get_a_blank(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    changed, prop_id = with_property(db, admin, country, "Currency", T.TEXT)
    prop = changed.property(prop_id)
    assert (prop.name, prop.type, prop.position) == ("Currency", T.TEXT, 0)
    assert changed.definition_version == country.definition_version + 1
    assert prop.column_name in column_names(db, country.table_name)
    assert column_of(db, admin, country.id, "Currency") == {"FR": "", "DE": "", "IT": ""}


def test_a_dimension_property_references_a_dimension_list_and_is_indexed(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    changed, prop_id = with_property(
        db, admin, sales, "Country", T.DIMENSION, referenced_list_id=country.id
    )
    prop = changed.property(prop_id)
    assert (prop.referenced_block_id, prop.referenced_block_name) == (country.id, "Country")
    assert prop.column_name in index_columns(db, sales.table_name, unique=False)


def test_a_dimension_property_needs_the_list_it_refers_to(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    with pytest.raises(Invalid) as raised:
        blocks.add_property(db, admin, sales.id, "Country", T.DIMENSION)
    assert raised.value.field == "referenced_list"
    assert column_names(db, sales.table_name) == ["id"]


def test_a_dimension_property_cannot_refer_to_a_transaction_list(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    orders = blocks.create_list(db, admin, app.id, TL, "Orders")
    with pytest.raises(Conflict, match="only Dimension Lists"):
        blocks.add_property(db, admin, orders.id, "Sale", T.DIMENSION, referenced_list_id=sales.id)


def test_only_dimension_properties_refer_to_a_list(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    with pytest.raises(Invalid) as raised:
        blocks.add_property(db, admin, sales.id, "Note", T.TEXT, referenced_list_id=country.id)
    assert raised.value.field == "referenced_list"


def test_a_dimension_list_property_cannot_use_a_reserved_name(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    for name in ("Code", "name", " NAME ", "id"):
        with pytest.raises(Conflict, match="already has a") as raised:
            blocks.add_property(db, admin, country.id, name, T.TEXT)
        assert raised.value.field == "name"
    assert column_names(db, country.table_name) == ["id", "code", "name"]
    assert version(db, admin, country.id) == country.definition_version


def test_a_transaction_list_may_have_properties_called_code_and_name(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    blocks.add_property(db, admin, sales.id, "Code", T.TEXT)
    changed = blocks.add_property(db, admin, sales.id, "Name", T.TEXT)
    assert [p.name for p in changed.properties] == ["Code", "Name"]


def test_a_duplicate_property_name_is_a_conflict_whatever_its_case(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    changed, _ = with_property(db, admin, country, "Currency", T.TEXT)
    with pytest.raises(Conflict, match="already has a property named") as raised:
        blocks.add_property(db, admin, country.id, "CURRENCY", T.NUMBER)
    assert raised.value.field == "name"
    assert blocks.get_block(db, admin, country.id) == changed


def test_metrics_have_no_properties(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = blocks.create_metric(db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id])
    with pytest.raises(Invalid, match="is a Metric"):
        blocks.add_property(db, admin, metric.id, "Note", T.TEXT)


def test_renaming_a_property_keeps_its_values_and_column(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    changed, prop_id = with_property(db, admin, country, "Currency", T.TEXT)
    items.write_items(db, admin, country.id, [{"Code": "FR", "Currency": "EUR"}])
    renamed = blocks.rename_property(db, admin, country.id, prop_id, "Money")
    assert renamed.property(prop_id).name == "Money"
    assert renamed.property(prop_id).column_name == changed.property(prop_id).column_name
    assert renamed.definition_version == changed.definition_version + 1
    assert column_of(db, admin, country.id, "Money")["FR"] == "EUR"


def test_renaming_a_property_to_a_taken_or_reserved_name_is_a_conflict(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    with_property(db, admin, country, "Currency", T.TEXT)
    changed, prop_id = with_property(db, admin, country, "Region", T.TEXT)
    for taken in ("currency", "Code"):
        with pytest.raises(Conflict):
            blocks.rename_property(db, admin, country.id, prop_id, taken)
    assert blocks.get_block(db, admin, country.id) == changed


def test_removing_a_property_drops_its_column_and_keeps_the_others(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    _, currency = with_property(db, admin, country, "Currency", T.TEXT)
    before, _ = with_property(db, admin, country, "Region", T.TEXT)
    items.write_items(db, admin, country.id, [{"Code": "FR", "Currency": "EUR", "Region": "EU"}])
    column = before.property(currency).column_name

    changed = blocks.remove_property(db, admin, country.id, currency)

    assert [p.name for p in changed.properties] == ["Region"]
    assert changed.definition_version == before.definition_version + 1
    assert column not in column_names(db, country.table_name)
    assert column_of(db, admin, country.id, "Region")["FR"] == "EU"


def test_a_removed_property_name_can_be_added_again_with_a_fresh_column(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    first, old_id = with_property(db, admin, country, "Currency", T.TEXT)
    items.write_items(db, admin, country.id, [{"Code": "FR", "Currency": "EUR"}])
    blocks.remove_property(db, admin, country.id, old_id)
    again, new_id = with_property(db, admin, country, "Currency", T.NUMBER)
    assert again.property(new_id).column_name != first.property(old_id).column_name
    assert column_of(db, admin, country.id, "Currency")["FR"] == ""


def test_removing_a_dimension_property_drops_its_indexed_column(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    _, prop_id = with_property(
        db, admin, sales, "Country", T.DIMENSION, referenced_list_id=country.id
    )
    items.append_rows(db, admin, sales.id, [{"Country": "FR"}])
    blocks.remove_property(db, admin, sales.id, prop_id)
    assert column_names(db, sales.table_name) == ["id"]


def test_an_unknown_property_is_not_found(db: Database, admin: Actor, app: ApplicationView) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    unknown = uuid.uuid4()
    calls: dict[str, Callable[[], object]] = {
        "rename": lambda: blocks.rename_property(db, admin, sales.id, unknown, "X"),
        "remove": lambda: blocks.remove_property(db, admin, sales.id, unknown),
        "type": lambda: blocks.change_property_type(db, admin, sales.id, unknown, T.TEXT),
        "unique": lambda: blocks.set_unique_property(db, admin, sales.id, unknown),
    }
    for call in calls.values():
        with pytest.raises(NotFound, match="property does not exist"):
            call()


# ---------------------------------------------------------------- changing a property's type


def test_text_values_become_numbers(db: Database, admin: Actor, country: BlockDef) -> None:
    before, prop_id = with_property(db, admin, country, "Rate", T.TEXT)
    items.write_items(
        db, admin, country.id, [{"Code": "FR", "Rate": " 1.5 "}, {"Code": "DE", "Rate": "-2"}]
    )
    changed = blocks.change_property_type(db, admin, country.id, prop_id, T.NUMBER)
    assert changed.property(prop_id).type is T.NUMBER
    assert changed.definition_version == before.definition_version + 1
    old_column = before.property(prop_id).column_name
    assert old_column not in column_names(db, country.table_name)
    assert changed.property(prop_id).column_name in column_names(db, country.table_name)
    assert column_of(db, admin, country.id, "Rate") == {"FR": "1.5", "DE": "-2", "IT": ""}


def test_whole_numbers_become_integers(db: Database, admin: Actor, country: BlockDef) -> None:
    _, prop_id = with_property(db, admin, country, "Population", T.NUMBER)
    items.write_items(
        db,
        admin,
        country.id,
        [{"Code": "FR", "Population": "68e6"}, {"Code": "DE", "Population": "84000000"}],
    )
    changed = blocks.change_property_type(db, admin, country.id, prop_id, T.INTEGER)
    assert changed.property(prop_id).type is T.INTEGER
    assert column_of(db, admin, country.id, "Population") == {
        "FR": "68000000",
        "DE": "84000000",
        "IT": "",
    }


def test_integers_become_text(db: Database, admin: Actor, country: BlockDef) -> None:
    _, prop_id = with_property(db, admin, country, "Dial", T.INTEGER)
    items.write_items(
        db, admin, country.id, [{"Code": "FR", "Dial": "33"}, {"Code": "DE", "Dial": "49"}]
    )
    blocks.change_property_type(db, admin, country.id, prop_id, T.TEXT)
    items.write_items(db, admin, country.id, [{"Code": "IT", "Dial": "+39"}])
    assert column_of(db, admin, country.id, "Dial") == {"FR": "33", "DE": "49", "IT": "+39"}


def test_a_dimension_property_becomes_text_and_back_keeping_its_items(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    _, prop_id = with_property(
        db, admin, sales, "Country", T.DIMENSION, referenced_list_id=country.id
    )
    items.append_rows(db, admin, sales.id, [{"Country": "FR"}, {"Country": "IT"}, {"Country": ""}])

    as_text = blocks.change_property_type(db, admin, sales.id, prop_id, T.TEXT)
    prop = as_text.property(prop_id)
    assert (prop.type, prop.referenced_block_id) == (T.TEXT, None)
    assert [r["Country"] for r in grid(db, admin, sales.id)] == ["FR", "IT", ""]

    again = blocks.change_property_type(
        db, admin, sales.id, prop_id, T.DIMENSION, referenced_list_id=country.id
    )
    assert again.property(prop_id).referenced_block_id == country.id
    assert [r["Country"] for r in grid(db, admin, sales.id)] == ["FR", "IT", ""]
    # The item ids are real references again: removing an item is refused while used.
    with pytest.raises(Conflict, match="still used"):
        items.delete_items(db, admin, country.id, ["FR"])


def assert_refused_and_unchanged(
    db: Database,
    admin: Actor,
    block: BlockDef,
    change: Callable[[], object],
    *expected: str,
) -> None:
    """`change` raises Conflict naming every `expected` text; data and definition stay."""
    before = blocks.get_block(db, admin, block.id)
    rows = grid(db, admin, block.id)
    columns = column_names(db, block.table_name)
    with pytest.raises(Conflict) as raised:
        change()
    for text in expected:
        assert text in raised.value.message
    assert blocks.get_block(db, admin, block.id) == before
    assert grid(db, admin, block.id) == rows
    assert column_names(db, block.table_name) == columns


def test_text_that_is_not_a_number_blocks_the_change_naming_the_value_and_item(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    _, prop_id = with_property(db, admin, country, "Rate", T.TEXT)
    items.write_items(
        db, admin, country.id, [{"Code": "FR", "Rate": "1.5"}, {"Code": "DE", "Rate": "n/a"}]
    )
    assert_refused_and_unchanged(
        db,
        admin,
        country,
        lambda: blocks.change_property_type(db, admin, country.id, prop_id, T.NUMBER),
        "'n/a'",
        "item DE",
        "1 value(s)",
    )


def test_a_fraction_blocks_the_change_to_integer(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    _, prop_id = with_property(db, admin, country, "Rate", T.NUMBER)
    items.write_items(
        db, admin, country.id, [{"Code": "FR", "Rate": "2"}, {"Code": "IT", "Rate": "2.5"}]
    )
    assert_refused_and_unchanged(
        db,
        admin,
        country,
        lambda: blocks.change_property_type(db, admin, country.id, prop_id, T.INTEGER),
        "'2.5'",
        "item IT",
        "not a whole number",
    )


def test_text_naming_no_item_blocks_the_change_to_dimension(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    sales, prop_id = with_property(db, admin, sales, "Country", T.TEXT)
    items.append_rows(db, admin, sales.id, [{"Country": "FR"}, {"Country": "Atlantis"}])
    assert_refused_and_unchanged(
        db,
        admin,
        sales,
        lambda: blocks.change_property_type(
            db, admin, sales.id, prop_id, T.DIMENSION, referenced_list_id=country.id
        ),
        "'Atlantis'",
        "Country",
    )


def test_the_refusal_counts_every_blocking_value_and_shows_a_few(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    codes = blocks.create_list(db, admin, app.id, DL, "Codes")
    codes, prop_id = with_property(db, admin, codes, "Amount", T.TEXT)
    items.write_items(db, admin, codes.id, [{"Code": f"C{i}", "Amount": f"x{i}"} for i in range(8)])
    assert_refused_and_unchanged(
        db,
        admin,
        codes,
        lambda: blocks.change_property_type(db, admin, codes.id, prop_id, T.NUMBER),
        "8 value(s)",
        "'x0'",
        "and 3 more",
    )


def test_a_property_is_retyped_and_renamed_at_once(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    _, prop_id = with_property(db, admin, country, "Rate", T.TEXT)
    items.write_items(db, admin, country.id, [{"Code": "FR", "Rate": "0.2"}])
    changed = blocks.change_property_type(db, admin, country.id, prop_id, T.NUMBER, name="Tax rate")
    assert (changed.property(prop_id).name, changed.property(prop_id).type) == (
        "Tax rate",
        T.NUMBER,
    )
    assert column_of(db, admin, country.id, "Tax rate")["FR"] == "0.2"


def test_a_refused_retype_keeps_the_old_name_too(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    _, prop_id = with_property(db, admin, country, "Rate", T.TEXT)
    items.write_items(db, admin, country.id, [{"Code": "FR", "Rate": "high"}])
    assert_refused_and_unchanged(
        db,
        admin,
        country,
        lambda: blocks.change_property_type(
            db, admin, country.id, prop_id, T.NUMBER, name="Tax rate"
        ),
        "'high'",
    )
    assert [p.name for p in blocks.get_block(db, admin, country.id).properties] == ["Rate"]


def test_an_impossible_conversion_is_invalid_and_suggests_text(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    before, prop_id = with_property(db, admin, country, "Founded", T.DATE)
    with pytest.raises(Invalid, match="Change the property to Text first") as raised:
        blocks.change_property_type(db, admin, country.id, prop_id, T.NUMBER)
    assert raised.value.field == "type"
    assert blocks.get_block(db, admin, country.id) == before


def test_changing_to_the_same_type_keeps_the_column_and_its_values(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    before, prop_id = with_property(db, admin, country, "Rate", T.NUMBER)
    items.write_items(db, admin, country.id, [{"Code": "FR", "Rate": "0.2"}])
    after = blocks.change_property_type(db, admin, country.id, prop_id, T.NUMBER)
    assert after.properties == before.properties
    column = before.property(prop_id).column_name
    assert column_names(db, country.table_name) == ["id", "code", "name", column]
    assert column_of(db, admin, country.id, "Rate")["FR"] == "0.2"


def test_a_unique_property_stays_unique_through_a_type_change(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    sales, prop_id = with_property(db, admin, sales, "Order", T.TEXT)
    blocks.set_unique_property(db, admin, sales.id, prop_id)
    items.append_rows(db, admin, sales.id, [{"Order": "1"}, {"Order": "2"}])
    changed = blocks.change_property_type(db, admin, sales.id, prop_id, T.INTEGER)
    assert changed.unique_property_id == prop_id
    assert changed.property(prop_id).column_name in index_columns(db, sales.table_name, unique=True)
    result = items.append_rows(db, admin, sales.id, [{"Order": "2"}])
    assert (result.inserted, result.updated) == (0, 1)


# ---------------------------------------------------------------- unique property


def test_a_transaction_list_property_can_be_made_unique(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    sales, prop_id = with_property(db, admin, sales, "Order", T.TEXT)
    items.append_rows(db, admin, sales.id, [{"Order": "A-1"}, {"Order": "A-2"}, {"Order": ""}])
    changed = blocks.set_unique_property(db, admin, sales.id, prop_id)
    assert changed.unique_property_id == prop_id
    assert changed.definition_version == sales.definition_version + 1
    column = changed.property(prop_id).column_name
    assert column in index_columns(db, sales.table_name, unique=True)

    cleared = blocks.set_unique_property(db, admin, sales.id, None)
    assert cleared.unique_property_id is None
    assert column not in index_columns(db, sales.table_name, unique=True)


def test_a_property_with_repeated_values_cannot_be_made_unique(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    sales, prop_id = with_property(db, admin, sales, "Order", T.TEXT)
    items.append_rows(db, admin, sales.id, [{"Order": "A-1"}, {"Order": "A-2"}, {"Order": "A-2"}])
    assert_refused_and_unchanged(
        db,
        admin,
        sales,
        lambda: blocks.set_unique_property(db, admin, sales.id, prop_id),
        "'Order' cannot be unique",
        "'A-2' appears in 2 rows",
    )
    column = sales.property(prop_id).column_name
    assert column not in index_columns(db, sales.table_name, unique=True)


def test_moving_uniqueness_to_a_property_with_duplicates_keeps_the_old_one(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    sales, order = with_property(db, admin, sales, "Order", T.TEXT)
    sales, region = with_property(db, admin, sales, "Region", T.TEXT)
    sales = blocks.set_unique_property(db, admin, sales.id, order)
    items.append_rows(
        db, admin, sales.id, [{"Order": "1", "Region": "EU"}, {"Order": "2", "Region": "EU"}]
    )
    assert_refused_and_unchanged(
        db,
        admin,
        sales,
        lambda: blocks.set_unique_property(db, admin, sales.id, region),
        "'EU'",
    )
    assert sales.property(order).column_name in index_columns(db, sales.table_name, unique=True)


def test_dimension_lists_have_no_unique_property(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    _, prop_id = with_property(db, admin, country, "Iso3", T.TEXT)
    with pytest.raises(Invalid, match="unique by code"):
        blocks.set_unique_property(db, admin, country.id, prop_id)


def test_removing_the_unique_property_clears_the_uniqueness(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    sales, prop_id = with_property(db, admin, sales, "Order", T.TEXT)
    blocks.set_unique_property(db, admin, sales.id, prop_id)
    changed = blocks.remove_property(db, admin, sales.id, prop_id)
    assert changed.unique_property_id is None
    assert column_names(db, sales.table_name) == ["id"]


# ---------------------------------------------------------------- metric dimensions


def test_a_dimension_is_added_to_an_empty_metric_without_an_item(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [])
    changed = blocks.add_metric_dimension(db, admin, metric.id, month.id)
    assert [d.list_name for d in changed.dimensions] == ["Country", "Month"]
    assert changed.definition_version == metric.definition_version + 1
    assert column_names(db, changed.table_name) == [
        *(d.column_name for d in changed.dimensions),
        "value",
    ]
    assert metric.table_name not in table_names(db)


def test_adding_a_dimension_to_a_metric_with_cells_needs_the_item_they_belong_to(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [{"Country": "FR", "Value": "1"}])
    with pytest.raises(Conflict, match="Choose the item of 'Month'") as raised:
        blocks.add_metric_dimension(db, admin, metric.id, month.id)
    assert raised.value.field == "item"
    assert blocks.get_block(db, admin, metric.id) == metric
    assert metric.table_name in table_names(db)
    assert grid(db, admin, metric.id) == [{"Country": "FR", "Revenue": "1"}]


def test_adding_a_dimension_moves_existing_cells_to_the_chosen_item(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    cells = [{"Country": "FR", "Value": "1"}, {"Country": "DE", "Value": "2.5"}]
    metric = revenue(db, admin, app, [country], cells)
    changed = blocks.add_metric_dimension(
        db, admin, metric.id, month.id, existing_cells_item="2025-02"
    )
    assert [d.list_name for d in changed.dimensions] == ["Country", "Month"]
    assert metric.table_name not in table_names(db)
    assert sorted(grid(db, admin, metric.id), key=lambda r: r["Country"]) == [
        {"Country": "DE", "Month": "2025-02", "Revenue": "2.5"},
        {"Country": "FR", "Month": "2025-02", "Revenue": "1"},
    ]


def test_adding_a_dimension_with_an_unknown_item_is_invalid(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [{"Country": "FR", "Value": "1"}])
    with pytest.raises(Invalid, match="'2030-12'"):
        blocks.add_metric_dimension(db, admin, metric.id, month.id, existing_cells_item="2030-12")
    assert blocks.get_block(db, admin, metric.id) == metric
    assert grid(db, admin, metric.id) == [{"Country": "FR", "Revenue": "1"}]


def test_a_metric_cannot_get_the_same_dimension_twice(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [])
    with pytest.raises(Conflict, match="already has the dimension 'Country'"):
        blocks.add_metric_dimension(db, admin, metric.id, country.id)


def test_a_transaction_list_cannot_become_a_metric_dimension(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [])
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    with pytest.raises(Conflict, match="Transaction List"):
        blocks.add_metric_dimension(db, admin, metric.id, sales.id)
    assert blocks.get_block(db, admin, metric.id) == metric


def test_lists_have_no_metric_dimensions(
    db: Database, admin: Actor, country: BlockDef, month: BlockDef
) -> None:
    with pytest.raises(Invalid, match="not a Metric"):
        blocks.add_metric_dimension(db, admin, country.id, month.id)


def test_a_dimension_is_removed_from_an_empty_metric_without_an_item(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country, month], [])
    changed = blocks.remove_metric_dimension(db, admin, metric.id, country.id)
    assert [(d.list_name, d.position) for d in changed.dimensions] == [("Month", 0)]
    assert column_names(db, changed.table_name) == [changed.dimensions[0].column_name, "value"]
    assert metric.table_name not in table_names(db)


def test_removing_a_dimension_from_a_metric_with_cells_needs_the_item_to_keep(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    metric = revenue(
        db, admin, app, [country, month], [{"Country": "FR", "Month": "2025-01", "Value": "1"}]
    )
    with pytest.raises(Conflict, match="Choose the item of 'Month'") as raised:
        blocks.remove_metric_dimension(db, admin, metric.id, month.id)
    assert raised.value.field == "item"
    assert blocks.get_block(db, admin, metric.id) == metric
    assert len(grid(db, admin, metric.id)) == 1


def test_removing_a_dimension_keeps_only_the_cells_of_the_chosen_item(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    cells = [
        {"Country": "FR", "Month": "2025-01", "Value": "1"},
        {"Country": "FR", "Month": "2025-02", "Value": "2"},
        {"Country": "DE", "Month": "2025-01", "Value": "3"},
        {"Country": "IT", "Month": "2025-02", "Value": "4"},
    ]
    metric = revenue(db, admin, app, [country, month], cells)
    changed = blocks.remove_metric_dimension(db, admin, metric.id, month.id, keep_item="2025-02")
    assert [d.list_name for d in changed.dimensions] == ["Country"]
    assert sorted(grid(db, admin, metric.id), key=lambda r: r["Country"]) == [
        {"Country": "FR", "Revenue": "2"},
        {"Country": "IT", "Revenue": "4"},
    ]


def test_the_last_dimension_of_a_metric_cannot_be_removed(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [])
    with pytest.raises(Conflict, match="last one"):
        blocks.remove_metric_dimension(db, admin, metric.id, country.id)


def test_removing_a_dimension_the_metric_does_not_have_is_not_found(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [])
    with pytest.raises(NotFound, match="no such dimension"):
        blocks.remove_metric_dimension(db, admin, metric.id, month.id)


# ---------------------------------------------------------------- metric value type


def test_a_metrics_numbers_become_text(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = revenue(
        db,
        admin,
        app,
        [country],
        [{"Country": "FR", "Value": "1.5"}, {"Country": "DE", "Value": "-2"}],
    )
    changed = blocks.change_metric_value_type(db, admin, metric.id, ValueType.TEXT)
    assert changed.value_type is ValueType.TEXT
    assert changed.definition_version == metric.definition_version + 1
    assert metric.table_name not in table_names(db)
    items.set_cells(db, admin, metric.id, [{"Country": "IT", "Value": "unknown"}])
    assert {r["Country"]: r["Revenue"] for r in grid(db, admin, metric.id)} == {
        "FR": "1.5",
        "DE": "-2",
        "IT": "unknown",
    }


def test_a_metrics_whole_numbers_become_integers(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [{"Country": "FR", "Value": "3"}])
    blocks.change_metric_value_type(db, admin, metric.id, ValueType.INTEGER)
    with pytest.raises(Invalid, match="not a whole number"):
        items.set_cells(db, admin, metric.id, [{"Country": "DE", "Value": "1.5"}])
    assert grid(db, admin, metric.id) == [{"Country": "FR", "Revenue": "3"}]


def test_a_cell_the_new_value_type_cannot_hold_blocks_the_change(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = revenue(
        db,
        admin,
        app,
        [country],
        [{"Country": "FR", "Value": "3"}, {"Country": "DE", "Value": "0.25"}],
    )
    assert_refused_and_unchanged(
        db,
        admin,
        metric,
        lambda: blocks.change_metric_value_type(db, admin, metric.id, ValueType.INTEGER),
        "'Revenue' cannot hold Integer values",
        "0.25",
    )
    assert metric.table_name in table_names(db)


def test_an_impossible_value_type_change_is_invalid(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [{"Country": "FR", "Value": "3"}])
    with pytest.raises(Invalid, match="Number values cannot become Date"):
        blocks.change_metric_value_type(db, admin, metric.id, ValueType.DATE)
    assert blocks.get_block(db, admin, metric.id) == metric


# ---------------------------------------------------------------- deleting blocks


def test_an_empty_block_is_deleted_with_its_table(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    blocks.delete_block(db, admin, sales.id)
    assert sales.table_name not in table_names(db)
    assert blocks.list_blocks(db, admin, app.id) == []
    with pytest.raises(NotFound):
        blocks.get_block(db, admin, sales.id)


def test_a_list_in_use_cannot_be_deleted_and_the_message_names_its_users(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    blocks.add_property(db, admin, sales.id, "Sold in", T.DIMENSION, referenced_list_id=country.id)
    revenue(db, admin, app, [month, country], [])
    with pytest.raises(Conflict) as raised:
        blocks.delete_block(db, admin, country.id, confirm_name="Country")
    assert "Sales (property 'Sold in')" in raised.value.message
    assert "Revenue (dimension)" in raised.value.message
    assert country.table_name in table_names(db)
    assert len(grid(db, admin, country.id)) == 3


def test_a_list_can_be_deleted_once_its_uses_are_removed(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    sales, prop_id = with_property(
        db, admin, sales, "Country", T.DIMENSION, referenced_list_id=country.id
    )
    metric = revenue(db, admin, app, [month, country], [])
    blocks.remove_property(db, admin, sales.id, prop_id)
    blocks.delete_block(db, admin, metric.id)
    blocks.delete_block(db, admin, country.id, confirm_name="Country")
    assert country.table_name not in table_names(db)
    assert [b.name for b in blocks.list_blocks(db, admin, app.id)] == ["Month", "Sales"]


def test_deleting_a_block_with_data_needs_its_name_typed(
    db: Database, admin: Actor, country: BlockDef
) -> None:
    for wrong in (None, "country", "Countries"):
        with pytest.raises(Conflict, match="holds 3 row") as raised:
            blocks.delete_block(db, admin, country.id, confirm_name=wrong)
        assert raised.value.field == "confirm_name"
    assert country.table_name in table_names(db)
    blocks.delete_block(db, admin, country.id, confirm_name="Country")
    assert country.table_name not in table_names(db)


def test_a_metric_with_cells_is_deleted_and_its_lists_stay(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = revenue(db, admin, app, [country], [{"Country": "FR", "Value": "1"}])
    blocks.delete_block(db, admin, metric.id, confirm_name="Revenue")
    assert metric.table_name not in table_names(db)
    assert [b.name for b in blocks.list_blocks(db, admin, app.id)] == ["Country"]


def test_a_contributor_cannot_delete_a_block(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    member_as: Callable[[str], Actor],
) -> None:
    sales = blocks.create_list(db, admin, app.id, TL, "Sales")
    actor = member_as("Contributor")
    with pytest.raises(PermissionDenied, match="Configure Blocks"):
        blocks.delete_block(db, actor, sales.id)
    assert sales.table_name in table_names(db)


# ---------------------------------------------------------------- refusals name items by code


def test_a_refused_change_to_dimension_names_the_items_by_code(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    region = blocks.create_list(db, admin, app.id, DL, "Region")
    items.write_items(db, admin, region.id, [{"Code": "EU"}])
    _, prop_id = with_property(db, admin, country, "Region", T.TEXT)
    items.write_items(
        db, admin, country.id, [{"Code": "FR", "Region": "EU"}, {"Code": "IT", "Region": "Europa"}]
    )
    assert_refused_and_unchanged(
        db,
        admin,
        country,
        lambda: blocks.change_property_type(
            db, admin, country.id, prop_id, T.DIMENSION, referenced_list_id=region.id
        ),
        "'Europa'",
        "item IT",
    )


def test_a_refused_value_type_change_names_the_cells_by_item_code(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef
) -> None:
    metric = revenue(
        db,
        admin,
        app,
        [country],
        [{"Country": "FR", "Value": "3"}, {"Country": "DE", "Value": "0.25"}],
    )
    assert_refused_and_unchanged(
        db,
        admin,
        metric,
        lambda: blocks.change_metric_value_type(db, admin, metric.id, ValueType.INTEGER),
        "DE",
    )


# ---------------------------------------------------------------- a list referring to itself


def test_a_dimension_list_whose_property_refers_to_itself_can_be_read_and_retyped(
    db: Database, admin: Actor, app: ApplicationView
) -> None:
    employee = blocks.create_list(db, admin, app.id, DL, "Employee")
    _, manager = with_property(
        db, admin, employee, "Manager", T.DIMENSION, referenced_list_id=employee.id
    )
    items.write_items(db, admin, employee.id, [{"Code": "boss"}])
    items.write_items(db, admin, employee.id, [{"Code": "ana", "Manager": "boss"}])
    assert column_of(db, admin, employee.id, "Manager") == {"boss": "", "ana": "boss"}
    blocks.change_property_type(db, admin, employee.id, manager, T.TEXT)
    assert column_of(db, admin, employee.id, "Manager") == {"boss": "", "ana": "boss"}
