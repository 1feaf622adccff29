"""The scheduler at scale, on PostgreSQL: the figures issue 4 sets targets for.

    python -m benchmarks.scheduling [--schedules 100000] [--burst 1000] [--quick]

1. Tick cost with nothing due, over 10,000 and then 100,000 enabled schedules: the tick looks
   only at `next_fire_at <= now` (an index), so it must not grow with the schedules not due.
2. Fires per second: `--burst` schedules due at the same instant, fired by one tick.
3. Lateness: `--burst` schedules due at the same real minute, fired by the real scheduler loop
   and executed by 4 import threads in the same process. Lateness is the scheduler's: from the
   scheduled-for instant to the run committed and handed to the executor, p50/p99/max
   (target: p99 under 1 s). When the runs start depends on the executor's capacity: reported
   apart as start p50/p99 (run started − scheduled-for).

Schedules are inserted with bulk SQL (setup, not measured); each belongs to its own
configuration so that no fire waits behind another run of its configuration. Prints a table,
then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from planport.connectors import FolderSource, source_json
from planport.domain.enums import BlockKind
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import CODE, NAME, FieldMapping, Mapping, SourceColumn
from planport.execution.threads import ThreadExecutor
from planport.processes import build_scheduler
from planport.scheduling import Repeat, repeat_json
from planport.services import blocks
from planport.services.blocks import applications
from planport.services.scheduling import firing
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportRun, ImportSchedule

from ._support import bench_admin, database, postgres_available

FAR = datetime(2100, 1, 1, tzinfo=UTC)
LISTS = 20  # runs into one block serialise on its lock: spread the burst over several
CHUNK = 5000


def _mapping() -> str:
    return Mapping(
        fields=[
            FieldMapping(target=CODE, source=SourceColumn(column="Code")),
            FieldMapping(target=NAME, source=SourceColumn(column="Name")),
        ]
    ).model_dump_json()


def _add_schedules(
    db: Database, admin_id: uuid.UUID, app_id: uuid.UUID, lists: list[Any], start: int, count: int
) -> list[uuid.UUID]:
    """`count` enabled daily schedules, each on its own configuration, planned far ahead."""
    made: list[uuid.UUID] = []
    mapping, settings = _mapping(), FileSettings().model_dump_json()
    source = source_json(FolderSource(path="products.csv"))
    for offset in range(start, start + count, CHUNK):
        size = min(CHUNK, start + count - offset)
        configurations, schedule_rows = [], []
        for number in range(offset, offset + size):
            block = lists[number % len(lists)]
            configuration_id, schedule_id = uuid.uuid4(), uuid.uuid4()
            configurations.append(
                {
                    "id": configuration_id,
                    "application_id": app_id,
                    "block_id": block.id,
                    "block_name": block.name,
                    "name": f"Feed {number}",
                    "name_key": f"feed {number}",
                    "description": "",
                    "source": source,
                    "file_settings": settings,
                    "mapping": mapping,
                    "checked_version": block.definition_version,
                    "created_by": admin_id,
                    "consecutive_failures": 0,
                }
            )
            schedule_rows.append(
                {
                    "id": schedule_id,
                    "application_id": app_id,
                    "configuration_id": configuration_id,
                    "owner_id": admin_id,
                    "start_local": "2026-01-01T02:30",
                    "time_zone": "Europe/Paris",
                    "repeat": repeat_json(Repeat.daily()),
                    "enabled": True,
                    "grace_seconds": 3600,
                    "alerts_enabled": False,
                    "alert_recipients": "[]",
                    "next_fire_at": FAR,
                }
            )
            made.append(schedule_id)
        with db.write() as session:
            session.execute(insert(ImportConfiguration), configurations)
            session.execute(insert(ImportSchedule), schedule_rows)
    return made


def _idle_tick_ms(db: Database, ticks: int = 30) -> float:
    now = datetime.now(UTC)
    started = time.perf_counter()
    for _ in range(ticks):
        firing.fire_due(db, now)
        firing.next_due_at(db)
    return (time.perf_counter() - started) / ticks * 1000


def _plan(db: Database, ids: list[uuid.UUID], instant: datetime | None) -> None:
    """Make `ids` one-off schedules firing at `instant` (a whole minute, UTC), or idle."""
    values: dict[str, Any] = {"next_fire_at": FAR}
    if instant is not None:
        values = {
            "next_fire_at": instant,
            "start_local": instant.strftime("%Y-%m-%dT%H:%M"),
            "time_zone": "UTC",
            "repeat": repeat_json(Repeat.none()),
        }
    with db.write() as session:
        session.execute(update(ImportSchedule).where(ImportSchedule.id.in_(ids)).values(values))


def _fires_per_second(db: Database, ids: list[uuid.UUID]) -> float:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _plan(db, ids, now)
    started = time.perf_counter()
    report = firing.fire_due(db, now + timedelta(seconds=1))
    elapsed = time.perf_counter() - started
    assert report.fired == len(ids), report
    with db.write() as session:  # these runs are not for executing
        session.execute(update(ImportRun).values(status="cancelled"))
    return len(ids) / elapsed


class _Timed:
    """The executor, noting when each run was handed to it: the moment the scheduler's fire
    became a committed, startable run."""

    def __init__(self, inner: ThreadExecutor) -> None:
        self.inner = inner
        self.handed: dict[uuid.UUID, datetime] = {}

    def submit(self, run_id: uuid.UUID, *, not_before: datetime | None = None) -> None:
        # The first hand-over counts: the sweeper re-sends runs still queued a minute later.
        self.handed.setdefault(run_id, datetime.now(UTC))
        self.inner.submit(run_id, not_before=not_before)

    def start(self) -> None:
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()


def _lateness(db: Database, settings: Settings, ids: list[uuid.UUID]) -> dict[str, float]:
    """Fire `ids` at the next whole minute (schedules fire on minutes: "1,000 fires in one
    minute" arrive together) with the real loop, executed by the thread executor."""
    now = datetime.now(UTC)
    due = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (due - now).total_seconds() < 10:
        due += timedelta(minutes=1)
    _plan(db, ids, due)
    executor = _Timed(ThreadExecutor(db, settings, threads=4, sweeping=False))
    scheduler = build_scheduler(settings, db, executor)
    stop = threading.Event()
    loop = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    executor.start()
    loop.start()
    rows = _wait_started(db, ids, due + timedelta(seconds=240))
    stop.set()
    scheduler.wake()
    loop.join(5)
    executor.stop()
    # A run a worker's backstop poll claimed before the scheduler handed it over has no
    # hand-over time: its lateness is when it started (counted apart, so none is hidden).
    unhanded = [r for r in rows if r.id not in executor.handed]
    fired = [
        (
            (executor.handed.get(r.id) or r.started_at or r.scheduled_for) - r.scheduled_for
        ).total_seconds()
        for r in rows
    ]
    started = [(r.started_at - r.scheduled_for).total_seconds() for r in rows if r.started_at]
    return {
        # Runs that failed (and their retries) measure no firing: any at all is a broken bench.
        "lateness_failed_runs": sum(r.status == "failed" for r in rows),
        "lateness_unhanded_runs": len(unhanded),
        "lateness_p50_s": _percentile(fired, 50),
        "lateness_p99_s": _percentile(fired, 99),
        "lateness_max_s": max(fired),
        "start_p50_s": _percentile(started, 50),
        "start_p99_s": _percentile(started, 99),
        "lateness_runs": len(fired),
    }


def _wait_started(db: Database, ids: list[uuid.UUID], deadline: datetime) -> list[Any]:
    """The burst's runs once all started (or at the deadline)."""
    while True:
        with db.read() as session:
            rows = session.execute(
                select(
                    ImportRun.id, ImportRun.scheduled_for, ImportRun.started_at, ImportRun.status
                ).where(ImportRun.schedule_id.in_(ids), ImportRun.status != "cancelled")
            ).all()
        begun = [r for r in rows if r.started_at is not None]
        if (rows and len(begun) == len(ids)) or datetime.now(UTC) > deadline:
            return list(rows)
        time.sleep(0.5)


def _percentile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def run(schedules: int, burst: int, *, lateness: bool = True) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder, database("postgresql", Path(folder)) as db:
        root = Path(folder) / "imports"
        settings = Settings(data_dir=Path(folder), database_url=db.url, import_root=root)
        admin = bench_admin(db)
        app = applications.create_application(db, admin, "Scheduling benchmark")
        # Folder sources resolve under the application's own folder, not the root: a file
        # beside the root made every run fail and the retries counted as late runs.
        own = applications.import_folder_path(db, app.id, root)
        own.mkdir(parents=True)
        (own / "products.csv").write_text("Code,Name\nP1,Pen\nP2,Paper\n")
        lists = [
            blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, f"Products {n}")
            for n in range(LISTS)
        ]
        small = min(10_000, schedules)
        ids = _add_schedules(db, admin.id, app.id, lists, 0, small)
        figures["idle_tick_ms_10k"] = _idle_tick_ms(db)
        ids += _add_schedules(db, admin.id, app.id, lists, small, schedules - small)
        figures["idle_tick_ms_100k"] = _idle_tick_ms(db)
        figures["schedules"] = schedules
        figures["fires_per_s"] = _fires_per_second(db, ids[:burst])
        _plan(db, ids[:burst], None)
        if lateness:
            figures |= _lateness(db, settings, ids[burst : 2 * burst])
        figures["burst"] = burst
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="2,000 schedules, a burst of 50")
    parser.add_argument(
        "--no-lateness", action="store_true", help="skip the real-time minute (tests)"
    )
    args = parser.parse_args(argv)
    if not postgres_available():
        print(json.dumps({"skipped": "no PostgreSQL on 127.0.0.1:5432"}))
        return
    schedules, burst = (2_000, 50) if args.quick else (args.schedules, args.burst)
    figures = run(schedules, burst, lateness=not args.no_lateness)
    rows = [
        ("tick cost, nothing due, 10k schedules", f"{figures['idle_tick_ms_10k']:.2f} ms"),
        (
            f"tick cost, nothing due, {schedules:,} schedules",
            f"{figures['idle_tick_ms_100k']:.2f} ms",
        ),
        (f"fires/s ({burst:,} due at once)", f"{figures['fires_per_s']:,.0f}"),
    ]
    if "lateness_p99_s" in figures:
        rows += [
            (
                f"lateness p50, fired ({burst:,} fires in one minute)",
                f"{figures['lateness_p50_s']:.3f} s",
            ),
            ("lateness p99, fired (target < 1 s)", f"{figures['lateness_p99_s']:.3f} s"),
            ("lateness max, fired", f"{figures['lateness_max_s']:.3f} s"),
            ("start p50 (4 import threads)", f"{figures['start_p50_s']:.3f} s"),
            ("start p99 (4 import threads)", f"{figures['start_p99_s']:.3f} s"),
        ]
    width = max(len(label) for label, _ in rows)
    print("Scheduler on PostgreSQL")
    for label, value in rows:
        print(f"  {label:<{width}}  {value:>12}")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
