"""Fixtures of the integration tier: an application and members holding its roles."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher

from planport.domain.members import Actor
from planport.services.blocks import applications
from planport.services.blocks.applications import ApplicationView
from planport.services.workspace import members
from planport.settings import Settings
from planport.store import migrate
from planport.store.db import Database
from tests.conftest import postgres_schema
from tests.integration.builders import PASSWORD, grant
from tests.integration.celery_cluster import REQUIRED, Cluster, redis_answers
from tests.integration.smtp_peers import LOOPBACK, Inbox, ServerFactory, SmtpPeer, free_port


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its smallest cost, so that every test's members are made in microseconds.

    Still argon2id through the same code; only the work factor differs from production's.
    """
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(members, "_hasher", cheap)


@pytest.fixture
def app(db: Database, admin: Actor) -> ApplicationView:
    """An application created by the workspace admin (who holds its Admin role)."""
    return applications.create_application(db, admin, "Budget 2025")


@pytest.fixture
def member_as(
    db: Database, admin: Actor, app: ApplicationView, member: Actor
) -> Callable[[str], Actor]:
    """Give the `member` fixture a role of `app` by name; returns the member's actor."""

    def give(role: str) -> Actor:
        grant(db, admin, app.id, member.email, role)
        return member

    return give


@pytest.fixture
def new_member(db: Database) -> Callable[[str], Actor]:
    """Create another member (account type member) by e-mail; returns their actor."""

    def create(email: str) -> Actor:
        members.create_member(db, email, PASSWORD)
        return members.actor_for(db, email)

    return create


@pytest.fixture
def smtp_server() -> Iterator[ServerFactory]:
    """Starts aiosmtpd servers on loopback with the given options; stops them after the test."""
    controllers: list[Controller] = []

    def start(*, implicit_tls: ssl.SSLContext | None = None, **options: Any) -> SmtpPeer:
        inbox = Inbox()
        if options.pop("with_auth", False):
            options["authenticator"] = inbox.authenticate
        port = free_port()
        controller = Controller(
            inbox,
            hostname=LOOPBACK,
            port=port,
            ssl_context=implicit_tls,
            server_hostname="planport-test-smtp",
            **options,
        )
        controller.start()
        controllers.append(controller)
        return SmtpPeer(inbox, port)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def broker_url(request: pytest.FixtureRequest) -> str:
    """A Redis database of this test's own (1–15, from its name)."""
    if not redis_answers():
        if REQUIRED:
            pytest.fail("Redis is required (PLANPORT_TEST_REQUIRE_POSTGRES=1) but unreachable")
        pytest.skip("no Redis server on 127.0.0.1:6379")
    number = 1 + zlib.crc32(request.node.nodeid.encode()) % 15
    return f"redis://127.0.0.1:6379/{number}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL schema of this test's own (the cluster migrates it)."""
    with postgres_schema() as url:
        yield url


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
