"""`planport schedule preview`: once as a separate process, as a user runs it, then through
Typer's CliRunner (in-process, the same app) for each repeat kind and each bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from planport.cli import app
from tests.integration.test_cli import planport


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
