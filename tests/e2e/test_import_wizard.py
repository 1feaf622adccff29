"""The import wizard in Chromium: upload → file settings → mapping → check → Import Summary →
save as configuration, into a Dimension List, a Transaction List and a pivoted Metric.

These tests change the demo's blocks, which other end-to-end tests read as the demo loaded
them, so this module runs its own server over its own demo (same recipe as conftest's).
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import DEMO_EMAIL, Server, log_in, unique

pytestmark = pytest.mark.e2e

READY_TIMEOUT_S = 60.0  # a loaded 2-core CI machine starts Python slowly
RUN_TIMEOUT_MS = 30_000  # a run is executed by the server's worker threads, then the page reloads


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as error:
        error.close()
        return False
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over a demo of this module's own (overrides conftest's shared one)."""
    root = tmp_path_factory.mktemp("planport-import-e2e")
    data_dir, password, port = root / "data", f"e2e-{secrets.token_urlsafe(12)}", _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    env |= {"PLANPORT_DATA_DIR": str(data_dir), "PLANPORT_LOG_LEVEL": "warning"}
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
    assert demo.returncode == 0, f"`planport demo` failed:\n{demo.stdout}\n{demo.stderr}"
    with (root / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _answers(f"{base_url}/readyz"):
            assert process.poll() is None, (root / "server.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "`planport serve` was not ready in time"
            time.sleep(0.1)
        yield Server(base_url, DEMO_EMAIL, password, data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def demo_page(page: Page, server: Server) -> Page:
    log_in(page, server.email, server.password)
    expect(page.get_by_role("heading", name="Applications", level=1)).to_be_visible()
    return page


# ---------------------------------------------------------------- steps


def sample(server: Server, name: str) -> Path:
    return server.data_dir / "samples" / name


def open_block(page: Page, name: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="FP&A demo", exact=True).click()
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def upload(page: Page, block: str, file: Path) -> None:
    """From the block's page, "Import data" and upload `file`: lands on the file settings."""
    open_block(page, block)
    page.get_by_role("link", name="Import data").click()
    expect(page.get_by_role("heading", name=f"Import data into {block}")).to_be_visible()
    page.get_by_label("File to import").set_input_files(file)
    page.get_by_role("button", name="Upload and continue").click()
    expect(page.get_by_role("heading", name="File settings")).to_be_visible()


def setting(page: Page, label: str) -> Locator:
    """A field of step 1 (a label around a <select> also holds its options: match its start)."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}"))


def preview(page: Page) -> Locator:
    return page.locator("#file-preview")


def check(page: Page) -> Locator:
    """Press "Check"; returns the check's result."""
    page.get_by_role("button", name="Check", exact=True).click()
    result = page.get_by_role("region", name=re.compile(r"^Check of the first"))
    expect(result).to_be_visible()
    return result


def count(page: Page, name: str) -> Locator:
    return page.locator("dl.counts-grid > div").filter(has_text=name).locator("dd")


def import_and_see_summary(page: Page) -> None:
    """Import: the run's page follows the queued run (polled every second) to its summary."""
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(r"^Import Summary"))).to_be_visible(
        timeout=RUN_TIMEOUT_MS
    )


def save_configuration(page: Page, name: str, description: str) -> None:
    """ "Save as import configuration" on the summary; lands on the block page."""
    form = page.get_by_role("region", name="Save as import configuration")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Description").fill(description)
    form.get_by_role("button", name="Save configuration").click()
    expect(page.get_by_role("status")).to_contain_text(f"Import configuration {name!r} saved.")


def configuration_row(page: Page, name: str) -> Locator:
    section = page.locator("#imports")
    expect(section.get_by_role("link", name=name, exact=True)).to_be_visible()
    return section.locator("table.configurations tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


# ---------------------------------------------------------------- the three kinds of block


def test_countries_go_into_the_dimension_list_and_run_again_as_a_configuration(
    demo_page: Page, server: Server
) -> None:
    page = demo_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    upload(page, "Country", sample(server, "countries.csv"))

    # Step 1: the dialect is detected and the preview follows every change.
    expect(preview(page)).to_contain_text("Encoding utf-8 detected")
    expect(preview(page)).to_contain_text("Separator Comma detected")
    expect(preview(page).get_by_role("cell", name="Sweden", exact=True)).to_be_visible()
    setting(page, "Separator").select_option(label="Semicolon")
    expect(preview(page)).to_contain_text("· 1 column")
    setting(page, "Separator").select_option(label="Detect")
    expect(preview(page)).to_contain_text("· 4 columns")
    setting(page, "Thousands separator").select_option(label="Dot 1.000")
    expect(preview(page).get_by_role("alert")).to_contain_text(
        "the thousands separator must differ from the decimal separator"
    )
    setting(page, "Thousands separator").select_option(label="None")
    expect(preview(page).get_by_role("cell", name="Sweden", exact=True)).to_be_visible()
    page.get_by_role("button", name="Next: mapping").click()

    # Step 2: the columns named like the list's parts are mapped; a check writes nothing.
    expect(page.get_by_role("heading", name="Mapping", exact=True)).to_be_visible()
    expect(page.get_by_label("Source of Code")).to_have_value("column:Code")
    expect(page.get_by_label("Source of Region")).to_have_value("column:Region")
    result = check(page)
    expect(result).to_contain_text("No problems in the first 14 rows.")
    expect(result).to_contain_text("Would insert 2, update 12, delete 0 and skip 0.")
    import_and_see_summary(page)

    expect(count(page, "Rows read")).to_have_text("14")
    expect(count(page, "Inserted")).to_have_text("2")
    expect(count(page, "Updated")).to_have_text("12")
    expect(page.get_by_role("region", name="Details")).to_contain_text("countries.csv")
    name = unique("Countries from the ERP")
    save_configuration(page, name, "Weekly country list")

    # The block lists the configuration with its ID, and runs it with a new file.
    row = configuration_row(page, name)
    expect(row).to_contain_text("Weekly country list")
    shown_id = row.locator("code").inner_text()
    row.get_by_role("button", name="Copy ID").click()
    expect(row.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == shown_id
    expect(page.locator("#imports table.runs")).to_contain_text("countries.csv")

    row.get_by_role("link", name="Run with a new file").click()
    expect(page.get_by_role("heading", name=f"Run {name} with a new file")).to_be_visible()
    page.get_by_label("File to import").set_input_files(sample(server, "countries.csv"))
    page.get_by_role("button", name="Upload and run").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Import Summary"))).to_be_visible()
    expect(count(page, "Inserted")).to_have_text("0")
    expect(count(page, "Updated")).to_have_text("14")
    expect(
        page.get_by_role("region", name="Details").get_by_role("link", name=name)
    ).to_be_visible()


def test_employees_with_errors_show_each_skipped_row_with_its_reason_and_line(
    demo_page: Page, server: Server
) -> None:
    page = demo_page
    upload(page, "Employees", sample(server, "employees_with_errors.csv"))
    page.get_by_role("button", name="Next: mapping").click()

    result = check(page)
    expect(result.get_by_role("alert")).to_contain_text("4 of 5 rows would be skipped")
    expect(result.locator("thead th.bad")).to_have_text(
        ["Start date", "Annual salary", "Full time"]
    )
    import_and_see_summary(page)

    expect(count(page, "Rows read")).to_have_text("5")
    expect(count(page, "Inserted")).to_have_text("1")
    expect(count(page, "Skipped")).to_have_text("4")
    problems = page.get_by_role("region", name="Rows not imported as written")
    expected = {
        "Department": ("MissingModalitySkippedDataRow", "line 3: QA"),
        "Start date": ("ParsingError", "line 4: 31/02/2027"),
        "Annual salary": ("ParsingError", "line 5: ninety thousand"),
        "Full time": ("ParsingError", "line 6: maybe"),
    }
    for column, (reason, sample_text) in expected.items():
        row = problems.get_by_role("row").filter(
            has=page.get_by_role("cell", name=column, exact=True)
        )
        expect(row).to_contain_text(reason)
        expect(row).to_contain_text(sample_text)

    with page.expect_download() as download:
        problems.get_by_role("link", name="Download rejected rows (CSV)").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert rows[0] == ["Line", "Reason", "Column", "Value", "Description", "Row"]
    assert [r[:4] for r in rows[1:]] == [
        ["3", "MissingModalitySkippedDataRow", "Department", "QA"],
        ["4", "ParsingError", "Start date", "31/02/2027"],
        ["5", "ParsingError", "Annual salary", "ninety thousand"],
        ["6", "ParsingError", "Full time", "maybe"],
    ]
    save_configuration(page, unique("Hires with checks"), "Rejects shown")


def test_revenue_with_months_across_is_imported_as_a_pivoted_metric(
    demo_page: Page, server: Server
) -> None:
    page = demo_page
    upload(page, "Revenue", sample(server, "revenue_pivoted.csv"))
    page.get_by_role("radio", name=re.compile(r"^Pivoted")).check()
    expect(preview(page)).to_contain_text("Pivoted")
    page.get_by_role("button", name="Next: mapping").click()

    pivot = page.get_by_role("region", name="Pivoted columns")
    expect(setting(pivot, "Pivoted dimension").locator("option:checked")).to_have_text("Month")
    for month in ("2027-01", "2027-06"):
        expect(pivot.get_by_role("checkbox", name=month)).to_be_checked()
    expect(pivot.get_by_role("checkbox", name="Country")).not_to_be_checked()
    expect(page.get_by_label("Source of Country")).to_have_value("column:Country")
    expect(page.get_by_label("Source of Revenue")).to_have_value("")

    result = check(page)
    expect(result).to_contain_text("No problems in the first 24 rows.")
    expect(result.get_by_role("columnheader")).to_have_text(
        ["Country", "Product", "Month", "Revenue"]
    )
    import_and_see_summary(page)
    expect(count(page, "Rows read")).to_have_text("24")
    expect(count(page, "Inserted")).to_have_text("144")
    expect(count(page, "Skipped")).to_have_text("0")

    name = unique("Revenue by month")
    save_configuration(page, name, "Months across the columns")
    configuration_row(page, name).get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=re.compile(re.escape(name)))).to_be_visible()
    expect(page.get_by_role("region", name="Recipe")).to_contain_text("headers of 2027-01")
