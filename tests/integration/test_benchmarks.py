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
