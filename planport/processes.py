"""Composing Planport's long-running parts: the scheduler with its executor and sweeper.

`planport serve` runs the scheduler on a thread beside the web server (the embedded default);
`planport scheduler` runs it alone. Any number of scheduler processes may share a PostgreSQL
database (fires are claimed with SKIP LOCKED and recorded under a unique key); on SQLite a
lease allows one, and a second says which process holds it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from planport.domain.clock import Clock, utc_now
from planport.execution import Executor, worker_id
from planport.execution import sweeper as run_sweeper
from planport.logs import get_logger
from planport.scheduling.leases import Lease, LeaseHeld
from planport.scheduling.scheduler import Scheduler, TickResult
from planport.services import Database
from planport.services.imports import runs
from planport.services.imports.runs import alerting
from planport.services.scheduling import firing, history
from planport.settings import Settings

log = get_logger(__name__)
LEASE_TTL = timedelta(seconds=30)  # renewed every tick (at most a second apart)
PURGE_EVERY = timedelta(hours=1)
LEASE_RETRY_S = 30.0


def build_scheduler(
    settings: Settings, db: Database, executor: Executor, *, clock: Clock = utc_now
) -> Scheduler:
    """The scheduler loop wired to the database, the executor and the sweeper."""
    lease = Lease(db, "scheduler", worker_id(), LEASE_TTL) if settings.is_sqlite else None

    def dispatch(result: TickResult) -> None:
        # After the tick's commit: the executor may claim at once; failed-at-once runs
        # (a configuration that cannot run) still get their alerts.
        for run_id in result.queued:
            executor.submit(run_id)
        for run_id in result.finished:
            runs.after_finish(db, run_id, settings)

    return Scheduler(
        # A burst is handed over once fired (firing.HAND_OVER_EVERY_S says why).
        tick=lambda now: firing.fire_due(db, now, on_commit=dispatch),
        next_due=lambda: firing.next_due_at(db),
        clock=clock,
        sweep=_housekeeping(settings, db, executor),
        lease=lease,
    )


def _housekeeping(
    settings: Settings, db: Database, executor: Executor
) -> Callable[[datetime], object]:
    """Lost runs every sweep; the history's retention once an hour."""
    purged_at: list[datetime] = []

    def sweep(now: datetime) -> None:
        report = run_sweeper.sweep(db, now, settings=settings, resend=_resender(executor))
        if report.changed:
            log.info("sweeper.swept", lost=len(report.lost), resent=len(report.resent))
        resent = alerting.deliver_stale(db, settings, now)
        if resent:
            log.warning("alerts.redelivered", messages=resent)
        if not purged_at or now - purged_at[-1] >= PURGE_EVERY:
            purged_at[:] = [now]
            retention = timedelta(days=settings.run_retention_days)
            deleted = history.purge(db, now, retention=retention)
            if deleted:
                log.info("history.purged", runs=deleted)

    return sweep


def _resender(executor: Executor) -> run_sweeper.Resend:
    def resend(run_id: uuid.UUID, not_before: datetime | None) -> None:
        executor.submit(run_id, not_before=not_before)

    return resend


class SchedulerThread:
    """The scheduler on a daemon thread (inside `planport serve`)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.scheduler.wake()
        self._thread.join(timeout)

    def _run(self) -> None:
        # Another scheduler holds SQLite's lease (a `planport scheduler`, or a second serve):
        # say so in one line and try again, so this one takes over when that one stops.
        while not self._stop.is_set():
            try:
                self.scheduler.run(self._stop)
            except LeaseHeld as held:
                log.warning("scheduler.not_started", reason=str(held), retry_in_s=LEASE_RETRY_S)
                self._stop.wait(LEASE_RETRY_S)
            except Exception:
                log.exception("scheduler.crashed")
                self._stop.wait(LEASE_RETRY_S)
