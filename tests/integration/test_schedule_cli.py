"""`planport schedule preview`: once as a separate process, as a user runs it, then through
Typer's CliRunner (in-process, the same app) for each repeat kind and each bad input.
`planport schedule list|enable|disable`: as separate processes on the demo, in each database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from planport.cli import app
from tests.integration.test_cli import planport
from tests.integration.test_import_cli import DEMO_EMAIL, Demo

FOLDER = "Revenue actuals, from the server folder"
COPY = "Revenue forecast, copied from Revenue"


@pytest.fixture
def demo(db_url: str, tmp_path: Path) -> Demo:
    """`planport demo` into a database of each backend: two schedules, both on."""
    data_dir = tmp_path / "data"
    loaded = planport("demo", data_dir=data_dir, env={"PLANPORT_DATABASE_URL": db_url}, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    return Demo(data_dir, db_url)


def preview(*args: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app, ["schedule", "preview", *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_a_daily_preview_shows_the_spring_forward_fire_at_the_end_of_the_gap(
    tmp_path: Path,
) -> None:
    result = planport(
        "schedule",
        "preview",
        "--start",
        "2026-03-29T02:30",
        "--tz",
        "Europe/Paris",
        "--repeat",
        "daily",
        "-n",
        "3",
        data_dir=tmp_path,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "2026-03-29T01:00:00Z",
        "2026-03-30T00:30:00Z",
        "2026-03-31T00:30:00Z",
    ]
    assert not list(tmp_path.iterdir())  # no database, no settings needed


@pytest.mark.parametrize(
    ("repeat", "expected"),
    [
        (["--repeat", "none"], ["2026-11-01T05:30:00Z"]),
        (
            ["--repeat", "hourly", "--every", "1"],
            ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:30:00Z"],
        ),
        (
            ["--repeat", "weekdays"],
            ["2026-11-02T06:30:00Z", "2026-11-03T06:30:00Z", "2026-11-04T06:30:00Z"],
        ),
        (
            ["--repeat", "weekly", "--days", "sun,wed"],
            ["2026-11-01T05:30:00Z", "2026-11-04T06:30:00Z", "2026-11-08T06:30:00Z"],
        ),
        (
            ["--repeat", "monthly", "--day", "31"],
            ["2026-11-30T06:30:00Z", "2026-12-31T06:30:00Z", "2027-01-31T06:30:00Z"],
        ),
        (
            ["--repeat", "monthly", "--day", "last"],
            ["2026-11-30T06:30:00Z", "2026-12-31T06:30:00Z", "2027-01-31T06:30:00Z"],
        ),
        (
            ["--repeat", "cron", "0 6 * * 1-5"],
            ["2026-11-02T11:00:00Z", "2026-11-03T11:00:00Z", "2026-11-04T11:00:00Z"],
        ),
    ],
)
def test_each_repeat_kind_previews_its_fires_from_the_start(
    repeat: list[str], expected: list[str]
) -> None:
    # Sunday 1 November 2026 in New York: 01:30 happens twice; the first is 05:30Z.
    code, lines, stderr = preview(
        "--start",
        "2026-11-01T01:30",
        "--tz",
        "America/New_York",
        *repeat,
        "-n",
        "3",
    )
    assert (code, stderr) == (0, "")
    assert lines == expected


def test_after_shows_fires_strictly_after_an_instant_read_as_utc_without_an_offset() -> None:
    base = ["--start", "2026-01-01T09:00", "--tz", "UTC", "--repeat", "daily", "-n", "2"]
    _, naive, _ = preview(*base, "--after", "2026-02-01T09:00")
    _, offset, _ = preview(*base, "--after", "2026-02-01T10:00+01:00")
    assert naive == offset == ["2026-02-02T09:00:00Z", "2026-02-03T09:00:00Z"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--start", "tomorrow", "--tz", "UTC"], "--start"),
        (["--start", "2026-03-29T02:30", "--tz", "Europe/Pari"], "--tz"),
        (["--start", "2026-03-29T02:30", "--tz", "UTC", "--repeat", "yearly"], "--repeat"),
        (
            ["--start", "2026-03-29T02:30", "--tz", "UTC", "--repeat", "hourly", "--every", "0"],
            "--every",
        ),
        (["--start", "2026-03-29T02:30", "--tz", "UTC", "--repeat", "weekly"], "--days"),
        (
            ["--start", "2026-03-29T02:30", "--tz", "UTC", "--repeat", "monthly", "--day", "32"],
            "--day",
        ),
        (["--start", "2026-03-29T02:30", "--tz", "UTC", "--repeat", "cron", "0 6 * *"], "EXPR"),
        (["--start", "2026-03-29T02:30", "--tz", "UTC", "--after", "soon"], "--after"),
        (["--start", "2026-03-29T02:30", "--tz", "UTC", "-n", "0"], "-n"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_option(args: list[str], option: str) -> None:
    code, lines, stderr = preview(*args)
    assert code == 2
    assert lines == []
    assert stderr.startswith(f"Error: {option}: ")
    assert len(stderr.strip().splitlines()) == 1


def listed(demo: Demo, *args: str) -> dict[str, list[str]]:
    """`planport schedule list` as {configuration name: its columns}."""
    result = demo.run("schedule", "list", *args)
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split("\t") == [
        "SCHEDULE",
        "CONFIGURATION",
        "BLOCK",
        "REPEAT",
        "STATE",
        "NEXT FIRE",
    ]
    return {line.split("\t")[1]: line.split("\t") for line in lines}


def test_schedule_list_shows_each_schedule_in_words_with_its_next_fire(demo: Demo) -> None:
    found = listed(demo, "--as", DEMO_EMAIL)
    assert sorted(found) == [FOLDER, COPY]
    _, _, block, repeat, state, next_fire = found[FOLDER]
    assert (block, repeat, state) == ("Revenue", "Every weekday at 06:00 (UTC)", "enabled")
    assert next_fire.endswith("T06:00:00Z")
    assert found[COPY][3:5] == ["Every day at 06:30 (UTC)", "enabled"]
    # A configuration's schedules, acting as its owner by default.
    assert sorted(listed(demo, "--configuration", demo.configuration_id(COPY))) == [COPY]


def test_schedule_disable_stops_fires_and_enable_plans_them_again(demo: Demo) -> None:
    schedule_id = listed(demo, "--as", DEMO_EMAIL)[FOLDER][0]
    off = demo.run("schedule", "disable", schedule_id, "--as", DEMO_EMAIL)
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == f"Schedule {schedule_id} of {FOLDER!r}: disabled"
    assert listed(demo, "--as", DEMO_EMAIL)[FOLDER][4:] == ["disabled", "—"]
    on = demo.run("schedule", "enable", schedule_id, "--as", DEMO_EMAIL)
    assert on.returncode == 0, on.stderr
    assert on.stdout.startswith(f"Schedule {schedule_id} of {FOLDER!r}: enabled; next fire ")
    assert listed(demo, "--as", DEMO_EMAIL)[FOLDER][4] == "enabled"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["enable", "00000000-0000-0000-0000-000000000007", "--as", DEMO_EMAIL],
            "This schedule does not exist.",
        ),
        (["disable", "seven", "--as", DEMO_EMAIL], "'seven' is not a schedule ID"),
        (["disable", "00000000-0000-0000-0000-000000000007"], "Say which member acts: add --as"),
        (
            ["list", "--application", "00000000-0000-0000-0000-000000000007", "--as", DEMO_EMAIL],
            "does not exist",
        ),
        (["list"], "Say which member acts: add --as EMAIL."),
    ],
)
def test_schedule_commands_refuse_unknown_ids_with_one_line_and_exit_1(
    demo: Demo, args: list[str], message: str
) -> None:
    result = demo.run("schedule", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
