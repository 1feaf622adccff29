"""Run again from an Import Summary asks first, in a real browser; and Copy ID where the
browser gives the page no clipboard (plain HTTP away from localhost)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_import_wizard as wizard
from tests.e2e.conftest import Server
from tests.e2e.test_import_wizard import (
    RUN_TIMEOUT_MS,
    import_and_see_summary,
    open_block,
    sample,
    upload,
)

# The wizard tests' fixtures: a server over a demo of this module's own, logged in.
server = wizard.server
demo_page = wizard.demo_page

pytestmark = pytest.mark.e2e


def summary_heading(page: Page) -> None:
    expect(page.get_by_role("heading", name=re.compile(r"^Import Summary"))).to_be_visible(
        timeout=RUN_TIMEOUT_MS
    )


def test_run_again_confirms_naming_the_file_then_warns_of_newer_imports(
    demo_page: Page, server: Server
) -> None:
    page = demo_page
    upload(page, "Country", sample(server, "countries.csv"))
    page.get_by_role("button", name="Next: mapping").click()
    import_and_see_summary(page)
    first = page.url.split("?", 1)[0]
    expect(page.get_by_role("link", name="Import another file")).to_be_visible()

    page.get_by_role("link", name="Run again…").click()
    expect(page.get_by_role("heading", name="Run this import again?")).to_be_visible()
    expect(page.locator("main")).to_contain_text("countries.csv")
    expect(page.locator("main")).to_contain_text("uploaded")
    expect(page.locator("main")).not_to_contain_text("Newer imports exist")
    # Cancel goes back and runs nothing.
    page.get_by_role("link", name="Cancel").click()
    summary_heading(page)

    page.get_by_role("link", name="Run again…").click()
    page.get_by_role("button", name="Run again").click()
    summary_heading(page)
    assert page.url.split("?", 1)[0] != first
    expect(page.get_by_role("region", name="Details")).to_contain_text("Run again")
    # A Run again is no wizard upload: no wizard actions on its summary.
    expect(page.get_by_role("link", name="Import another file")).to_have_count(0)
    expect(page.get_by_role("region", name="Save as import configuration")).to_have_count(0)

    page.goto(first)
    page.get_by_role("link", name="Run again…").click()
    warning = page.get_by_role("note").filter(has_text="Newer imports exist")
    expect(warning).to_contain_text("1 import into Country ran after this one")
    expect(page.get_by_role("button", name="Run again")).to_be_visible()


def test_copy_id_without_a_clipboard_selects_the_id_and_says_press_ctrl_c(
    demo_page: Page,
) -> None:
    page = demo_page
    # What a plain-HTTP address other than localhost gives a page: no navigator.clipboard.
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    open_block(page, "Country")
    row = page.locator("#imports table.configurations tbody tr").first
    expect(row.get_by_role("button", name="Copy ID")).to_be_visible()
    shown_id = row.locator("code").inner_text()
    row.get_by_role("button", name="Copy ID").click()
    expect(row.get_by_role("status")).to_have_text("Press Ctrl+C to copy")
    assert page.evaluate("window.getSelection().toString()").strip() == shown_id
