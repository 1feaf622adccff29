"""Several scheduler processes against one PostgreSQL database fire every schedule exactly
once: no fire missing, none twice, never two runs for one fire.

Three real processes walk the same simulated 36 hours (across Europe's spring-forward night)
with jittered steps, so their ticks interleave differently on every run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from planport.domain.members import Actor
from planport.scheduling import Repeat, Weekday, fires
from planport.services import schedules
from planport.services.applications import ApplicationView
from planport.store.db import Database
from planport.store.models import ImportRun, ScheduleFire
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


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_three_scheduler_processes_fire_500_schedules_exactly_once(
    db: Database, db_url: str, admin: Actor, app: ApplicationView
) -> None:
    made = _make_schedules(db, admin, app)
    env = {**os.environ, "PLANPORT_LOG_LEVEL": "warning"}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.scheduler_process",
                db_url,
                PERIOD_START.isoformat(),
                PERIOD_END.isoformat(),
                "600",
                str(seed),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(3)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], [err for _, err in outputs]
    fired_by_process = [int(out) for out, _ in outputs]

    with db.read() as session:
        recorded = session.execute(
            select(ScheduleFire.schedule_id, ScheduleFire.scheduled_for, ScheduleFire.outcome)
        ).all()
        runs_per_fire = Counter(
            session.execute(
                select(ImportRun.schedule_id, ImportRun.scheduled_for).where(
                    ImportRun.schedule_id.is_not(None)
                )
            ).all()
        )
        run_count = session.scalar(select(func.count()).select_from(ImportRun))
    by_schedule: dict[object, list[datetime]] = {}
    for schedule_id, instant, _outcome in recorded:
        by_schedule.setdefault(schedule_id, []).append(instant)
    expected_total = 0
    for schedule in made:
        expected = _expected(schedule)
        expected_total += len(expected)
        assert sorted(by_schedule.get(schedule.id, [])) == expected, schedule.description
    assert {outcome for _, _, outcome in recorded} <= {"run", "skipped"}  # steps < grace
    ran = [(s, i) for s, i, outcome in recorded if outcome == "run"]
    assert all(runs_per_fire[fire] == 1 for fire in ran)
    assert sum(runs_per_fire.values()) == len(ran) == run_count
    assert sum(fired_by_process) == len(ran)
    assert expected_total > SCHEDULES  # the period really holds several fires per schedule
