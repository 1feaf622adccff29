"""Runs executing in this process: their live progress, a local cancel, and the heartbeat.

A page that cannot write the database (SQLite, behind an import's write) still shows the
progress of a run executing here (`local_progress`), and Cancel reaches it at once
(`cancel_locally`); the heartbeat renews the run's lease, writes its progress at most once a
second, and tells the execution when the run was lost or cancelled from another process.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from planport.domain.clock import Clock
from planport.logs import get_logger
from planport.services.imports.runs.run_rows import cancel_requested, renew
from planport.store.db import Database

log = get_logger("planport.runs")
PROGRESS_SECONDS = 1.0  # live progress (rows_done) is written at most this often


@dataclass(slots=True)
class Active:
    """A run executing in this process: flags the heartbeat and a local cancel set, and the
    progress the engine reported (pages read it when the database cannot be written)."""

    cancel: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)
    rows_done: int = 0


_ACTIVE: dict[uuid.UUID, Active] = {}


_ACTIVE_LOCK = threading.Lock()


def register(run_id: uuid.UUID) -> Active:
    """Mark run `run_id` as executing here, until `unregister`."""
    active = Active()
    with _ACTIVE_LOCK:
        _ACTIVE[run_id] = active
    return active


def unregister(run_id: uuid.UUID) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.pop(run_id, None)


def local_progress(run_id: uuid.UUID) -> int | None:
    """Rows read so far by a run executing in this process, or None."""
    with _ACTIVE_LOCK:
        active = _ACTIVE.get(run_id)
    return active.rows_done if active else None


def cancel_locally(run_id: uuid.UUID) -> bool:
    """Ask a run executing in this process to stop at its next progress callback."""
    with _ACTIVE_LOCK:
        active = _ACTIVE.get(run_id)
    if active is not None:
        active.cancel.set()
    return active is not None


class Heartbeat:
    """Renews a run's heartbeat every `every` seconds and writes its progress (at most once a
    second). Sets `active.lost` when the row is no longer ours, or when renewing failed for
    longer than `lost_after` (the sweeper may have failed the run meanwhile), and
    `active.cancel` when a cancel was requested from any process."""

    def __init__(
        self,
        db: Database,
        run_id: uuid.UUID,
        worker: str,
        active: Active,
        *,
        every: float,
        lost_after: float,
        clock: Clock,
    ) -> None:
        self._db, self._run_id, self._worker, self._active = db, run_id, worker, active
        self._every, self._lost_after, self._clock = every, lost_after, clock
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"heartbeat-{run_id.hex[:8]}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=self._every + 10)

    def _loop(self) -> None:
        last_ok = time.monotonic()
        next_beat = last_ok + self._every
        written = 0
        while not self._stopped.wait(min(PROGRESS_SECONDS, self._every)):
            now = time.monotonic()
            if now < next_beat and self._active.rows_done == written:
                continue
            try:
                written = self._beat()
            except SQLAlchemyError as error:
                log.warning(
                    "heartbeat failed", run_id=str(self._run_id), error=type(error).__name__
                )
                if time.monotonic() - last_ok > self._lost_after:
                    self._active.lost.set()
                    return
                continue
            if self._active.lost.is_set():
                return
            last_ok, next_beat = now, now + self._every

    def _beat(self) -> int:
        rows = self._active.rows_done
        with self._db.write() as session:
            owned = renew(session, self._run_id, self._worker, self._clock(), rows)
            cancelled = owned and cancel_requested(session, self._run_id)
        if not owned:
            log.warning("run taken over; stopping", run_id=str(self._run_id), worker=self._worker)
            self._active.lost.set()
        if cancelled:
            self._active.cancel.set()
        return rows
