"""Import throughput: the numbers issue 3 sets targets for.

Scenarios (each in a fresh process, so its peak memory is its own):
  metric_new       a flat Metric file (Month × Country × Product + value) into an empty metric
  metric_update    the same file again with 10 % of the values changed (updates existing cells)
  transactions     a Transaction List file with 8 typed properties
  metric_new_4x    a file 4× larger, to show memory stays flat in file size
and two baselines on the same files: PostgreSQL COPY of the raw file into an unindexed table
(run just before and just after the PostgreSQL metric scenario; shares of it use the mean),
and pandas.read_csv + DataFrame.to_sql (a typical hand-written loader, on a 500,000-row slice).

    python -m benchmarks.imports [--rows 5000000] [--transactions 1000000] [--quick]

Prints one table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._support import POSTGRES_URL, bench_admin, database, peak_rss_mb, postgres_available

MONTHS, COUNTRIES, PRODUCTS = 84, 200, 5000


def write_metric_file(path: Path, rows: int, *, seed: int = 1, changed: float = 0.0) -> None:
    """Distinct (month, country, product) cells in a fixed order; `changed` of the values differ."""
    rng = random.Random(seed)
    with path.open("w") as handle:
        handle.write("Month,Country,Product,Revenue\n")
        written = 0
        for month in range(MONTHS):
            for country in range(COUNTRIES):
                lines = []
                for product in range(PRODUCTS):
                    if written == rows:
                        break
                    value = (month * 7 + country * 3 + product) % 100000 / 100
                    if changed and rng.random() < changed:
                        value += 1
                    lines.append(f"M{month:03d},C{country:04d},P{product:05d},{value:.2f}\n")
                    written += 1
                handle.write("".join(lines))
                if written == rows:
                    return


def write_transactions_file(path: Path, rows: int) -> None:
    with path.open("w") as handle:
        handle.write("ID,Employee,Country,Start date,Salary,Hours,Full time,Note\n")
        chunk = []
        for i in range(rows):
            chunk.append(
                f"T{i:08d},Person {i % 9973},C{i % COUNTRIES:04d},"
                f"2026-{1 + i % 12:02d}-{1 + i % 28:02d},"
                f"{40000 + (i % 90000)}.50,{i % 60},{'true' if i % 3 else 'false'},note {i % 17}\n"
            )
            if len(chunk) == 50000:
                handle.write("".join(chunk))
                chunk = []
        handle.write("".join(chunk))


# ---------------------------------------------------------------- scenarios (child process)


def _setup_metric(db: Any, rows: int) -> tuple[Any, Any, Any]:
    from planport.domain.enums import BlockKind, ValueType
    from planport.services import blocks
    from planport.services.blocks import applications, items

    actor = bench_admin(db)
    app = applications.create_application(db, actor, "Bench")
    ids = {}
    for name, prefix, count in (
        ("Month", "M", MONTHS),
        ("Country", "C", COUNTRIES),
        ("Product", "P", PRODUCTS),
    ):
        block = blocks.create_list(db, actor, app.id, BlockKind.DIMENSION_LIST, name)
        width = {"M": 3, "C": 4, "P": 5}[prefix]
        codes = [{"Code": f"{prefix}{i:0{width}d}"} for i in range(count)]
        items.write_items(db, actor, block.id, codes)
        ids[name] = block.id
    metric = blocks.create_metric(
        db,
        actor,
        app.id,
        "Revenue",
        ValueType.NUMBER,
        [ids["Month"], ids["Country"], ids["Product"]],
    )
    return actor, metric, ids


def _metric_mapping(metric: Any) -> Any:
    from planport.domain.mapping import FieldMapping, Mapping, SourceColumn

    fields = [
        FieldMapping(target=str(d.list_id), source=SourceColumn(column=d.list_name))
        for d in metric.dimensions
    ]
    fields.append(FieldMapping(target="value", source=SourceColumn(column="Revenue")))
    return Mapping(fields=fields)


def scenario_metric(kind: str, file: Path, update_file: Path | None) -> dict[str, float]:
    from planport.domain.file_settings import FileSettings
    from planport.services.imports import runs

    with database(kind, Path(tempfile.mkdtemp())) as db:
        actor, metric, _ = _setup_metric(db, 0)
        mapping = _metric_mapping(metric)
        started = time.perf_counter()
        run = runs.run_import(db, actor, metric.id, file, FileSettings(separator=","), mapping)
        new_s = time.perf_counter() - started
        assert run.status.value == "completed", run.errors
        result = {"rows": run.rows_read, "new_s": new_s, "new_inserted": run.inserted}
        if update_file is not None:
            started = time.perf_counter()
            again = runs.run_import(
                db, actor, metric.id, update_file, FileSettings(separator=","), mapping
            )
            result["update_s"] = time.perf_counter() - started
            result["update_updated"] = again.updated
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def scenario_transactions(kind: str, file: Path) -> dict[str, float]:
    from planport.domain.enums import BlockKind, PropertyType
    from planport.domain.file_settings import FileSettings
    from planport.domain.mapping import FieldMapping, Mapping, SourceColumn
    from planport.services import blocks
    from planport.services.blocks import applications, items
    from planport.services.imports import runs

    with database(kind, Path(tempfile.mkdtemp())) as db:
        actor = bench_admin(db)
        app = applications.create_application(db, actor, "Bench")
        country = blocks.create_list(db, actor, app.id, BlockKind.DIMENSION_LIST, "Country")
        items.write_items(db, actor, country.id, [{"Code": f"C{i:04d}"} for i in range(COUNTRIES)])
        block = blocks.create_list(db, actor, app.id, BlockKind.TRANSACTION_LIST, "Transactions")
        specs = [
            ("ID", PropertyType.TEXT),
            ("Employee", PropertyType.TEXT),
            ("Country", PropertyType.DIMENSION),
            ("Start date", PropertyType.DATE),
            ("Salary", PropertyType.NUMBER),
            ("Hours", PropertyType.INTEGER),
            ("Full time", PropertyType.BOOLEAN),
            ("Note", PropertyType.TEXT),
        ]
        for name, kind_ in specs:
            block = blocks.add_property(
                db,
                actor,
                block.id,
                name,
                kind_,
                referenced_list_id=country.id if kind_ is PropertyType.DIMENSION else None,
            )
        mapping = Mapping(
            fields=[
                FieldMapping(target=str(p.id), source=SourceColumn(column=p.name))
                for p in block.properties
            ]
        )
        started = time.perf_counter()
        run = runs.run_import(db, actor, block.id, file, FileSettings(separator=","), mapping)
        seconds = time.perf_counter() - started
        assert run.status.value == "completed", run.errors
    return {"rows": run.rows_read, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def baseline_copy(file: Path) -> dict[str, float]:
    import psycopg

    url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE raw_copy"
            " (month text, country text, product text, revenue double precision)"
        )
        started = time.perf_counter()
        with (
            file.open("rb") as handle,
            cursor.copy("COPY raw_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM raw_copy")
        rows = cursor.fetchone()[0]  # type: ignore[index]
    return {"rows": rows, "seconds": seconds}


def baseline_pandas(file: Path, rows: int) -> dict[str, float]:
    import pandas
    from sqlalchemy import create_engine

    engine = create_engine(POSTGRES_URL)
    started = time.perf_counter()
    frame = pandas.read_csv(file, nrows=rows)
    frame.to_sql("bench_pandas", engine, if_exists="replace", index=False)
    seconds = time.perf_counter() - started
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE bench_pandas")
    engine.dispose()
    return {"rows": len(frame), "seconds": seconds}


# ---------------------------------------------------------------- driver


def _child(args: list[str]) -> dict[str, float]:
    """Run one scenario in a fresh interpreter; its last stdout line is a JSON result."""
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.imports", "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PLANPORT_LOG_LEVEL": "warning"},
    )
    if output.returncode != 0:
        raise RuntimeError(f"scenario {args} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def run_child(argv: list[str]) -> None:
    name, *rest = argv
    if name == "metric":
        kind, file, update = rest
        result = scenario_metric(kind, Path(file), Path(update) if update != "-" else None)
    elif name == "transactions":
        result = scenario_transactions(rest[0], Path(rest[1]))
    elif name == "copy":
        result = baseline_copy(Path(rest[0]))
    else:
        result = baseline_pandas(Path(rest[0]), int(rest[1]))
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        run_child(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--pandas-rows", type=int, default=500_000)
    parser.add_argument("--no-4x", action="store_true", help="skip the 4× memory run")
    args = parser.parse_args(argv)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        metric, update = base / "metric.csv", base / "metric_update.csv"
        write_metric_file(metric, args.rows)
        write_metric_file(update, args.rows, seed=2, changed=0.10)
        transactions = base / "transactions.csv"
        write_transactions_file(transactions, args.transactions)
        has_pg = postgres_available()
        sqlite = _child(["metric", "sqlite", str(metric), "-"])
        figures["sqlite_metric_new_rows_s"] = round(sqlite["rows"] / sqlite["new_s"])
        figures["metric_new_peak_rss_mb"] = round(sqlite["peak_rss_mb"])
        if has_pg:
            # The COPY baseline runs just before and just after the metric scenario and the
            # shares use their mean: on a shared machine the load drifts within minutes.
            before = _child(["copy", str(metric)])
            pg = _child(["metric", "postgresql", str(metric), str(update)])
            after = _child(["copy", str(metric)])
            figures["pg_metric_new_rows_s"] = round(pg["rows"] / pg["new_s"])
            figures["pg_metric_update_rows_s"] = round(pg["rows"] / pg["update_s"])
            figures["pg_metric_peak_rss_mb"] = round(pg["peak_rss_mb"])
            rates = [run["rows"] / run["seconds"] for run in (before, after)]
            figures["pg_copy_before_rows_s"], figures["pg_copy_after_rows_s"] = map(round, rates)
            figures["pg_copy_rows_s"] = round(sum(rates) / 2)
            if args.pandas_rows:  # 0 skips the baseline (pandas is in the bench extra only)
                pandas_run = _child(["pandas", str(metric), str(args.pandas_rows)])
                figures["pandas_to_sql_rows_s"] = round(pandas_run["rows"] / pandas_run["seconds"])
            tx = _child(["transactions", "postgresql", str(transactions)])
            figures["pg_transactions_rows_s"] = round(tx["rows"] / tx["seconds"])
        tx_sqlite = _child(["transactions", "sqlite", str(transactions)])
        figures["sqlite_transactions_rows_s"] = round(tx_sqlite["rows"] / tx_sqlite["seconds"])
        if not args.no_4x:
            big = base / "metric_4x.csv"
            write_metric_file(big, args.rows * 4)
            metric.unlink()
            four = _child(["metric", "postgresql" if has_pg else "sqlite", str(big), "-"])
            figures["metric_new_4x_peak_rss_mb"] = round(four["peak_rss_mb"])
            figures["metric_new_4x_rows_s"] = round(four["rows"] / four["new_s"])
    _add_ratios(figures)
    print(f"{'figure':<40} {'value':>14}")
    for name, value in figures.items():
        print(f"{name:<40} {value:>14,}")
    print(json.dumps(figures))


def _add_ratios(figures: dict[str, float]) -> None:
    """The shares and multiples the targets are stated in."""
    if "pg_copy_rows_s" in figures:
        for scenario in ("new", "update"):
            rate = figures[f"pg_metric_{scenario}_rows_s"]
            figures[f"pg_metric_{scenario}_share_of_copy_pct"] = round(
                100 * rate / figures["pg_copy_rows_s"], 1
            )
            if figures.get("pandas_to_sql_rows_s"):
                figures[f"pg_metric_{scenario}_vs_pandas_x"] = round(
                    rate / figures["pandas_to_sql_rows_s"], 1
                )


if __name__ == "__main__":
    main()
