"""Building a model by hand: Dimension Lists with typed properties and items, and Metrics."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    add_property,
    create_application,
    create_block,
    definition,
    entry_form,
    grid_status,
    grid_table,
    unique,
)

pytestmark = pytest.mark.e2e

ITEM_FORM = "Add or update an item"


def test_dimension_list_with_typed_properties_and_items(logged_in_page: Page) -> None:
    page = logged_in_page
    application = create_application(page, unique("E2E Lists"))

    # A list to reference, with one item entered by hand.
    create_block(page, application, "Dimension List", "Region")
    expect(grid_status(page)).to_have_text("No rows")
    expect(grid_table(page)).to_contain_text("This block has no data yet.")
    form = entry_form(page, ITEM_FORM)
    form.get_by_label("Code").fill("EMEA")
    form.get_by_label("Name").fill("Europe, Middle East and Africa")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(grid_status(page)).to_have_text("Rows 1–1 of 1")

    # The list with properties of several types.
    create_block(page, application, "Dimension List", "Country")
    expect(definition(page)).to_contain_text("No properties yet.")
    add_property(page, "Capital", "Text")
    add_property(page, "Population", "Number")
    add_property(page, "Joined", "Date")
    add_property(page, "Region", "Dimension", referenced_list="Region")

    rows = definition(page).get_by_role("table").get_by_role("row")
    expect(rows.nth(0)).to_contain_text("Property")
    for name, type_label in [
        ("Capital", "Text"),
        ("Population", "Number"),
        ("Joined", "Date"),
        ("Region", "Dimension → Region"),
    ]:
        row = rows.filter(has=page.get_by_role("cell", name=name, exact=True))
        expect(row).to_have_count(1)
        expect(row.get_by_role("cell").nth(1)).to_have_text(type_label)
    expect(definition(page).get_by_role("link", name="Region", exact=True)).to_be_visible()

    # The grid has a column per property (Dimension Lists start with Code and Name).
    expect(grid_table(page).get_by_role("columnheader")).to_have_text(
        ["Code", "Name", "Capital", "Population", "Joined", "Region"]
    )

    form = entry_form(page, ITEM_FORM)
    form.get_by_label("Code").fill("FR")
    form.get_by_label("Name", exact=True).fill("France")
    form.get_by_label("Capital").fill("Paris")
    form.get_by_label("Population").fill("68400000")
    form.get_by_label("Joined").fill("1958-01-01")
    form.get_by_label("Region").fill("EMEA")
    form.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(grid_status(page)).to_have_text("Rows 1–1 of 1")
    body_rows = grid_table(page).locator("tbody tr")
    expect(body_rows).to_have_count(1)
    expect(body_rows.first.get_by_role("cell")).to_have_text(
        ["FR", "France", "Paris", "68400000", "1958-01-01", "EMEA"]
    )


def test_bad_item_value_names_the_row_and_column_and_adds_nothing(logged_in_page: Page) -> None:
    page = logged_in_page
    application = create_application(page, unique("E2E Bad values"))
    create_block(page, application, "Dimension List", "Product")
    add_property(page, "Price", "Number")
    add_property(page, "Launched", "Date")

    form = entry_form(page, ITEM_FORM)
    form.get_by_label("Code").fill("P1")
    form.get_by_label("Name", exact=True).fill("Widget")
    form.get_by_label("Price").fill("cheap")
    form.get_by_role("button", name="Save").click()

    form = entry_form(page, ITEM_FORM)
    expect(form.get_by_role("alert")).to_have_text(
        "Row 1, column 'Price': 'cheap' is not a number."
    )
    expect(grid_status(page)).to_have_text("No rows")
    expect(grid_table(page).get_by_role("cell", name="P1")).to_have_count(0)
    # What was typed is kept, so it can be corrected.
    expect(form.get_by_label("Code")).to_have_value("P1")
    expect(form.get_by_label("Price")).to_have_value("cheap")

    form.get_by_label("Price").fill("12.5")
    form.get_by_label("Launched").fill("31/12/2024")
    form.get_by_role("button", name="Save").click()
    form = entry_form(page, ITEM_FORM)
    expect(form.get_by_role("alert")).to_have_text(
        "Row 1, column 'Launched': '31/12/2024' is not a date (expected YYYY-MM-DD)."
    )
    expect(grid_status(page)).to_have_text("No rows")

    form.get_by_label("Launched").fill("2024-12-31")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(grid_table(page).locator("tbody tr").first.get_by_role("cell")).to_have_text(
        ["P1", "Widget", "12.5", "2024-12-31"]
    )


def test_unknown_item_code_in_a_dimension_property_is_refused(logged_in_page: Page) -> None:
    page = logged_in_page
    application = create_application(page, unique("E2E References"))
    create_block(page, application, "Dimension List", "Team")
    create_block(page, application, "Dimension List", "Person")
    add_property(page, "Team", "Dimension", referenced_list="Team")

    form = entry_form(page, ITEM_FORM)
    form.get_by_label("Code").fill("ada")
    form.get_by_label("Team").fill("NOPE")
    form.get_by_role("button", name="Save").click()

    form = entry_form(page, ITEM_FORM)
    expect(form.get_by_role("alert")).to_have_text(
        "Row 1, column 'Team': 'Team' has no item with the code 'NOPE'."
    )
    expect(grid_status(page)).to_have_text("No rows")


def test_metric_over_two_dimension_lists(logged_in_page: Page) -> None:
    page = logged_in_page
    application = create_application(page, unique("E2E Metrics"))
    product = create_block(page, application, "Dimension List", "Product")
    create_block(page, application, "Dimension List", "Month")

    metric = unique("Sales")
    create_block(
        page,
        application,
        "Metric",
        metric,
        value_type="Number",
        dimensions=("Product", "Month"),
    )

    expect(definition(page)).to_contain_text("Value type: Number")
    dimensions = definition(page).get_by_role("list").first.get_by_role("listitem")
    expect(dimensions).to_have_count(2)
    expect(dimensions.nth(0).get_by_role("link").first).to_have_text("Product")
    expect(dimensions.nth(1).get_by_role("link").first).to_have_text("Month")
    expect(definition(page).get_by_role("link", name="Product", exact=True)).to_have_attribute(
        "href", product
    )
    expect(grid_table(page).get_by_role("columnheader")).to_have_text(["Product", "Month", metric])
    expect(grid_status(page)).to_have_text("No rows")

    # The application lists the metric with its dimensions.
    page.goto(application)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=metric, exact=True))
    expect(row).to_contain_text("Metric")


def test_metric_without_a_dimension_list_is_refused_with_a_clear_error(
    logged_in_page: Page,
) -> None:
    page = logged_in_page
    application = create_application(page, unique("E2E Metric errors"))
    create_block(page, application, "Dimension List", "Account")

    page.goto(application)
    page.get_by_role("link", name="New Metric").click()
    name = unique("Budget")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Value type").select_option(label="Integer")
    page.get_by_role("button", name="Create Metric").click()

    expect(page.get_by_role("alert")).to_have_text("A metric needs at least one Dimension List.")
    # The form stays, with what was chosen.
    expect(page.get_by_role("heading", name="New Metric")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value(name)
    expect(page.get_by_label("Value type").locator("option:checked")).to_have_text("Integer")

    page.goto(application)
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)


def test_new_metric_in_an_application_without_lists_explains_what_to_do(
    logged_in_page: Page,
) -> None:
    page = logged_in_page
    application = create_application(page, unique("E2E Empty"))
    page.get_by_role("link", name="New Metric").click()
    expect(page.get_by_text("A metric is built over Dimension Lists")).to_be_visible()
    page.get_by_role("link", name="Create a Dimension List").click()
    expect(page.get_by_role("heading", name="New Dimension List")).to_be_visible()

    page.goto(application)
    page.get_by_role("link", name="New Metric").click()
    page.get_by_label("Name").fill(unique("Orphan"))
    page.get_by_role("button", name="Create Metric").click()
    expect(page.get_by_role("alert")).to_have_text("A metric needs at least one Dimension List.")
