"""Executors: who executes queued import runs.

The `import_run` table is the queue (see `services.runs`). An executor is told about new runs
(`submit`, called after the transaction that queued them committed) and claims, executes and
finishes them; whatever it misses (a lost message, a restart) is found again by polling the
table or by the sweeper. Executors:

- `ThreadExecutor` (threads.py): a bounded pool of threads in this process, woken in-process
  by `submit`, polling the table as a backstop for runs queued by other processes. Default.
- `CeleryExecutor` (celery_app.py): `submit` sends a Celery message carrying only the run id;
  `planport worker` processes receive it and claim the run.
- `InlineExecutor`: `submit` executes the run in the caller's thread (tests, embedding).
- `QueueOnly`: `submit` does nothing; runs wait for a worker process polling the table
  (`planport serve --no-worker` with the thread executor).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from planport.services.imports import runs
from planport.settings import Settings
from planport.store.db import Database

worker_id = runs.worker_id


class Executor(Protocol):
    def submit(self, run_id: uuid.UUID, *, not_before: datetime | None = None) -> None:
        """Make run `run_id` (already committed, queued) start as soon as it may.

        Never raises for a delivery problem: a run nobody was told about is still found by
        polling or by the sweeper."""
        ...

    def start(self) -> None:
        """Start executing (threads, loops). Safe to call once."""
        ...

    def stop(self) -> None:
        """Stop claiming; let running runs finish for a while; return."""
        ...


class InlineExecutor:
    """Executes a submitted run at once, in the caller's thread, and returns when it ended."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db, self._settings = db, settings

    def submit(self, run_id: uuid.UUID, *, not_before: datetime | None = None) -> None:
        del not_before  # a retry waits for a real executor's poll or the sweeper
        me = worker_id()
        if runs.claim_run(self._db, run_id, me):
            runs.execute_run(self._db, run_id, me, settings=self._settings)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


class QueueOnly:
    """Leaves submitted runs in the table for worker processes that poll it."""

    def submit(self, run_id: uuid.UUID, *, not_before: datetime | None = None) -> None:
        del run_id, not_before

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


def executor_for(settings: Settings, db: Database, *, run_here: bool = True) -> Executor:
    """The executor `settings` choose (PLANPORT_EXECUTOR). With `run_here` False the thread
    executor is replaced by `QueueOnly` (another process executes); Celery always sends."""
    if settings.executor == "celery":
        from planport.execution.celery_app import CeleryExecutor

        return CeleryExecutor(settings)
    if not run_here:
        return QueueOnly()
    from planport.execution.threads import ThreadExecutor

    return ThreadExecutor(db, settings)


__all__ = ["Executor", "InlineExecutor", "QueueOnly", "executor_for", "worker_id"]
