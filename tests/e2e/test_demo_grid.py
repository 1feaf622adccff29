"""The FP&A demo's data grids: paging, filtering on a dimension, totals and CSV export.

The demo is deterministic: Revenue has 12 countries × 12 products × 24 months = 3,456 cells,
Employees has 600 rows. Nothing here writes to the demo.
"""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import grid_filters, grid_status, grid_table

pytestmark = pytest.mark.e2e

REVENUE_CELLS = 3456
REVENUE_CELLS_PER_COUNTRY = 12 * 24
EMPLOYEES = 600


def open_demo_block(page: Page, name: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="FP&A demo", exact=True).click()
    expect(page.get_by_role("heading", name="FP&A demo", level=1)).to_be_visible()
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def column_values(page: Page, label: str) -> list[str]:
    """The texts of one grid column on the page shown, found by its header."""
    headers = grid_table(page).get_by_role("columnheader").all_inner_texts()
    index = headers.index(label) + 1
    return grid_table(page).locator(f"tbody tr td:nth-child({index})").all_inner_texts()


def test_revenue_grid_pages_through(logged_in_page: Page) -> None:
    page = logged_in_page
    open_demo_block(page, "Revenue")
    pager = page.get_by_role("navigation", name="Pages")
    body_rows = grid_table(page).locator("tbody tr")

    expect(grid_table(page).get_by_role("columnheader")).to_have_text(
        ["Month", "Country", "Product", "Revenue"]
    )
    expect(grid_status(page)).to_have_text("Rows 1–100 of 3,456")
    expect(pager).to_contain_text("Page 1 of 35")
    expect(body_rows).to_have_count(100)
    expect(pager.get_by_role("link", name="First")).to_have_count(0)
    expect(pager.get_by_role("link", name="Previous")).to_have_count(0)

    pager.get_by_role("link", name="Next").click()
    expect(grid_status(page)).to_have_text("Rows 101–200 of 3,456")
    expect(pager).to_contain_text("Page 2 of 35")
    expect(body_rows).to_have_count(100)

    pager.get_by_role("link", name="Last").click()
    expect(grid_status(page)).to_have_text("Rows 3,401–3,456 of 3,456")
    expect(pager).to_contain_text("Page 35 of 35")
    expect(body_rows).to_have_count(REVENUE_CELLS - 3400)
    expect(pager.get_by_role("link", name="Next")).to_have_count(0)
    expect(pager.get_by_role("link", name="Last")).to_have_count(0)

    pager.get_by_role("link", name="Previous").click()
    expect(grid_status(page)).to_have_text("Rows 3,301–3,400 of 3,456")

    pager.get_by_role("link", name="First").click()
    expect(grid_status(page)).to_have_text("Rows 1–100 of 3,456")
    expect(pager).to_contain_text("Page 1 of 35")


def test_revenue_grid_filters_on_a_country(logged_in_page: Page) -> None:
    page = logged_in_page
    open_demo_block(page, "Revenue")
    filters = grid_filters(page)
    pager = page.get_by_role("navigation", name="Pages")

    filters.get_by_label("Country").fill("FR")
    filters.get_by_role("button", name="Filter").click()

    expect(grid_status(page)).to_have_text(f"Rows 1–100 of {REVENUE_CELLS_PER_COUNTRY}")
    expect(pager).to_contain_text("Page 1 of 3")
    countries = column_values(page, "Country")
    assert len(countries) == 100
    assert set(countries) == {"FR"}

    # Paging keeps the filter.
    pager.get_by_role("link", name="Last").click()
    expect(grid_status(page)).to_have_text(
        f"Rows 201–{REVENUE_CELLS_PER_COUNTRY} of {REVENUE_CELLS_PER_COUNTRY}"
    )
    assert set(column_values(page, "Country")) == {"FR"}

    # Several codes, comma-separated.
    filters.get_by_label("Country").fill("FR, DE")
    filters.get_by_role("button", name="Filter").click()
    expect(grid_status(page)).to_have_text(f"Rows 1–100 of {2 * REVENUE_CELLS_PER_COUNTRY}")

    # A code no row has: an empty grid that says why.
    filters.get_by_label("Country").fill("ZZ")
    filters.get_by_role("button", name="Filter").click()
    expect(grid_status(page)).to_have_text("No rows match these filters")
    expect(grid_table(page)).to_contain_text("Nothing matches. Clear the filters to see all rows.")

    # Clearing the filter shows everything again.
    filters.get_by_label("Country").fill("")
    filters.get_by_role("button", name="Filter").click()
    expect(grid_status(page)).to_have_text("Rows 1–100 of 3,456")


def test_revenue_filter_page_can_be_opened_from_its_address(logged_in_page: Page) -> None:
    """A filtered grid without JavaScript (the form's plain GET) shows the same rows."""
    page = logged_in_page
    open_demo_block(page, "Revenue")
    country_filter = grid_filters(page).get_by_label("Country")
    name = country_filter.get_attribute("name")
    assert name
    page.goto(f"{page.url}?{name}=JP&page=2")
    expect(grid_status(page)).to_have_text(f"Rows 101–200 of {REVENUE_CELLS_PER_COUNTRY}")
    expect(grid_filters(page).get_by_label("Country")).to_have_value("JP")
    assert set(column_values(page, "Country")) == {"JP"}


def test_employees_grid_shows_all_600_rows(logged_in_page: Page) -> None:
    page = logged_in_page
    open_demo_block(page, "Employees")
    expect(grid_status(page)).to_have_text("Rows 1–100 of 600")
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text("Page 1 of 6")
    expect(grid_table(page).get_by_role("columnheader")).to_have_text(
        [
            "Employee ID",
            "Full name",
            "Department",
            "Country",
            "Start date",
            "Annual salary",
            "FTE",
            "Full time",
        ]
    )
    expect(grid_table(page).locator("tbody tr").first.get_by_role("cell").first).to_have_text(
        "E00001"
    )
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Last").click()
    expect(grid_status(page)).to_have_text("Rows 501–600 of 600")
    expect(grid_table(page).locator("tbody tr").last.get_by_role("cell").first).to_have_text(
        "E00600"
    )


@pytest.mark.parametrize(("block", "total"), [("Employees", EMPLOYEES), ("Revenue", REVENUE_CELLS)])
def test_export_csv_downloads_every_row_under_the_column_labels(
    logged_in_page: Page, block: str, total: int
) -> None:
    page = logged_in_page
    open_demo_block(page, block)
    headers = grid_table(page).get_by_role("columnheader").all_inner_texts()
    first_row = grid_table(page).locator("tbody tr").first.get_by_role("cell").all_inner_texts()

    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename == f"{block}.csv"
    text = download.path().read_text(encoding="utf-8")

    lines = text.splitlines()
    assert len(lines) == total + 1
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == headers
    assert rows[1] == first_row
    assert all(len(row) == len(headers) for row in rows)
