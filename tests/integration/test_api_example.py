"""`examples/push_and_poll.py`, the client an integration engineer writes from Pigment's
document, run as they run it against a live `planport serve` (see test_import_api_server)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from planport.services.workspace import members
from planport.store.db import Database
from tests.integration.builders import grid
from tests.integration.test_import_api_server import Live, finished_report
from tests.integration.test_import_api_server import live as live  # the fixture

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "push_and_poll.py"
MAY = [  # cells of a month the demo has no data for: each one is inserted
    ("2027-05", country, product, f"{1000 + n}.25")
    for n, (country, product) in enumerate(itertools.product(("FR", "DE", "JP"), ("P001", "P002")))
]


def push_and_poll(
    live: Live, configuration_id: str, file: Path
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PLANPORT_", "PIGMENT_"))
    }
    base_url = f"http://127.0.0.1:{live.port}"
    return subprocess.run(
        [sys.executable, str(EXAMPLE), base_url, configuration_id, str(file)],
        capture_output=True,
        text=True,
        env=environment | {"PIGMENT_API_KEY": live.key},
        timeout=120,
        check=False,
    )


def pushed_import_id(result: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"Pushed .*: ([0-9a-f-]{36})$", result.stderr, re.MULTILINE)
    assert found, result.stderr
    return found.group(1)


def test_the_example_pushes_a_file_waits_and_prints_what_the_run_really_did(
    live: Live, tmp_path: Path
) -> None:
    file = tmp_path / "revenue_2027-05.csv"
    rows = [",".join(row) for row in [("Month", "Country", "Product", "Revenue"), *MAY]]
    file.write_text("\n".join([*rows, "2027-05,IT,P001,not a number"]) + "\n")

    result = push_and_poll(live, live.configuration_id, file)

    assert result.returncode == 0, result.stderr
    report = finished_report(live, pushed_import_id(result))
    summary = report["detailedReport"]["summary"]
    assert (summary["insertedCount"], summary["skippedCount"]) == (len(MAY), 1)
    assert f"inserted {summary['insertedCount']:>12,}" in result.stdout
    assert "ParsingError in column 'Revenue'" in result.stdout
    assert "'not a number'" in result.stdout
    assert live.key not in result.stdout + result.stderr
    block_id = uuid.UUID(report["detailedReport"]["impactedBlocks"][0]["blockId"])
    landed = _cells(live, block_id, month="2027-05")
    assert landed == {(country, product) for _, country, product, _ in MAY}


def test_an_import_that_fails_exits_1_with_the_reason(live: Live, tmp_path: Path) -> None:
    # A quote never closed deep in a large file: the push's check reads the file's start and
    # end (a small file like this is refused at once, 400), the run finds it reading on.
    file = tmp_path / "broken.csv"
    rows = "2027-06,FR,P001,1\n" * 20_000
    file.write_text(f'Month,Country,Product,Revenue\n{rows}2027-06,"FR,P002,2\n2027-06,FR,P003,3\n')

    result = push_and_poll(live, live.configuration_id, file)

    assert result.returncode == 1, result.stderr
    assert ": Failed" in result.stdout
    assert "error: FileUnreadable" in result.stdout


def test_an_unknown_configuration_exits_2_with_the_servers_message(
    live: Live, tmp_path: Path
) -> None:
    file = tmp_path / "revenue.csv"
    file.write_text("Month,Country,Product,Revenue\n2027-07,FR,P001,1\n")

    result = push_and_poll(live, str(uuid.uuid4()), file)

    assert result.returncode == 2
    assert "404 Import configuration with the specified ID was not found" in result.stderr
    assert result.stdout == ""


def _cells(live: Live, block_id: uuid.UUID, *, month: str) -> set[tuple[str, str]]:
    """The (country, product) cells of the month in the block, read from the server's database."""
    db = Database(f"sqlite:///{live.data_dir / 'planport.db'}")
    try:
        actor = members.actor_for(db, "demo@planport.local")
        return {
            (row["Country"], row["Product"])
            for row in grid(db, actor, block_id)
            if row["Month"] == month
        }
    finally:
        db.dispose()
