"""Logging in and out, by mouse and by keyboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, log_in

pytestmark = pytest.mark.e2e

LOGIN_HEADING = "Log in to Planport"


def _on_login_page(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/login(\?|$)"))
    expect(page.get_by_role("heading", name=LOGIN_HEADING)).to_be_visible()


def test_wrong_password_shows_an_error_and_stays_on_the_login_page(
    page: Page, server: Server
) -> None:
    log_in(page, server.email, server.password + "-wrong")

    expect(page.get_by_role("alert")).to_have_text("The e-mail or password is not correct.")
    _on_login_page(page)
    # The e-mail is kept for the next try; the password is not.
    expect(page.get_by_label("E-mail")).to_have_value(server.email)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def test_unknown_email_gets_the_same_error(page: Page, server: Server) -> None:
    log_in(page, "nobody@planport.local", server.password)

    expect(page.get_by_role("alert")).to_have_text("The e-mail or password is not correct.")
    _on_login_page(page)


def test_login_lands_on_the_application_list_and_logout_locks_it(
    page: Page, server: Server
) -> None:
    log_in(page, server.email, server.password)

    expect(page).to_have_url(f"{server.base_url}/")
    expect(page.get_by_role("heading", name="Applications", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="FP&A demo", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.get_by_role("button", name="Log out").click()

    _on_login_page(page)
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    # The list (and any page behind it) is no longer reachable: it redirects to the login.
    page.goto("/")
    expect(page).to_have_url(f"{server.base_url}/login?next=/")
    expect(page.get_by_role("heading", name=LOGIN_HEADING)).to_be_visible()
    expect(page.get_by_role("link", name="FP&A demo")).to_have_count(0)

    page.goto("/applications/new")
    expect(page).to_have_url(f"{server.base_url}/login?next=/applications/new")


def test_login_returns_to_the_page_that_asked_for_it(page: Page, server: Server) -> None:
    page.goto("/applications/new")
    _on_login_page(page)

    page.get_by_label("E-mail").fill(server.email)
    page.get_by_label("Password").fill(server.password)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{server.base_url}/applications/new")
    expect(page.get_by_role("heading", name="New application")).to_be_visible()


def test_login_form_works_with_the_keyboard_only(page: Page, server: Server) -> None:
    page.goto("/login")
    email = page.get_by_label("E-mail")
    password = page.get_by_label("Password")

    # The e-mail field has the focus when the page opens (autofocus).
    expect(email).to_be_focused()
    page.keyboard.type(server.email)
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type(server.password)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Log in")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{server.base_url}/")
    expect(page.get_by_role("link", name="FP&A demo", exact=True)).to_be_visible()


def test_login_form_submits_with_enter_in_the_password_field(page: Page, server: Server) -> None:
    page.goto("/login")
    expect(page.get_by_label("E-mail")).to_be_focused()
    page.keyboard.type(server.email)
    page.keyboard.press("Tab")
    page.keyboard.type(server.password)
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{server.base_url}/")
    expect(page.get_by_role("heading", name="Applications", level=1)).to_be_visible()


def test_skip_link_is_the_first_tab_stop_and_moves_to_the_content(logged_in_page: Page) -> None:
    page = logged_in_page
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown when focused, even if hidden otherwise
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
