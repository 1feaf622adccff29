"""Several scheduler processes and Celery workers against one PostgreSQL database fire every
schedule exactly once: no fire missing, none twice, never two runs for one fire, and every run
completed once.

Three real scheduler processes walk the same simulated 36 hours (across Europe's
spring-forward night) with jittered steps, so their ticks interleave differently on every run;
two real `planport worker` processes (Celery over Redis) execute the runs they queue.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from planport.domain.enums import AccountType
from planport.domain.imports import RunStatus
from planport.domain.members import Actor
from planport.scheduling import Repeat, Weekday, fires
from planport.services.blocks import applications
from planport.services.blocks.applications import ApplicationView
from planport.services.scheduling import schedules
from planport.services.workspace import members
from planport.store.db import Database
from planport.store.models import ImportRun, ScheduleFire
from tests.integration.celery_cluster import Cluster
from tests.integration.import_builders import write_csv
from tests.integration.schedule_builders import Clock, at, daily, folder_configuration, product_list

SCHEDULES = 500
PERIOD_START = at("2026-03-28T00:00")
PERIOD_END = at("2026-03-29T12:00")
ZONES = ("Europe/Paris", "Europe/London", "America/New_York", "Asia/Kolkata", "UTC")
REPEATS = (
    Repeat.daily(),
    Repeat.hourly(6),
    Repeat.weekdays(),
    Repeat.weekly({Weekday.SAT, Weekday.SUN}),
    Repeat.monthly(28),
    Repeat.from_cron("15 */4 * * *"),
    Repeat.none(),
)


def _make_schedules(
    db: Database, admin: Actor, app: ApplicationView
) -> list[schedules.ScheduleView]:
    clock = Clock(PERIOD_START - timedelta(minutes=1))
    made = []
    lists = [product_list(db, admin, app, f"List {n}") for n in range(5)]
    for number in range(SCHEDULES // 4):
        configuration = folder_configuration(db, admin, lists[number % 5], f"Feed {number}")
        for slot in range(4):
            position = number * 4 + slot
            start = datetime(2026, 3, 28, position % 24, (position * 7) % 60)
            given = replace(
                daily(start.isoformat(timespec="minutes"), ZONES[position % len(ZONES)]),
                repeat=REPEATS[position % len(REPEATS)],
            )
            made.append(schedules.create_schedule(db, admin, configuration.id, given, clock=clock))
    return made


def _expected(schedule: schedules.ScheduleView) -> list[datetime]:
    upcoming = fires(schedule.times, 500, after=PERIOD_START - timedelta(minutes=1))
    return [f for f in upcoming if f <= PERIOD_END]


@pytest.fixture
def admin(cluster: Cluster) -> Actor:
    members.create_member(
        cluster.db, "admin@example.com", "correct horse battery", account_type=AccountType.ADMIN
    )
    return members.actor_for(cluster.db, "admin@example.com")


def _scheduler(cluster: Cluster, pg_url: str, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.scheduler_process",
            pg_url,
            PERIOD_START.isoformat(),
            PERIOD_END.isoformat(),
            "600",
            str(seed),
        ],
        env=cluster.env | {"PLANPORT_LOG_LEVEL": "warning"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _all_finished(db: Database) -> bool:
    with db.read() as session:
        unfinished = session.scalar(
            select(func.count())
            .select_from(ImportRun)
            .where(ImportRun.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value]))
        )
    return unfinished == 0


def test_three_schedulers_and_two_workers_run_500_schedules_exactly_once(
    cluster: Cluster, pg_url: str, admin: Actor
) -> None:
    db = cluster.db
    app = applications.create_application(db, admin, "Budget")
    made = _make_schedules(db, admin, app)
    root = cluster.settings.effective_import_root
    root.mkdir(parents=True)
    write_csv(root / "products.csv", ["Code", "Name"], [["P1", "Pen"], ["P2", "Paper"]])
    cluster.start_worker()
    cluster.start_worker()
    cluster.wait_ready()

    processes = [_scheduler(cluster, pg_url, seed) for seed in range(3)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], [err for _, err in outputs]
    deadline = time.monotonic() + 240
    while not _all_finished(db):
        assert time.monotonic() < deadline, "runs still unfinished"
        time.sleep(0.5)

    with db.read() as session:
        recorded = session.execute(
            select(ScheduleFire.schedule_id, ScheduleFire.scheduled_for, ScheduleFire.outcome)
        ).all()
        first_attempts = Counter(
            session.execute(
                select(ImportRun.schedule_id, ImportRun.scheduled_for).where(ImportRun.attempt == 1)
            ).all()
        )
        completed = Counter(
            session.execute(
                select(ImportRun.schedule_id, ImportRun.scheduled_for).where(
                    ImportRun.status == RunStatus.COMPLETED.value
                )
            ).all()
        )
    by_schedule: dict[object, list[datetime]] = {}
    for schedule_id, instant, _outcome in recorded:
        by_schedule.setdefault(schedule_id, []).append(instant)
    for schedule in made:
        assert sorted(by_schedule.get(schedule.id, [])) == _expected(schedule), schedule.description
    assert {outcome for _, _, outcome in recorded} <= {"run", "skipped"}  # steps < grace
    ran = {(s, i) for s, i, outcome in recorded if outcome == "run"}
    assert set(first_attempts) == ran, "one run per fire that ran, none for the others"
    assert all(count == 1 for count in first_attempts.values()), "no fire ran twice"
    assert set(completed) == ran, "every run completed"
    assert all(count == 1 for count in completed.values()), "none completed twice"
    assert sum(int(out) for out, _ in outputs) == len(ran)
    assert len(ran) >= len(made) // 4  # every configuration ran at least once
