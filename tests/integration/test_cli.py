"""The `planport` command, run as a user runs it: a separate process with PLANPORT_* settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "a long enough password"


def planport(
    *args: str, data_dir: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # Only the settings a test gives count: none inherited from the shell running the suite.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    environment = {
        **inherited,
        "PLANPORT_DATA_DIR": str(data_dir),
        "PLANPORT_LOG_LEVEL": "warning",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "planport", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )


def test_serve_refuses_an_unmigrated_database_with_the_fix(tmp_path: Path) -> None:
    result = planport("serve", "--port", "1", data_dir=tmp_path)
    assert result.returncode == 1
    assert "planport db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_migrates_and_db_current_then_agrees(tmp_path: Path) -> None:
    assert planport("db", "current", data_dir=tmp_path).returncode == 1
    upgraded = planport("db", "upgrade", data_dir=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "was empty" in upgraded.stdout
    current = planport("db", "current", data_dir=tmp_path)
    assert current.returncode == 0
    assert "(current)" in current.stdout


def test_config_prints_every_setting_with_secrets_masked(tmp_path: Path) -> None:
    env = {
        "PLANPORT_DATABASE_URL": "postgresql+psycopg://planner:hunter2secret@db.example:5432/pp",
        "PLANPORT_SECRET_KEY": "my-very-secret-key",
    }
    result = planport("config", data_dir=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "hunter2secret" not in result.stdout
    assert "my-very-secret-key" not in result.stdout
    assert (
        "PLANPORT_DATABASE_URL=postgresql+psycopg://planner:***@db.example:5432/pp" in result.stdout
    )
    assert "PLANPORT_PAGE_SIZE=100" in result.stdout


def test_an_invalid_setting_stops_the_command_naming_the_variable(tmp_path: Path) -> None:
    result = planport("config", data_dir=tmp_path, env={"PLANPORT_PORT": "eighty"})
    assert result.returncode == 2
    assert "PLANPORT_PORT" in result.stderr


def test_admin_create_makes_a_workspace_admin_and_refuses_a_duplicate(tmp_path: Path) -> None:
    planport("db", "upgrade", data_dir=tmp_path)
    env = {"PLANPORT_ADMIN_PASSWORD": PASSWORD}
    first = planport("admin", "create", "Boss@Example.com", data_dir=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "boss@example.com" in first.stdout
    again = planport("admin", "create", "boss@example.com", data_dir=tmp_path, env=env)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_admin_create_refuses_a_short_password(tmp_path: Path) -> None:
    planport("db", "upgrade", data_dir=tmp_path)
    result = planport(
        "admin",
        "create",
        "a@example.com",
        data_dir=tmp_path,
        env={"PLANPORT_ADMIN_PASSWORD": "short"},
    )
    assert result.returncode == 1
    assert "at least 10 characters" in result.stderr


@pytest.mark.parametrize("runs", [2])
def test_demo_loads_once_and_running_it_again_is_safe(tmp_path: Path, runs: int) -> None:
    outputs = [planport("demo", data_dir=tmp_path, timeout=120) for _ in range(runs)]
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]
    assert "FP&A demo loaded" in outputs[0].stdout
    assert "planport-demo" in outputs[0].stdout
    assert "already loaded" in outputs[1].stdout
    samples = tmp_path / "samples"
    assert (samples / "revenue_2027-01.csv").read_text().startswith("Month,Country,Product,Revenue")
    assert (samples / "employees_with_errors.csv").exists()


HEAVY_MODULES = ("argon2", "clevercsv", "pyarrow", "sqlalchemy", "alembic", "fastapi")


@pytest.mark.parametrize(
    "args", [["--help"], ["version"], ["import", "--help"], ["runs", "--help"]]
)
def test_help_and_version_import_none_of_the_heavy_modules(args: list[str]) -> None:
    # Why not a timing test: wall time varies with the machine; what makes help slow is
    # importing these (over a second together), so the test checks they stay unimported.
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from planport.cli import app\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_help_lists_the_import_schedule_and_runs_commands(tmp_path: Path) -> None:
    for group, commands in {
        "import": ("run", "preview"),
        "schedule": ("preview", "list", "enable", "disable"),
        "runs": ("list", "show"),
    }.items():
        result = planport(group, "--help", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        for command in commands:
            assert f" {command} " in result.stdout, (group, command)
