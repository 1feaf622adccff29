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
import socket
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, func, select, text

from planport.domain.blocks import BlockDef
from planport.domain.enums import AccountType, BlockKind, PropertyType
from planport.domain.imports import RunStatus
from planport.domain.members import Actor
from planport.engine.file_settings import FileSettings
from planport.engine.mapping import Mapping
from planport.execution.celery_app import CeleryExecutor
from planport.services import applications, blocks, members, runs
from planport.settings import Settings
from planport.store import block_tables, migrate
from planport.store.db import Database
from planport.store.models import ImportRun
from tests.conftest import postgres_url
from tests.integration.import_builders import field, mapping

REQUIRED = os.environ.get("PLANPORT_TEST_REQUIRE_POSTGRES") == "1"
READY_TIMEOUT_S = 60.0


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def broker_url(request: pytest.FixtureRequest) -> str:
    """A Redis database of this test's own (1–15, from its name)."""
    if not _redis_answers():
        if REQUIRED:
            pytest.fail("Redis is required (PLANPORT_TEST_REQUIRE_POSTGRES=1) but unreachable")
        pytest.skip("no Redis server on 127.0.0.1:6379")
    number = 1 + zlib.crc32(request.node.nodeid.encode()) % 15
    return f"redis://127.0.0.1:6379/{number}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL schema of this test's own."""
    base = postgres_url()
    if base is None:
        if REQUIRED:
            pytest.fail("PostgreSQL is required (PLANPORT_TEST_REQUIRE_POSTGRES=1) but unreachable")
        pytest.skip("no PostgreSQL server")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Cluster:
    db: Database
    settings: Settings
    env: dict[str, str]
    root: Path
    workers: list[subprocess.Popen[bytes]]

    def start_worker(self) -> subprocess.Popen[bytes]:
        with (self.root / f"worker-{len(self.workers) + 1}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "planport", "worker", "--concurrency", "2"],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: SIGKILL takes all of it
            )
        self.workers.append(process)
        return process

    def log_of(self, number: int) -> str:
        return (self.root / f"worker-{number}.log").read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for number, process in enumerate(self.workers, start=1):
            while "ready." not in self.log_of(number):
                assert process.poll() is None, self.log_of(number)
                assert time.monotonic() < deadline, self.log_of(number)
                time.sleep(0.1)


@pytest.fixture
def cluster(pg_url: str, broker_url: str, tmp_path: Path) -> Iterator[Cluster]:
    db = Database(pg_url)
    migrate.upgrade(db)
    queue = f"planport-test-{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    env |= {
        "PLANPORT_DATA_DIR": str(tmp_path / "data"),
        "PLANPORT_DATABASE_URL": pg_url,
        "PLANPORT_EXECUTOR": "celery",
        "PLANPORT_CELERY_BROKER_URL": broker_url,
        "PLANPORT_CELERY_QUEUE": queue,
        "PLANPORT_HEARTBEAT_SECONDS": "0.5",
        "PLANPORT_WORKER_LOST_AFTER_SECONDS": "3",
        "PLANPORT_RETRY_BACKOFF_SECONDS": "1",
        "PLANPORT_REQUEUE_AFTER_SECONDS": "5",
        "PLANPORT_LOG_LEVEL": "info",
    }
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        executor="celery",
        celery_broker_url=broker_url,
        celery_queue=queue,
    )
    found = Cluster(db, settings, env, tmp_path, [])
    try:
        yield found
    finally:
        for process in found.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in found.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        db.dispose()


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
    wait_for(lambda: len(re.findall("'not claimed'", logs(cluster))) >= 6, 30, "duplicates")
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
