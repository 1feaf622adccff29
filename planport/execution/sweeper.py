"""The sweeper: a lost message or a dead worker never loses a run.

`sweep` fails running runs whose heartbeat stopped (WorkerLost) and queues their retries per
the policy, and, for executors fed by messages, sends again the tasks of due queued runs
nobody claimed. Every change is a conditional update whose row count decides who did it, so
any number of processes may sweep at once (the thread executor's loop, `planport worker`, the
scheduler) and sweeping twice changes nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from planport.services.imports import runs
from planport.settings import Settings
from planport.store.db import Database

Resend = Callable[[uuid.UUID, datetime | None], None]  # (run id, due at): send its task


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did: runs failed as lost, the retries queued for them, tasks re-sent."""

    lost: list[uuid.UUID] = field(default_factory=list)
    retries: list[uuid.UUID] = field(default_factory=list)
    resent: list[uuid.UUID] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.lost or self.resent)


def sweep(
    db: Database, now: datetime, *, settings: Settings, resend: Resend | None = None
) -> SweepReport:
    """Fail lost runs (and queue their retries); with `resend`, send again due queued runs
    unclaimed for PLANPORT_REQUEUE_AFTER_SECONDS. Returns what this call changed.

    Retries are also handed to `resend` (with a message-fed executor nobody else would tell
    a worker about them); a thread executor needs no resend: it polls the table.
    """
    failed = runs.fail_lost_runs(db, now=now, settings=settings)
    retries = [retry for _lost, retry in failed if retry is not None]
    resent: list[uuid.UUID] = []
    if resend is not None:
        for retry in retries:
            resend(retry.id, retry.not_before)
        resent = runs.resend_unclaimed(db, now=now, after_seconds=settings.requeue_after_seconds)
        for run_id in resent:
            resend(run_id, None)
    return SweepReport([lost for lost, _retry in failed], [r.id for r in retries], resent)
