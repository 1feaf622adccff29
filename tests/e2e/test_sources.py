"""A configuration's source, set from its page: a server folder under the demo's import root.

The test works on a duplicate of a demo configuration, so the demo stays as other tests read it.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server


def test_a_folder_source_is_set_on_a_configuration_and_shows_the_file_it_reads(
    logged_in_page: Page, server: Server
) -> None:
    page = logged_in_page
    page.get_by_role("link", name="FP&A demo", exact=True).click()
    page.get_by_role("link", name="Revenue", exact=True).click()
    imports = page.locator("#imports")
    row = imports.locator("table.configurations tbody tr").filter(
        has=page.get_by_role("link", name="Revenue, monthly file", exact=True)
    )
    row.get_by_role("button", name="Duplicate").click()
    expect(page.get_by_role("status")).to_contain_text("'Revenue, monthly file (copy")
    copy_name = re.search(r"'([^']+)'", page.get_by_role("status").inner_text())
    assert copy_name is not None
    imports.get_by_role("link", name=copy_name.group(1), exact=True).click()

    source = page.get_by_role("region", name="Source")
    expect(source).to_contain_text("A file given with each run (upload)")
    expect(source).to_contain_text("it cannot run by itself")
    source.get_by_label("Server folder").check()
    location = source.get_by_label(
        re.compile(r"^Path or pattern in the application's import folder")
    )
    expect(source).to_contain_text(str(server.data_dir / "imports" / "fp-a-demo"))
    location.fill("actuals/nothing_*.csv")
    expect(source.locator("#folder-check")).to_have_text(
        "No file matches actuals/nothing_*.csv in the application's import folder."
    )
    location.fill("actuals/revenue_*.csv")
    expect(source.locator("#folder-check")).to_contain_text(
        "A run now reads actuals/revenue_2027-03.csv"
    )
    source.get_by_role("button", name="Save source").click()

    expect(page.get_by_role("status")).to_have_text(f"Source of {copy_name.group(1)!r} changed.")
    source = page.get_by_role("region", name="Source")
    expect(source).to_contain_text(
        "Server folder: the most recent file matching actuals/revenue_*.csv"
    )
    expect(source).to_contain_text("A run now reads actuals/revenue_2027-03.csv")
    expect(source).to_contain_text("It can run by itself, on a schedule.")
    expect(source.get_by_label("Server folder")).to_be_checked()
