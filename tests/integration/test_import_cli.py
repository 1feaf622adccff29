"""`planport import run|preview` and `planport runs list|show`, run as a user runs them, on the
demo's sample files."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from planport.domain.imports import RunStatus, Trigger
from planport.services import blocks
from planport.services.imports import configurations, runs
from planport.services.workspace import members
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportRun
from tests.integration.test_cli import planport

DEMO_EMAIL = "demo@planport.local"


@dataclass
class Demo:
    """A private copy of a data folder where `planport demo` ran (into its SQLite file, or into
    the database at `url`)."""

    data_dir: Path
    url: str | None = None

    @property
    def samples(self) -> Path:
        return self.data_dir / "samples"

    def database(self) -> Database:
        return Database(self.url or f"sqlite:///{self.data_dir / 'planport.db'}")

    def configuration_id(self, name: str) -> str:
        with _open(self) as db, db.read() as session:
            found = session.scalar(
                select(ImportConfiguration.id).where(ImportConfiguration.name == name)
            )
        assert found is not None, name
        return str(found)

    def runs(self) -> int:
        with _open(self) as db, db.read() as session:
            return session.scalar(select(func.count()).select_from(ImportRun)) or 0

    def block_rows(self, name: str) -> int:
        with _open(self) as db:
            actor = members.actor_for(db, DEMO_EMAIL)
            with db.read() as session:
                application_id = session.scalar(select(ImportConfiguration.application_id).limit(1))
            assert application_id is not None
            found = {b.name: b for b in blocks.list_blocks(db, actor, application_id)}
            return found[name].row_count

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"PLANPORT_DATABASE_URL": self.url} if self.url else {}
        # A wide terminal, so that no preview table column is cut.
        return planport(*args, data_dir=self.data_dir, env={**env, "COLUMNS": "250"})


class _open:
    """A Database on the demo's SQLite file, disposed on exit."""

    def __init__(self, demo: Demo) -> None:
        self.db = demo.database()

    def __enter__(self) -> Database:
        return self.db

    def __exit__(self, *_: object) -> None:
        self.db.dispose()


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`planport demo` once per module; each test works on its own copy."""
    data_dir = tmp_path_factory.mktemp("demo")
    loaded = planport("demo", data_dir=data_dir, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    return data_dir


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Demo:
    copy = tmp_path / "data"
    shutil.copytree(demo_template, copy)
    return Demo(copy)


@pytest.fixture
def demo_in(db_url: str, tmp_path: Path) -> Demo:
    """`planport demo` into a database of each backend (SQLite, PostgreSQL)."""
    data_dir = tmp_path / "data"
    env = {"PLANPORT_DATABASE_URL": db_url}
    loaded = planport("demo", data_dir=data_dir, env=env, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    return Demo(data_dir, db_url)


def test_import_run_imports_a_sample_file_and_prints_the_summary(demo: Demo) -> None:
    before = demo.block_rows("Revenue")
    configuration = demo.configuration_id("Revenue, monthly file")
    result = demo.run("import", "run", configuration, str(demo.samples / "revenue_2027-01.csv"))
    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout
    assert "Rows read 96 · inserted 96 · updated 0 · deleted 0 · skipped 0" in result.stdout
    assert demo.block_rows("Revenue") == before + 96
    with _open(demo) as db:
        (run,) = runs.list_runs(
            db, members.actor_for(db, DEMO_EMAIL), uuid.UUID(_block_id(demo, "Revenue"))
        )
    assert (run.status, run.trigger, run.actor_email) == (
        RunStatus.COMPLETED,
        Trigger.COMMAND_LINE,
        DEMO_EMAIL,
    )
    assert str(run.configuration_id) == configuration
    assert str(run.id) in result.stdout


def test_import_run_prints_why_rows_were_skipped(demo: Demo) -> None:
    configuration = demo.configuration_id("New hires")
    sample = demo.samples / "employees_with_errors.csv"
    result = demo.run("import", "run", configuration, str(sample))
    assert result.returncode == 0, result.stderr
    assert "Rows read 5 · inserted 1 · updated 0 · deleted 0 · skipped 4" in result.stdout
    for example in ("3: 'QA'", "4: '31/02/2027'", "5: 'ninety thousand'", "6: 'maybe'"):
        assert example in result.stdout
    for column in ("Department", "Start date", "Annual salary", "Full time"):
        assert column in result.stdout
    # The reason names are what people search the documentation and logs for: never cut.
    assert "ParsingError" in result.stdout
    assert "MissingModalitySkippedDataRow" in result.stdout


def test_import_run_of_a_file_missing_columns_exits_1_with_the_reason(
    demo: Demo, tmp_path: Path
) -> None:
    before = demo.block_rows("Revenue")
    missing = tmp_path / "partial.csv"
    missing.write_text("Month,Country\n2027-01,FR\n", encoding="utf-8")
    configuration = demo.configuration_id("Revenue, monthly file")
    result = demo.run("import", "run", configuration, str(missing))
    assert result.returncode == 1
    assert "failed" in result.stdout
    assert "FileDoesNotMatch" in result.stderr
    assert "no column 'Product'" in result.stderr
    assert "no column 'Revenue'" in result.stderr
    assert "Traceback" not in result.stderr
    assert demo.block_rows("Revenue") == before


def test_import_preview_shows_the_rows_and_writes_nothing(demo: Demo) -> None:
    before = demo.block_rows("Revenue")
    configuration = demo.configuration_id("Revenue, months across")
    sample = demo.samples / "revenue_pivoted.csv"
    result = demo.run("import", "preview", configuration, str(sample))
    assert result.returncode == 0, result.stderr
    assert "Preview only: nothing was written." in result.stdout
    assert "Rows read 24 · inserted 144" in result.stdout
    assert "2027-01" in result.stdout
    assert demo.block_rows("Revenue") == before
    assert demo.runs() == 0


@pytest.mark.parametrize(
    ("command", "configuration", "message"),
    [
        ("run", "not-an-id", "'not-an-id' is not an import configuration ID"),
        ("preview", str(uuid.UUID(int=1)), "This import configuration does not exist."),
    ],
)
def test_a_bad_configuration_id_exits_1_with_a_clear_message(
    demo: Demo, command: str, configuration: str, message: str
) -> None:
    result = demo.run("import", command, configuration, str(demo.samples / "countries.csv"))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert demo.runs() == 0


def test_acting_as_an_unknown_member_exits_1_naming_the_address(demo: Demo) -> None:
    configuration = demo.configuration_id("Countries")
    result = demo.run(
        "import", "run", configuration, str(demo.samples / "countries.csv"), "--as", "x@y.z"
    )
    assert result.returncode == 1
    assert "No member has the e-mail address 'x@y.z'." in result.stderr
    assert "Traceback" not in result.stderr
    assert demo.runs() == 0


def test_a_configuration_in_error_is_refused_by_the_command_saying_why(demo: Demo) -> None:
    configuration = demo.configuration_id("New hires")
    with _open(demo) as db:
        actor = members.actor_for(db, DEMO_EMAIL)
        employees = blocks.get_block(db, actor, uuid.UUID(_block_id(demo, "Employees")))
        fte = next(p for p in employees.properties if p.name == "FTE")
        blocks.remove_property(db, actor, employees.id, fte.id, confirmed=True)
        assert configurations.get_configuration(db, actor, uuid.UUID(configuration)).in_error
    sample = demo.samples / "employees_new_hires.csv"
    result = demo.run("import", "run", configuration, str(sample))
    assert result.returncode == 1
    assert "is in error" in result.stderr
    assert demo.runs() == 0


def _block_id(demo: Demo, name: str) -> str:
    with _open(demo) as db, db.read() as session:
        found = session.scalar(
            select(ImportConfiguration.block_id).where(ImportConfiguration.block_name == name)
        )
    assert found is not None, name
    return str(found)


@pytest.mark.parametrize(
    ("name", "block", "rows"),
    [
        ("Revenue actuals, from the server folder", "Revenue", 96),
        ("Revenue forecast, copied from Revenue", "Revenue forecast", None),
    ],
)
def test_import_run_without_a_file_reads_the_configurations_own_source(
    demo_in: Demo, name: str, block: str, rows: int | None
) -> None:
    before = demo_in.block_rows(block)
    result = demo_in.run("import", "run", demo_in.configuration_id(name))
    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout
    assert demo_in.block_rows(block) > before
    if rows is not None:
        assert f"Rows read {rows} · inserted {rows}" in result.stdout
    with _open(demo_in) as db:
        (run,) = runs.list_runs(
            db, members.actor_for(db, DEMO_EMAIL), uuid.UUID(_block_id(demo_in, block))
        )
    assert (run.status, run.trigger, run.actor_email) == (
        RunStatus.COMPLETED,
        Trigger.COMMAND_LINE,
        DEMO_EMAIL,
    )
    assert str(run.id) in result.stdout


def test_import_run_without_a_file_of_an_upload_configuration_says_to_pass_one(
    demo: Demo,
) -> None:
    configuration = demo.configuration_id("Countries")
    result = demo.run("import", "run", configuration)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: Import configuration 'Countries' imports a file uploaded with each run, so it "
        f"cannot run by itself. Pass the file: planport import run {configuration} FILE"
    ]
    assert demo.runs() == 0


def test_import_preview_shows_values_as_the_pages_do(demo: Demo) -> None:
    configuration = demo.configuration_id("New hires")
    result = demo.run(
        "import", "preview", configuration, str(demo.samples / "employees_new_hires.csv")
    )
    assert result.returncode == 0, result.stderr
    assert "true" in result.stdout
    assert "false" in result.stdout
    assert " 56500 " in result.stdout
    for python_text in ("True", "False", "56500.0"):
        assert python_text not in result.stdout


def test_runs_list_shows_the_newest_runs_first_and_runs_show_one_in_full(demo_in: Demo) -> None:
    revenue = demo_in.configuration_id("Revenue, monthly file")
    hires = demo_in.configuration_id("New hires")
    first = demo_in.run("import", "run", revenue, str(demo_in.samples / "revenue_2027-01.csv"))
    second = demo_in.run("import", "run", hires, str(demo_in.samples / "employees_with_errors.csv"))
    assert first.returncode == second.returncode == 0, (first.stderr, second.stderr)
    listed = demo_in.run("runs", "list", "--as", DEMO_EMAIL)
    assert listed.returncode == 0, listed.stderr
    header, newest, older = listed.stdout.splitlines()
    assert header.split("\t") == [
        "RUN",
        "CONFIGURATION",
        "BLOCK",
        "TRIGGER",
        "STATUS",
        "STARTED",
        "ROWS",
    ]
    assert newest.split("\t")[1:5] == ["New hires", "Employees", "Command line", "completed"]
    assert newest.split("\t")[6] == "5"
    assert older.split("\t")[1:5] == [
        "Revenue, monthly file",
        "Revenue",
        "Command line",
        "completed",
    ]
    assert older.split("\t")[6] == "96"
    only = demo_in.run("runs", "list", "--configuration", revenue, "--limit", "5")
    assert [line.split("\t")[1] for line in only.stdout.splitlines()[1:]] == [
        "Revenue, monthly file"
    ]
    latest = demo_in.run("runs", "list", "--as", DEMO_EMAIL, "--limit", "1")
    assert len(latest.stdout.splitlines()) == 2
    run_id = newest.split("\t")[0]
    shown = demo_in.run("runs", "show", run_id, "--as", DEMO_EMAIL)
    assert shown.returncode == 0, shown.stderr
    assert f"Run {run_id}: completed" in shown.stdout
    assert "Rows read 5 · inserted 1 · updated 0 · deleted 0 · skipped 4" in shown.stdout
    assert "MissingModalitySkippedDataRow" in shown.stdout
    assert "line 3: 'QA'" in shown.stdout


def test_runs_show_names_the_api_key_and_the_pushed_file_of_an_api_run(demo: Demo) -> None:
    import hashlib

    from planport.domain.api_keys import ApiKeyType
    from planport.services.imports import pushes
    from planport.services.workspace import api_keys
    from planport.settings import Settings

    created = demo.run(
        "apikey", "create", "--owner", DEMO_EMAIL, "--type", "import", "--name", "Workday EIB"
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    revenue = uuid.UUID(demo.configuration_id("Revenue, monthly file"))
    content = (demo.samples / "revenue_2027-01.csv").read_bytes()
    settings = Settings(data_dir=demo.data_dir)
    with _open(demo) as db:
        caller = api_keys.authenticate(db, key, ApiKeyType.IMPORT, "127.0.0.1")
        target = pushes.push_target(db, caller, revenue, settings)
        path = pushes.new_push_file(settings, "revenue-eib.csv")
        path.write_bytes(content)
        pushes.check_pushed_file(db, caller, target, path)
        run_id = pushes.queue_push(db, caller, target, path, settings)
        assert runs.claim_run(db, run_id, "test-worker")
        ran = runs.execute_run(db, run_id, "test-worker", settings=settings)
    assert ran.status is RunStatus.COMPLETED, ran.errors

    shown = demo.run("runs", "show", str(run_id), "--as", DEMO_EMAIL)

    assert shown.returncode == 0, shown.stderr
    assert f"Trigger: API with the key Workday EIB · by {DEMO_EMAIL}" in shown.stdout
    digest = hashlib.sha256(content).hexdigest()
    assert f"File: revenue-eib.csv · {len(content):,} bytes · SHA-256 {digest}" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", str(uuid.UUID(int=7)), "--as", DEMO_EMAIL], "This import run does not exist."),
        (["show", "run-7", "--as", DEMO_EMAIL], "'run-7' is not an import run ID"),
        (["show", str(uuid.UUID(int=7))], "Say which member acts: add --as EMAIL."),
        (
            ["list", "--configuration", str(uuid.UUID(int=7)), "--as", DEMO_EMAIL],
            "This import configuration does not exist.",
        ),
        (["list", "--as", "x@y.z"], "No member has the e-mail address 'x@y.z'."),
        (["list", "--as", DEMO_EMAIL, "--limit", "0"], "--limit must be 1 or more, not 0."),
    ],
)
def test_runs_commands_refuse_unknown_ids_with_one_line_and_exit_1(
    demo: Demo, args: list[str], message: str
) -> None:
    result = demo.run("runs", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
