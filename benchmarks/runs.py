"""How fast a run reaches `running`: submitted in-process (the wizard's "Import"), and queued by
another process (found by the thread executor's backstop poll).

The latency is the row's own `started_at - created_at` (queued → claimed), so the benchmark's
observation adds nothing to it. Usage: `python -m benchmarks.runs [--runs 20]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from planport.domain.enums import BlockKind
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, FieldMapping, Mapping, SourceColumn
from planport.domain.members import Actor
from planport.execution.threads import ThreadExecutor
from planport.services import blocks
from planport.services.blocks import applications
from planport.services.imports import runs
from planport.settings import Settings
from planport.store.db import Database

from ._support import bench_admin, database, postgres_available


def _latencies(
    db: Database, admin: Actor, folder: Path, count: int, *, submit: bool
) -> list[float]:
    """Queue→running latencies of `count` runs, submitted in-process or left to the poll."""
    application = applications.create_application(db, admin, f"Runs {uuid.uuid4().hex[:6]}")
    block = blocks.create_list(db, admin, application.id, BlockKind.DIMENSION_LIST, "Country")
    path = folder / "countries.csv"
    path.write_text("Code\nFR\nDE\n")
    chosen = Mapping(fields=[FieldMapping(target=CODE, source=SourceColumn(column="Code"))])
    settings = Settings(data_dir=folder, database_url=db.url)
    executor = ThreadExecutor(db, settings, threads=2)
    executor.start()
    found = []
    try:
        for _ in range(count):
            run_id = runs.start_import(db, admin, block.id, path, FileSettings(), chosen)
            if submit:
                executor.submit(run_id)
            found.append(_wait_finished(db, admin, run_id))
    finally:
        executor.stop()
    return found


def _wait_finished(db: Database, admin: Actor, run_id: uuid.UUID) -> float:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = runs.get_run(db, admin, run_id)
        if view.finished and view.started_at is not None:
            return (view.started_at - view.created_at).total_seconds()
        time.sleep(0.02)
    raise RuntimeError(f"run {run_id} did not finish")


def run(kind: str, count: int, folder: Path) -> dict[str, float]:
    results: dict[str, float] = {}
    with database(kind, folder) as db:
        admin = bench_admin(db)
        submitted = _latencies(db, admin, folder, count, submit=True)
        polled = _latencies(db, admin, folder, max(count // 4, 2), submit=False)
    results[f"{kind}_submit_to_running_p50_ms"] = round(statistics.median(submitted) * 1000, 1)
    results[f"{kind}_submit_to_running_max_ms"] = round(max(submitted) * 1000, 1)
    results[f"{kind}_polled_to_running_max_ms"] = round(max(polled) * 1000, 1)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("sqlite", "postgresql"):
            if kind == "postgresql" and not postgres_available():
                print("PostgreSQL is not answering on 127.0.0.1:5432; skipping it")
                continue
            results.update(run(kind, args.runs, Path(folder)))
    print(f"{'figure':<40} {'value':>14}")
    for name, value in results.items():
        print(f"{name:<40} {value:>14,}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
