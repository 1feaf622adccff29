"""Real `planport worker` processes (Celery over the machine's Redis) on PostgreSQL: every run
completes exactly once, a repeated message runs nothing twice, and a worker killed in the
middle of an import leaves its block unchanged while the other worker completes the retry.

Each test has its own PostgreSQL schema, its own Redis database number and its own queue
name, and short heartbeat settings so that a lost worker is found in seconds.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from planport.domain.blocks import BlockDef
from planport.domain.enums import AccountType, BlockKind, PropertyType
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus
from planport.domain.mapping import Mapping
from planport.domain.members import Actor
from planport.execution.celery_app import CeleryExecutor
from planport.services import blocks
from planport.services.blocks import applications
from planport.services.imports import runs
from planport.services.workspace import members
from planport.store import block_tables
from planport.store.db import Database
from planport.store.models import ImportRun
from tests.integration.celery_cluster import Cluster
from tests.integration.import_builders import field, mapping


@pytest.fixture
def admin(cluster: Cluster) -> Actor:
    members.create_member(
        cluster.db, "admin@example.com", "correct horse battery", account_type=AccountType.ADMIN
    )
    return members.actor_for(cluster.db, "admin@example.com")


def sales_list(db: Database, admin: Actor) -> tuple[BlockDef, Mapping]:
    """A Transaction List appended to: a run that landed twice would show twice the rows."""
    application = applications.create_application(db, admin, "Budget")
    created = blocks.create_list(db, admin, application.id, BlockKind.TRANSACTION_LIST, "Sales")
    blocks.add_property(db, admin, created.id, "Note", PropertyType.TEXT)
    block = blocks.get_block(db, admin, created.id)
    return block, mapping(field(block.properties[0].id, "Note"))


def write_notes(path: Path, rows: int) -> Path:
    with path.open("w") as handle:
        handle.write("Note\n")
        handle.writelines(f"note {i}\n" for i in range(rows))
    return path


def row_count(db: Database, block: BlockDef) -> int:
    table = block_tables.build_table(block)
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def statuses(db: Database) -> list[tuple[uuid.UUID, str, int, uuid.UUID | None]]:
    with db.read() as session:
        found = session.execute(
            select(ImportRun.id, ImportRun.status, ImportRun.attempt, ImportRun.retry_of)
        )
        return [(r[0], r[1], r[2], r[3]) for r in found]


def test_two_workers_complete_every_run_exactly_once_even_when_sent_twice(
    cluster: Cluster, admin: Actor, tmp_path: Path
) -> None:
    block, chosen = sales_list(cluster.db, admin)
    notes = write_notes(tmp_path / "notes.csv", 100)
    cluster.start_worker()
    cluster.start_worker()
    cluster.wait_ready()
    executor = CeleryExecutor(cluster.settings)
    queued = [
        runs.start_import(cluster.db, admin, block.id, notes, FileSettings(), chosen)
        for _ in range(6)
    ]
    for run_id in queued:
        executor.submit(run_id)
        executor.submit(run_id)  # a duplicate delivery

    def all_finished() -> bool:
        return all(status == RunStatus.COMPLETED.value for _, status, _, _ in statuses(cluster.db))

    wait_for(all_finished, 120, "every run to complete")
    assert sorted(r[0] for r in statuses(cluster.db)) == sorted(queued), "no retry, no extra run"
    assert row_count(cluster.db, block) == 6 * 100, "each run landed once"
    # A task's result line is logged just after the run committed: wait for all twelve lines.
    wait_for(
        lambda: len(re.findall("'not claimed'|'executed'", logs(cluster))) >= 12,
        30,
        "every message's result in the logs",
    )
    logs_now = logs(cluster)
    assert len(re.findall("'executed'", logs_now)) == 6
    assert len(re.findall("'not claimed'", logs_now)) == 6


def logs(cluster: Cluster) -> str:
    return cluster.log_of(1) + cluster.log_of(2)


def test_a_worker_killed_mid_import_leaves_the_block_unchanged_and_the_other_completes_it(
    cluster: Cluster, admin: Actor, tmp_path: Path
) -> None:
    block, chosen = sales_list(cluster.db, admin)
    rows = 1_500_000
    notes = write_notes(tmp_path / "many-notes.csv", rows)
    first, second = cluster.start_worker(), cluster.start_worker()
    cluster.wait_ready()
    run_id = runs.start_import(cluster.db, admin, block.id, notes, FileSettings(), chosen)
    CeleryExecutor(cluster.settings).submit(run_id)

    def running_with_progress() -> bool:
        view = runs.get_run(cluster.db, admin, run_id)
        return view.status is RunStatus.RUNNING and view.rows_done > 0

    wait_for(running_with_progress, 120, "the import to be running with rows read")
    worker = runs.get_run(cluster.db, admin, run_id).worker or ""
    victim = next(p for p in (first, second) if f":{p.pid}:" in worker)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)

    wait_for(
        lambda: runs.get_run(cluster.db, admin, run_id).status is RunStatus.FAILED,
        60,
        "the sweeper to fail the lost run",
    )
    lost = runs.get_run(cluster.db, admin, run_id)
    assert [e.name for e in lost.errors] == ["WorkerLost"]
    [retry] = [r for r in statuses(cluster.db) if r[3] == run_id]
    wait_for(
        lambda: runs.get_run(cluster.db, admin, retry[0]).status.finished,
        180,
        "the retry to finish",
    )
    done = runs.get_run(cluster.db, admin, retry[0])
    assert (done.status, done.attempt) == (RunStatus.COMPLETED, 2)
    assert f":{victim.pid}:" not in (done.worker or "")
    assert row_count(cluster.db, block) == rows, "the killed run wrote nothing"
