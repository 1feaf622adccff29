"""Creating applications from the application list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, create_application, unique

pytestmark = pytest.mark.e2e


def test_new_application_opens_on_its_empty_state(logged_in_page: Page) -> None:
    page = logged_in_page
    name = unique("E2E Budget")

    page.get_by_role("link", name="New application").click()
    expect(page).to_have_url(re.compile(r"/applications/new$"))
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill("Made by an end-to-end test.")
    page.get_by_role("button", name="Create application").click()

    expect(page).to_have_url(re.compile(r"/applications/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(f"Application {name!r} created.")
    expect(page.get_by_text("Made by an end-to-end test.")).to_be_visible()
    expect(page.get_by_text("This application has no blocks yet.")).to_be_visible()
    for action in ("New Dimension List", "New Transaction List", "New Metric"):
        expect(page.get_by_role("link", name=action)).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)

    # The flash message is shown once.
    page.reload()
    expect(page.get_by_role("status")).to_have_count(0)

    # The list shows it, with no blocks.
    page.get_by_role("navigation").get_by_role("link", name="Applications").first.click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").last).to_have_text("0")


def test_duplicate_application_name_in_another_case_is_refused(
    logged_in_page: Page, server: Server
) -> None:
    page = logged_in_page
    name = unique("E2E Forecast")
    create_application(page, name)
    duplicate = name.upper()
    assert duplicate != name

    page.goto("/")
    page.get_by_role("link", name="New application").click()
    page.get_by_label("Name").fill(duplicate)
    page.get_by_label("Description").fill("Should not be created.")
    page.get_by_role("button", name="Create application").click()

    expect(page.get_by_role("alert")).to_have_text(
        f"An application named {duplicate!r} already exists."
    )
    # The form is still there, with what was typed.
    expect(page.get_by_role("heading", name="New application")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value(duplicate)
    expect(page.get_by_label("Description")).to_have_value("Should not be created.")
    expect(page.get_by_role("button", name="Create application")).to_be_visible()

    # Only the first one exists.
    page.goto("/")
    expect(page.get_by_role("link", name=re.compile(re.escape(name), re.I))).to_have_count(1)
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()


def test_blank_application_name_is_refused(logged_in_page: Page) -> None:
    page = logged_in_page
    page.get_by_role("link", name="New application").click()
    name = page.get_by_label("Name")
    # The field is required: the browser does not even send an empty form.
    name.fill("")
    page.get_by_role("button", name="Create application").click()
    expect(page).to_have_url(re.compile(r"/applications/new$"))
    # Spaces pass the browser's check; the server refuses them and keeps the form.
    name.fill("   ")
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("heading", name="New application")).to_be_visible()
