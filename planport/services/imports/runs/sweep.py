"""What executors and the sweeper ask of runs: fail the lost ones (and retry them), resend the
unclaimed ones, and the runs that followed a run (its retry)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from planport.domain.imports import RunErrorName, RunStatus
from planport.domain.summary import RunError
from planport.logs import get_logger
from planport.services.imports.runs import run_rows
from planport.services.imports.runs.queue import after_finish
from planport.services.imports.runs.run_rows import Outcome, RetryPolicy
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import (
    ImportRun,
)

log = get_logger("planport.runs")


def follow_ups(db: Database, run_id: uuid.UUID) -> list[tuple[uuid.UUID, datetime | None]]:
    """Queued runs that finishing `run_id` may have unblocked: its retry, and the runs of its
    configuration waiting behind it. (id, not_before) each, for executors fed by messages."""
    with db.read() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            return []
        behind = ImportRun.configuration_id == run.configuration_id
        if run.configuration_id is None:
            behind = ImportRun.retry_of == run_id
        rows = session.execute(
            select(ImportRun.id, ImportRun.not_before)
            .where(
                ImportRun.status == RunStatus.QUEUED.value, behind | (ImportRun.retry_of == run_id)
            )
            .order_by(ImportRun.created_at)
        )
        return [(row[0], row[1]) for row in rows]


def fail_lost_runs(
    db: Database, *, now: datetime, settings: Settings
) -> list[tuple[uuid.UUID, Retry | None]]:
    """Fail running runs whose heartbeat stopped (WorkerLost) and queue their retries.

    Returns (failed run, its retry or None) for each run this call failed; runs another
    sweeper failed first, or whose heartbeat came back, are left alone (conditional updates).
    The finish hook is called for each.
    """
    cutoff = now - timedelta(seconds=settings.worker_lost_after_seconds)
    policy = RetryPolicy(settings.run_retries, settings.retry_backoff_seconds)
    with db.read() as session:
        stale = run_rows.stale_running(session, cutoff)
    failed = []
    for run in stale:
        if _fail_lost(db, run, cutoff, now, policy):
            failed.append((run.id, _retry_of(db, run.id)))
            after_finish(db, run.id, settings)
    return failed


def _fail_lost(
    db: Database, run: ImportRun, cutoff: datetime, now: datetime, policy: RetryPolicy
) -> bool:
    since = run.heartbeat_at or run.started_at
    when = f"since {since:%Y-%m-%d %H:%M:%S} UTC" if since else "ever"
    if run.cancel_requested:
        # Asked to stop, and stopped: a cancel, not a loss to retry.
        outcome = Outcome(
            RunStatus.CANCELLED, errors=[RunError(RunErrorName.CANCELLED, "Cancelled.")]
        )
    else:
        message = (
            f"The worker running this import stopped (no heartbeat from {run.worker or '?'} "
            f"{when}). Nothing was written to {run.block_name}."
        )
        outcome = Outcome(
            RunStatus.FAILED, errors=[RunError(RunErrorName.WORKER_LOST, message)], transient=True
        )
    with db.write() as session:
        return run_rows.finish(
            session,
            run.id,
            run.worker,
            outcome,
            now,
            policy,
            extra=run_rows.stale_condition(cutoff),
        )


@dataclass(frozen=True, slots=True)
class Retry:
    """A retry queued for a failed run: its id and when it is due."""

    id: uuid.UUID
    not_before: datetime | None


def _retry_of(db: Database, run_id: uuid.UUID) -> Retry | None:
    with db.read() as session:
        row = session.execute(
            select(ImportRun.id, ImportRun.not_before).where(ImportRun.retry_of == run_id)
        ).first()
    return Retry(row[0], row[1]) if row else None


def resend_unclaimed(db: Database, *, now: datetime, after_seconds: float) -> list[uuid.UUID]:
    """Due queued runs nobody claimed for `after_seconds`: marked re-sent now, for a
    message-fed executor to send again. Each run is returned by one sweeper only."""
    cutoff = now - timedelta(seconds=after_seconds)
    with db.read() as session:
        waiting = run_rows.unclaimed(session, cutoff, now)
    resent = []
    for run_id in waiting:
        with db.write() as session:
            if run_rows.mark_resent(session, run_id, cutoff, now):
                resent.append(run_id)
    return resent
