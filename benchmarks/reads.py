"""Reading block data: how fast the grid answers and how fast a block exports as CSV.

Builds a Revenue metric (Month × Country × Product) of CELLS cells on SQLite and on PostgreSQL
(when it answers), then measures: the first grid page, a deep page, a filtered page, and a
full CSV export (rows/s and peak memory, which must stay flat: the export streams).

    python -m benchmarks.reads [--cells N]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._support import bench_admin, database, peak_rss_mb, postgres_available
from planport.domain.enums import BlockKind, ValueType
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import FieldMapping, Mapping, SourceColumn
from planport.services import blocks
from planport.services.blocks import applications, block_data, items
from planport.services.imports import runs
from planport.store.db import Database

BATCH = 5000


def build_metric(db: Database, cells: int) -> tuple[Any, Any, str]:
    """A metric of about `cells` cells; returns (actor, metric id, the Country filter key)."""
    actor = bench_admin(db)
    app = applications.create_application(db, actor, "Bench")
    months, countries = 60, 50
    products = max(1, cells // (months * countries))
    lists = {}
    for name, count in (("Month", months), ("Country", countries), ("Product", products)):
        block = blocks.create_list(db, actor, app.id, BlockKind.DIMENSION_LIST, name)
        rows = [{"Code": f"{name[0]}{i:05d}"} for i in range(count)]
        for start in range(0, count, BATCH):
            items.write_items(db, actor, block.id, rows[start : start + BATCH])
        lists[name] = block.id
    metric = blocks.create_metric(
        db,
        actor,
        app.id,
        "Revenue",
        ValueType.NUMBER,
        [lists["Month"], lists["Country"], lists["Product"]],
    )
    # Cells arrive through the import engine (bulk), as they would in production.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cells.csv"
        with path.open("w") as handle:
            handle.write("Month,Country,Product,Revenue\n")
            for m in range(months):
                handle.write(
                    "".join(
                        f"M{m:05d},C{c:05d},P{p:05d},{m + c + p}\n"
                        for c in range(countries)
                        for p in range(products)
                    )
                )
        mapping = Mapping(
            fields=[
                *(FieldMapping(target=str(lists[n]), source=SourceColumn(column=n)) for n in lists),
                FieldMapping(target="value", source=SourceColumn(column="Revenue")),
            ]
        )
        run = runs.run_import(db, actor, metric.id, path, FileSettings(separator=","), mapping)
        assert run.status.value == "completed", run.errors
    return actor, metric.id, str(lists["Country"])


def timed(action: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of `repeat` runs, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def run(kind: str, cells: int, folder: Path) -> dict[str, float]:
    with database(kind, folder) as db:
        started = time.perf_counter()
        actor, metric_id, country_key = build_metric(db, cells)
        build_s = time.perf_counter() - started
        total = block_data.read_page(db, actor, metric_id).total
        first = timed(lambda: block_data.read_page(db, actor, metric_id, page=1))
        deep = timed(lambda: block_data.read_page(db, actor, metric_id, page=total // 100))
        filtered = timed(
            lambda: block_data.read_page(db, actor, metric_id, filters={country_key: ["C00007"]})
        )
        rss_before = peak_rss_mb()
        started = time.perf_counter()
        _, chunks = block_data.export_csv(db, actor, metric_id)
        size = sum(len(chunk) for chunk in chunks)
        export_s = time.perf_counter() - started
    return {
        f"{kind}_cells": total,
        f"{kind}_build_rows_s": round(total / build_s),
        f"{kind}_grid_first_page_ms": round(first, 1),
        f"{kind}_grid_deep_page_ms": round(deep, 1),
        f"{kind}_grid_filtered_page_ms": round(filtered, 1),
        f"{kind}_export_rows_s": round(total / export_s),
        f"{kind}_export_mb": round(size / 1e6, 1),
        f"{kind}_export_peak_rss_growth_mb": round(peak_rss_mb() - rss_before, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=300_000)
    args = parser.parse_args(argv)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("sqlite", "postgresql"):
            if kind == "postgresql" and not postgres_available():
                print("PostgreSQL is not answering on 127.0.0.1:5432; skipping it")
                continue
            results.update(run(kind, args.cells, Path(folder)))
    print(f"{'figure':<40} {'value':>14}")
    for name, value in results.items():
        print(f"{name:<40} {value:>14,}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
