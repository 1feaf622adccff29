"""The benchmarks still run (on tiny data): `make bench` must not rot between sessions."""

from __future__ import annotations

import json

import pytest

from benchmarks import reads


def test_the_reads_benchmark_runs_and_ends_with_one_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reads.main(["--cells", "3000"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    assert figures["sqlite_cells"] == 3000
    assert figures["sqlite_export_rows_s"] > 0


def test_the_imports_benchmark_runs_and_ends_with_one_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks import imports

    imports.main(["--rows", "2000", "--transactions", "500", "--pandas-rows", "0", "--no-4x"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["sqlite_metric_new_rows_s"] > 0
    assert figures["pg_metric_update_rows_s"] > 0
    assert figures["pg_copy_rows_s"] > 0


def test_the_scheduling_benchmark_runs_and_ends_with_one_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks import scheduling

    scheduling.main(["--schedules", "300", "--burst", "20", "--no-lateness"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["schedules"] == 300
    assert figures["fires_per_s"] > 0
    assert figures["idle_tick_ms_100k"] > 0


def test_the_responsiveness_benchmark_serves_pages_during_an_import_and_ends_with_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks import responsiveness

    responsiveness.main(["--rows", "20000"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["sqlite_import_status_ok"] == 1.0
    assert figures["sqlite_failed_requests_during_import"] == 0
    assert "sqlite_page_p99_during_import_ms" in figures


def test_the_api_benchmark_pushes_polls_and_authenticates_and_ends_with_one_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks import api

    sizes = ["--push-mb", "2", "--clients", "5", "--seconds", "1", "--auth-calls", "20"]
    api.main([*sizes, "--poll-clients", "5", "--poll-interval", "0.2"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["sqlite_push_mb"] == 2.0
    assert figures["sqlite_push_mb_s"] > 0
    assert figures["sqlite_push_server_rss_growth_mb"] >= 0
    assert figures["pg_status_requests"] > 0
    assert figures["pg_status_failed"] == 0
    assert figures["pg_status_p99_ms"] >= figures["pg_status_p50_ms"] > 0
    assert figures["pg_status_server_cpu_ms"] > 0
    assert figures["pg_poll_requests"] > 0
    assert figures["pg_poll_failed"] == 0
    assert figures["pg_poll_p99_ms"] >= figures["pg_poll_p50_ms"] > 0
    assert figures["sqlite_authenticate_us"] > 0
    assert figures["pg_authenticate_us"] > 0
