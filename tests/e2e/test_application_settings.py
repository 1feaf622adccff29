"""An application's settings and access page in a laptop-sized window."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import create_application, unique

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 768}


def test_every_role_save_button_fits_a_1366_pixel_window(logged_in_page: Page) -> None:
    page = logged_in_page
    page.set_viewport_size(LAPTOP)
    path = create_application(page, unique("E2E Roles"))
    page.goto(f"{path}/settings")
    roles = page.get_by_role("region", name="Roles")
    table = roles.get_by_role("table")
    expect(table).to_be_visible()
    shots = os.environ.get("PLANPORT_E2E_SCREENSHOTS")
    if shots:
        roles.scroll_into_view_if_needed()
        page.screenshot(path=os.path.join(shots, "roles-1366.png"))

    # The page itself never scrolls sideways…
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    # …and each role's Save button lies inside the window, clickable where it is.
    saves = roles.get_by_role("button", name="Save")
    expect(saves).to_have_count(4)
    for index in range(4):
        box = saves.nth(index).bounding_box()
        assert box is not None
        assert box["x"] >= 0, box
        assert box["x"] + box["width"] <= LAPTOP["width"], box
    # The table does not scroll inside its card either: every permission column is in view.
    overflow = table.evaluate("t => t.parentElement.scrollWidth - t.parentElement.clientWidth")
    assert overflow <= 0
    header = table.get_by_role("columnheader", name="Manage Application")
    header_box = header.bounding_box()
    assert header_box is not None
    assert header_box["x"] + header_box["width"] <= LAPTOP["width"]


def test_in_a_narrower_window_the_role_headers_wrap_and_save_still_works(
    logged_in_page: Page,
) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": 1024, "height": 768})
    path = create_application(page, unique("E2E Roles"))
    page.goto(f"{path}/settings")
    roles = page.get_by_role("region", name="Roles")
    reader = roles.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Reader"))
    save = reader.get_by_role("button", name="Save")
    save.scroll_into_view_if_needed()
    shots = os.environ.get("PLANPORT_E2E_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "roles-1024.png"))

    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    box = save.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 1024, box
    # Saving from there works: Reader also gets View History.
    reader.get_by_role("checkbox", name="Reader: View History").check()
    save.click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(
        page.get_by_role("region", name="Roles").get_by_role(
            "checkbox", name="Reader: View History"
        )
    ).to_be_checked()
