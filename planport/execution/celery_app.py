"""The Celery executor: `planport worker` processes fed by a broker (Redis or RabbitMQ).

A message carries only a run id, and is sent after the transaction that queued the run
committed. The worker claims the run with the same conditional update as every executor, so
a repeated message (Redis delivers a message again once its visibility timeout passed while a
long import still runs; the sweeper re-sends messages it thinks lost) finds the run taken and
does nothing. The database, not the broker, decides what runs and what is retried.

Acknowledgement: `acks_late=True` acknowledges a message once the task returned, so a worker
that dies between receiving a message and claiming its run leaves the message to be delivered
again (fewer runs waiting for the sweeper's re-send). `reject_on_worker_lost=False`: when the
worker dies *during* an import, the broker must not deliver it again to start the same run on
its own; the sweeper fails that run as WorkerLost and queues a retry with backoff per policy
(a redelivery would be refused by the claim anyway).
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime
from typing import Any

from celery import Celery
from sqlalchemy.exc import SQLAlchemyError

from planport.domain.clock import utc_now
from planport.execution.sweeper import sweep
from planport.logs import get_logger
from planport.services.imports import runs
from planport.settings import Settings
from planport.store.db import Database

TASK = "planport.run_import"
log = get_logger("planport.execution")


def create_celery(settings: Settings, db: Database | None = None) -> Celery:
    """A Celery app from `settings`, with the `planport.run_import(run_id)` task, executing
    runs over `db` (default: the database of `settings`, opened on first use)."""
    app = Celery("planport", broker=settings.celery_broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,  # a long import must not hold messages others could run
        task_ignore_result=True,
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    handle: dict[str, Database] = {}
    if db is not None:
        handle["db"] = db

    def database() -> Database:
        if "db" not in handle:
            handle["db"] = Database.from_settings(settings)
        return handle["db"]

    @app.task(name=TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def run_import(run_id: str) -> str:
        return _run_import(database(), settings, CeleryExecutor(settings, app), uuid.UUID(run_id))

    return app


def _run_import(
    db: Database, settings: Settings, executor: CeleryExecutor, run_id: uuid.UUID
) -> str:
    """The task: claim the run (or do nothing: duplicate, cancelled, not due, configuration
    busy), execute it, then send the runs its end unblocked (a retry, the next run of its
    configuration)."""
    me = runs.worker_id()
    if not runs.claim_run(db, run_id, me):
        return "not claimed"
    try:
        runs.execute_run(db, run_id, me, settings=settings)
    finally:
        for follow_up, not_before in runs.follow_ups(db, run_id):
            executor.submit(follow_up, not_before=not_before)
    return "executed"


class CeleryExecutor:
    """Sends one message per submitted run to the broker's queue."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self._settings = settings
        self._app = app or create_celery(settings)

    @property
    def app(self) -> Celery:
        return self._app

    def submit(self, run_id: uuid.UUID, *, not_before: datetime | None = None) -> None:
        try:
            self._app.send_task(
                TASK, args=[str(run_id)], queue=self._settings.celery_queue, eta=not_before
            )
        except Exception as error:
            # The run is queued in the database already: the sweeper sends it again later.
            log.warning("sending a run to the broker failed", run_id=str(run_id), error=str(error))

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


def run_worker(settings: Settings, db: Database, *, concurrency: int) -> None:
    """Run a Celery worker in this process (threads pool, `concurrency` imports at once) and a
    sweeper thread beside it. Returns when the worker stops (SIGTERM, Ctrl-C)."""
    app = create_celery(settings, db)
    executor = CeleryExecutor(settings, app)
    stopping = threading.Event()
    sweeper = threading.Thread(
        target=_sweep_loop, args=(db, settings, executor, stopping), name="planport-sweeper"
    )
    sweeper.daemon = True
    sweeper.start()
    argv: list[Any] = [
        "worker",
        "--pool=threads",  # imports share the process's engines; SIGKILL takes them all
        f"--concurrency={concurrency}",
        f"--queues={settings.celery_queue}",
        f"--hostname=planport-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]
    try:
        app.worker_main(argv)
    finally:
        stopping.set()


def _sweep_loop(
    db: Database, settings: Settings, executor: CeleryExecutor, stopping: threading.Event
) -> None:
    while not stopping.wait(settings.heartbeat_seconds):
        try:
            report = sweep(
                db,
                utc_now(),
                settings=settings,
                resend=lambda run_id, due: executor.submit(run_id, not_before=due),
            )
        except SQLAlchemyError as error:
            log.warning("sweeping runs failed", error=type(error).__name__)
            continue
        if report.changed:
            log.info("swept", lost=len(report.lost), resent=len(report.resent))
