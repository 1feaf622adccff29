"""End-to-end fixtures: a real `planport serve` over a fresh FP&A demo, driven by Chromium.

Each pytest process (each xdist worker) loads the demo into its own temporary folder and starts
its own server on a free port. Playwright uses Debian's Chromium (its own browser download is
not available here); every test gets a fresh browser context, so no cookie leaks between tests.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DEMO_EMAIL = "demo@planport.local"
READY_TIMEOUT_S = 60.0  # a loaded 2-core CI machine starts Python slowly
ACTION_TIMEOUT_MS = 5_000
EXPECT_TIMEOUT_MS = 5_000


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    email: str
    password: str
    data_dir: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(data_dir: Path, base_url: str) -> dict[str, str]:
    """The test process's environment without any PLANPORT_* setting of its own: the server
    must use the temporary data folder (and its SQLite database), never a configured one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    env.update(
        PLANPORT_DATA_DIR=str(data_dir),
        PLANPORT_LOG_LEVEL="warning",
        PLANPORT_BASE_URL=base_url,
    )
    return env


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as error:
        error.close()
        return False
    except OSError:
        return False


def _tail(path: Path, limit: int = 4000) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return text[-limit:] or "(empty)"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A Planport server over a freshly loaded FP&A demo; yields its address and login."""
    root = tmp_path_factory.mktemp("planport-e2e")
    data_dir = root / "data"
    password = f"e2e-{secrets.token_urlsafe(12)}"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = _environment(data_dir, base_url)
    command = [sys.executable, "-m", "planport"]

    demo = subprocess.run(
        [*command, "demo", "--email", DEMO_EMAIL, "--password", password],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if demo.returncode != 0:
        pytest.fail(
            f"`planport demo` exited with {demo.returncode}:\n{demo.stdout}\n{demo.stderr}",
            pytrace=False,
        )

    out_path, err_path = root / "server.out", root / "server.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(f"{base_url}/readyz"):
            if process.poll() is not None:
                pytest.fail(
                    f"`planport serve` exited with {process.returncode} before it was ready.\n"
                    f"stderr:\n{_tail(err_path)}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"`planport serve` did not answer GET /readyz with 200 within "
                    f"{READY_TIMEOUT_S:.0f} s.\nstderr:\n{_tail(err_path)}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield Server(base_url, DEMO_EMAIL, password, data_dir)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies), with relative URLs on the server."""
    context = browser.new_context(base_url=server.base_url, accept_downloads=True)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def log_in(page: Page, email: str, password: str) -> None:
    """Fill and submit the login form the way a person does."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def logged_in_page(page: Page, server: Server) -> Page:
    """A page logged in as the demo admin, on the application list."""
    log_in(page, server.email, server.password)
    expect(page.get_by_role("heading", name="Applications", level=1)).to_be_visible()
    return page


# ---------------------------------------------------------------- steps tests share


def unique(name: str) -> str:
    """`name` with a random suffix, so tests never collide on each other's data."""
    return f"{name} {uuid.uuid4().hex[:8]}"


def create_application(page: Page, name: str, description: str = "") -> str:
    """Create an application from the list page; returns its page's path."""
    page.goto("/")
    page.get_by_role("link", name="New application").click()
    expect(page.get_by_role("heading", name="New application")).to_be_visible()
    page.get_by_label("Name").fill(name)
    if description:
        page.get_by_label("Description").fill(description)
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    match = re.search(r"/applications/[0-9a-f-]{36}$", page.url)
    assert match, page.url
    return match.group(0)


def create_block(
    page: Page,
    application_path: str,
    kind: str,
    name: str,
    *,
    value_type: str | None = None,
    dimensions: tuple[str, ...] = (),
) -> str:
    """Create a block with the application page's "New <kind>" button; returns its path."""
    page.goto(application_path)
    page.get_by_role("link", name=f"New {kind}").click()
    expect(page.get_by_role("heading", name=f"New {kind}")).to_be_visible()
    page.get_by_label("Name").fill(name)
    if value_type is not None:
        page.get_by_label("Value type").select_option(label=value_type)
    for slot, dimension in enumerate(dimensions, start=1):
        page.get_by_label(re.compile(rf"^Dimension {slot}\b")).select_option(label=dimension)
    page.get_by_role("button", name=f"Create {kind}").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(f"{kind} {name!r} created.")
    match = re.search(r"/blocks/[0-9a-f-]{36}$", page.url)
    assert match, page.url
    return match.group(0)


def definition(page: Page) -> Locator:
    return page.get_by_role("region", name="Definition")


def data_section(page: Page) -> Locator:
    return page.get_by_role("region", name="Data")


def grid_filters(page: Page) -> Locator:
    """The filter form above the grid (a dimension column's label names its input)."""
    return data_section(page).locator("form.filters")


def grid_status(page: Page) -> Locator:
    """The "Rows a–b of n" line above the grid."""
    return page.locator("#grid .grid-status")


def grid_table(page: Page) -> Locator:
    return page.locator("#grid").get_by_role("table")


def add_property(page: Page, name: str, type_label: str, referenced_list: str = "") -> None:
    """Add a property with the "Add a property" form of a List's page."""
    form = page.locator("form#add-property")
    form.get_by_label("Name").fill(name)
    # A label around a <select> also holds its options' text: match the label's start.
    form.get_by_label(re.compile(r"^Type\b")).select_option(label=type_label)
    if referenced_list:
        form.get_by_label(re.compile(r"^Dimension List\b")).select_option(label=referenced_list)
    form.get_by_role("button", name="Add property").click()
    expect(page.get_by_role("status")).to_have_text(f"Property {name!r} added.")


def entry_form(page: Page, summary: str) -> Locator:
    """The hand-entry form under `summary` ("Add or update an item", "Set a cell"…), opened."""
    details = page.locator("details.entry").filter(has_text=summary)
    if details.get_attribute("open") is None:
        details.get_by_text(summary, exact=True).click()
    return details
