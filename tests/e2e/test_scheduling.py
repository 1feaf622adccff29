"""The Import Scheduling page in Chromium: the first visit, the schedule form and its next
fires, toggling, editing and deleting a schedule from its row, starting an import and
following it live, the history and an Import Summary, the Failed flag and Run again, and
staggering schedules that start at the same minute.

The demo's configurations read uploaded files; before the server starts, this module points
three of them at files in the demo application's folder (DATA_DIR/imports/fp-a-demo) through
the configuration service: "Countries" (its sample), "New hires" (a generated file big enough
to watch its progress) and "Headcount" (a file that is missing until a test puts it there).
Tests change schedules and runs, so the module runs its own server, and each test starts from
no schedules.
"""

from __future__ import annotations

import csv
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import delete, func, select, update

from planport.connectors import FolderSource
from planport.domain.members import Actor
from planport.scheduling import Repeat
from planport.services import blocks
from planport.services.blocks import applications
from planport.services.imports import configurations, sources
from planport.services.scheduling import schedules
from planport.services.scheduling.schedules import ScheduleInput
from planport.services.workspace import members
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportRun, ImportSchedule
from tests.e2e.conftest import DEMO_EMAIL, Server, log_in

pytestmark = pytest.mark.e2e

READY_TIMEOUT_S = 60.0  # a loaded 2-core CI machine starts Python slowly
RUN_TIMEOUT_MS = 60_000  # a run of the big file takes seconds; a loaded machine, more
ACTION_TIMEOUT_MS = 15_000
BIG_ROWS = 400_000  # long enough (seconds) that the page sees the run running
HIRES_HEADER = "Employee ID,Full name,Department,Country,Start date,Annual salary,FTE,Full time"
FOLDERS = {
    "Countries": "countries.csv",
    "New hires": "big/new_hires.csv",
    "Headcount": "headcount.csv",
}


@dataclass(frozen=True, slots=True)
class Demo:
    server: Server
    db: Database
    actor: Actor
    application_path: str
    configuration_ids: dict[str, uuid.UUID]

    @property
    def imports(self) -> Path:
        return self.server.data_dir / "imports" / "fp-a-demo"  # the demo application's folder


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


def _big_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HIRES_HEADER.split(","))
        for n in range(BIG_ROWS):
            writer.writerow(
                [f"B{n:07d}", f"Person {n}", "HR", "US", "2022-02-12", "56500", "1", "true"]
            )


def _point_at_folders(
    db: Database, actor: Actor, data_dir: Path
) -> tuple[str, dict[str, uuid.UUID]]:
    """Give three demo configurations folder sources; returns the application's path and
    their ids by name."""
    [app] = applications.list_applications(db, actor)
    found = {}
    for block in blocks.list_blocks(db, actor, app.id):
        for configuration in configurations.list_configurations(db, actor, block.id):
            if configuration.name in FOLDERS:
                source = FolderSource(path=FOLDERS[configuration.name])
                sources.set_source(db, actor, configuration.id, source)
                found[configuration.name] = configuration.id
    imports = data_dir / "imports" / "fp-a-demo"  # the demo application's folder
    imports.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_dir / "samples" / "countries.csv", imports / "countries.csv")
    _big_file(imports / "big" / "new_hires.csv")
    return f"/applications/{app.id}", found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A server over a demo of this module's own, three configurations reading folders."""
    root = tmp_path_factory.mktemp("planport-scheduling-e2e")
    data_dir, password, port = root / "data", f"e2e-{secrets.token_urlsafe(12)}", _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    # No retries: a run whose file is missing fails at once and stays the latest run.
    env |= {
        "PLANPORT_DATA_DIR": str(data_dir),
        "PLANPORT_LOG_LEVEL": "warning",
        "PLANPORT_RUN_RETRIES": "0",
    }
    command = [sys.executable, "-m", "planport"]
    loaded = subprocess.run(
        [*command, "demo", "--email", DEMO_EMAIL, "--password", password],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert loaded.returncode == 0, f"`planport demo` failed:\n{loaded.stdout}\n{loaded.stderr}"
    db = Database(f"sqlite:///{data_dir / 'planport.db'}")
    actor = members.actor_for(db, DEMO_EMAIL)
    application_path, ids = _point_at_folders(db, actor, data_dir)
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
        server = Server(base_url, DEMO_EMAIL, password, data_dir)
        yield Demo(server, db, actor, application_path, ids)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        db.dispose()


@pytest.fixture
def server(demo: Demo) -> Server:
    """conftest's `page` fixture opens its browser on this server."""
    return demo.server


def _active_runs(db: Database) -> int:
    with db.read() as session:
        active = select(func.count()).where(ImportRun.status.in_(["queued", "running"]))
        return session.scalar(active) or 0


@pytest.fixture
def fresh(demo: Demo) -> Demo:
    """No schedules, no Failed flag and no Headcount file, whatever earlier tests did (once
    their runs are over: on SQLite a run's block write holds the only write lock)."""
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while _active_runs(demo.db) and time.monotonic() < deadline:
        time.sleep(0.2)
    with demo.db.write() as session:
        session.execute(delete(ImportSchedule))
        session.execute(update(ImportConfiguration).values(last_run_status=None))
    (demo.imports / "headcount.csv").unlink(missing_ok=True)
    return demo


@pytest.fixture
def scheduling(page: Page, fresh: Demo) -> Page:
    """Logged in as the demo admin, on the Import Scheduling page."""
    # This module's big import keeps the server busy for seconds on a loaded machine.
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    page.set_default_navigation_timeout(RUN_TIMEOUT_MS)
    log_in(page, fresh.server.email, fresh.server.password)
    expect(page.get_by_role("heading", name="Applications", level=1)).to_be_visible()
    page.goto(fresh.application_path)
    page.get_by_role("link", name="Import Scheduling").click()
    expect(page.get_by_role("heading", name="Import Scheduling", level=1)).to_be_visible()
    return page


# ---------------------------------------------------------------- steps


def section(page: Page, name: str) -> Locator:
    return page.get_by_role("region", name=name, exact=True)


def latest_run(page: Page, name: str) -> Locator:
    return page.get_by_label(f"Latest run of {name}")


def flash(page: Page) -> Locator:
    return page.locator("p.flash")


def daily(demo: Demo, name: str, start: str) -> None:
    schedules.create_schedule(
        demo.db,
        demo.actor,
        demo.configuration_ids[name],
        ScheduleInput(datetime.fromisoformat(start), "Europe/Paris", Repeat.daily()),
    )


def preview_rows(page: Page) -> Locator:
    return page.get_by_role("region", name="Next 5 fires").locator("tbody tr")


# ---------------------------------------------------------------- tests


def test_a_first_visit_sets_up_a_scheduled_import_with_its_next_fires(scheduling: Page) -> None:
    page = scheduling
    page.get_by_text("Set up scheduled imports").click()
    page.get_by_role("link", name="Schedule import").click()
    expect(page.get_by_role("heading", name="Schedule import", level=1)).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("UTC")  # the member's zone

    # The preview follows what is typed, before the configuration is chosen.
    page.get_by_label("Start").fill("2030-03-28T02:30")
    page.get_by_label("Time zone").fill("Europe/Pa")
    preview = page.get_by_role("region", name="Next 5 fires")
    expect(preview).to_contain_text("Did you mean Europe/Paris")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_label(re.compile(r"^Repeat")).select_option("weekdays")

    rows = preview_rows(page)
    expect(rows).to_have_count(5)
    expect(rows.nth(0)).to_have_text(re.compile(r"Thu 28 Mar 2030 02:30\s*Thu 28 Mar 2030 01:30"))
    # Paris moves to summer time on 31 March: 02:30 is then 00:30 UTC.
    expect(rows.nth(2)).to_have_text(re.compile(r"Mon 01 Apr 2030 02:30\s*Mon 01 Apr 2030 00:30"))

    page.get_by_label(re.compile(r"^Repeat")).select_option("cron")
    page.get_by_label("Cron expression", exact=True).fill("0 25 * * *")
    expect(preview).to_contain_text("Invalid cron")
    page.get_by_label(re.compile(r"^Repeat")).select_option("daily")
    expect(rows.nth(2)).to_have_text(re.compile(r"^Sat 30 Mar 2030 02:30"))
    page.get_by_label(re.compile(r"^Import configuration")).select_option(label="Countries")
    page.get_by_label("Grace period (minutes)").fill("30")
    page.get_by_role("button", name="Schedule import").click()

    expect(flash(page)).to_contain_text("Schedule added to 'Countries': Every day at 02:30")
    countries = section(page, "Countries")
    expect(countries.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    expect(countries).to_contain_text("2030-03-28 01:30:00 UTC")
    expect(countries).to_contain_text("grace 30 min")
    expect(page.get_by_text("Set up scheduled imports")).to_have_count(0)


def test_a_mistake_in_the_form_is_shown_next_to_its_field_with_the_values_kept(
    scheduling: Page,
) -> None:
    page = scheduling
    page.goto(page.url + "/new")
    page.get_by_label(re.compile(r"^Import configuration")).select_option(label="Countries")
    page.get_by_label("Start").fill("2030-03-28T02:30")
    page.get_by_label("Time zone").fill("Europe/Pariss")
    page.get_by_role("button", name="Schedule import").click()

    expect(page.locator("#error-time_zone")).to_contain_text("Did you mean Europe/Paris")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Pariss")
    expect(page.get_by_label("Start")).to_have_value("2030-03-28T02:30")


def test_a_schedule_is_toggled_edited_and_deleted_from_its_row(
    scheduling: Page, fresh: Demo
) -> None:
    daily(fresh, "Countries", "2030-03-28T02:30")
    page = scheduling
    page.reload()
    row = section(page, "Countries").get_by_role("row").filter(has_text="Every day at 02:30")
    switch = row.get_by_role("switch", name="Enabled: Every day at 02:30 (Europe/Paris)")

    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    page.reload()
    expect(switch).to_have_attribute("aria-checked", "false")  # saved, not only swapped
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")

    row.get_by_label("More actions: Every day at 02:30 (Europe/Paris)").click()
    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit schedule")).to_be_visible()
    expect(page.get_by_label("Start")).to_have_value("2030-03-28T02:30")
    page.get_by_label("Start").fill("2030-03-28T04:15")
    expect(preview_rows(page).nth(0)).to_have_text(re.compile(r"^Thu 28 Mar 2030 04:15"))
    page.get_by_role("button", name="Save schedule").click()
    expect(flash(page)).to_contain_text("Every day at 04:15 (Europe/Paris)")

    row = section(page, "Countries").get_by_role("row").filter(has_text="Every day at 04:15")
    row.get_by_label("More actions: Every day at 04:15 (Europe/Paris)").click()
    row.get_by_text("Delete", exact=True).click()
    row.get_by_role("button", name="Delete schedule").click()
    expect(flash(page)).to_contain_text("Schedule of 'Countries' deleted")
    expect(section(page, "Countries")).to_contain_text("Not scheduled.")


def test_an_import_started_right_now_is_followed_live_then_its_summary_from_the_history(
    scheduling: Page,
) -> None:
    page = scheduling
    hires = section(page, "New hires")
    hires.get_by_role("button", name="Start an import right now").click()
    expect(flash(page)).to_contain_text("Import of 'New hires' started.")

    latest = latest_run(page, "New hires")
    expect(latest).to_contain_text(re.compile(r"Queued|Running"))
    expect(latest).to_contain_text(re.compile(r"[\d,]+ rows read…"), timeout=RUN_TIMEOUT_MS)
    expect(latest).to_contain_text("Completed", timeout=RUN_TIMEOUT_MS)  # no reload
    expect(latest).to_contain_text(f"{BIG_ROWS:,} rows read")
    expect(page.locator("#scheduling-sections")).not_to_have_attribute("data-polling", "on")

    hires.get_by_role("link", name="Show history").click()
    expect(page.get_by_role("heading", name="Import history · New hires")).to_be_visible()
    first = page.get_by_role("row").nth(1)
    expect(first).to_contain_text("Completed")
    first.get_by_role("link", name="View summary").click()
    expect(page.get_by_role("heading", name=re.compile("Import Summary"))).to_be_visible()
    expect(page.get_by_text(f"{BIG_ROWS:,}").first).to_be_visible()


def test_the_live_page_holds_still_under_the_pointer_so_its_buttons_can_be_used(
    scheduling: Page,
) -> None:
    page = scheduling
    section(page, "New hires").get_by_role("button", name="Start an import right now").click()
    latest = latest_run(page, "New hires")
    expect(latest).to_contain_text(re.compile(r"Queued|Running"))
    start = section(page, "Headcount").get_by_role("button", name="Start an import right now")
    start.hover()
    start.evaluate("button => { button.dataset.seen = 'yes'; }")
    page.wait_for_timeout(2500)  # two polls and more, had they replaced the sections
    expect(start).to_have_attribute("data-seen", "yes")  # the same element: not re-rendered
    page.mouse.move(0, 0)
    expect(latest).to_contain_text("Completed", timeout=RUN_TIMEOUT_MS)  # polling resumed


def test_a_running_import_is_cancelled_from_its_section(scheduling: Page) -> None:
    page = scheduling
    hires = section(page, "New hires")
    hires.get_by_role("button", name="Start an import right now").click()
    latest = latest_run(page, "New hires")
    expect(latest).to_contain_text(re.compile(r"Queued|Running"))

    # On SQLite the cancel's own write may wait for the run to stop (at its next batch).
    latest.get_by_role("button", name="Cancel run").click(timeout=RUN_TIMEOUT_MS)

    expect(flash(page)).to_contain_text(re.compile(r"Run cancelled\.|Cancel requested"))
    expect(latest).to_contain_text("Cancelled", timeout=RUN_TIMEOUT_MS)
    expect(latest.get_by_role("button", name="Cancel run")).to_have_count(0)


def test_a_failed_run_is_flagged_and_runs_again_once_its_file_is_there(
    scheduling: Page, fresh: Demo
) -> None:
    page = scheduling
    headcount = section(page, "Headcount")
    headcount.get_by_role("button", name="Start an import right now").click()

    latest = latest_run(page, "Headcount")
    expect(latest).to_contain_text("Failed", timeout=RUN_TIMEOUT_MS)
    expect(latest).to_contain_text("headcount.csv")
    expect(headcount.locator(".flag-failed")).to_have_text("Failed")

    shutil.copy(
        fresh.server.data_dir / "samples" / "headcount_2027.csv", fresh.imports / "headcount.csv"
    )
    headcount.get_by_role("link", name="Run again…").click()
    expect(page.get_by_role("heading", name="Run this import again?")).to_be_visible()
    expect(page.locator(".run-again")).to_contain_text("It reads its source as it is now")
    page.get_by_role("button", name="Run again").click()

    expect(flash(page)).to_contain_text("Import started again.")
    headcount = section(page, "Headcount")
    latest = latest_run(page, "Headcount")
    expect(latest).to_contain_text("Completed", timeout=RUN_TIMEOUT_MS)
    expect(headcount.locator(".flag-failed")).to_have_count(0)
    expect(headcount.get_by_role("link", name="Run again…")).to_have_count(0)


def test_schedules_starting_at_the_same_minute_are_flagged_and_staggered(
    scheduling: Page, fresh: Demo
) -> None:
    daily(fresh, "Countries", "2030-03-28T02:30")
    daily(fresh, "Headcount", "2030-03-28T02:30")
    page = scheduling
    page.reload()

    warning = page.get_by_role("region", name="Schedules start at the same minute")
    expect(warning).to_contain_text("2 schedules next start at 2030-03-28 01:30:00 UTC")
    expect(warning).to_contain_text("Pigment's advice is to stagger them")
    warning.get_by_label("Minutes apart").fill("10")
    warning.get_by_role("button", name="Stagger").click()

    expect(flash(page)).to_contain_text("2 schedules staggered 10 minutes apart.")
    expect(warning).to_have_count(0)
    expect(section(page, "Countries")).to_contain_text("Every day at 02:30 (Europe/Paris)")
    expect(section(page, "Headcount")).to_contain_text("Every day at 02:40 (Europe/Paris)")
