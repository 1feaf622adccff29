"""The thread executor: a bounded pool of import threads inside this process.

Each pool thread loops: claim the oldest due run (`runs.claim_next`), execute it, repeat; when
there is none it waits on a condition that `submit` signals, so a run started from this
process begins at once, and wakes every PLANPORT_RUN_POLL_SECONDS anyway to find runs queued
by other processes (one indexed query). One more thread sweeps (lost runs, retries) every
heartbeat interval. Every thread is a daemon: a process that exits mid-import leaves its run
to the sweeper of another process, and its block unchanged (the write was one transaction).
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from planport.domain.clock import utc_now
from planport.execution.sweeper import sweep
from planport.logs import get_logger
from planport.services.imports import runs
from planport.settings import Settings
from planport.store.db import Database

log = get_logger("planport.execution")


class ThreadExecutor:
    """Executes runs on `threads` threads (default PLANPORT_WORKER_THREADS; SQLite: 1)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        threads: int | None = None,
        sweeping: bool = True,
        name: str = "planport-run",
    ) -> None:
        self._db, self._settings, self._name = db, settings, name
        # SQLite has one writer and a block write holds it for the whole import: a second
        # import thread could only wait for it, unable even to renew its own heartbeat.
        self._size = 1 if db.is_sqlite else (threads or settings.worker_threads)
        self._sweeping = sweeping
        self._wakeups = 0
        self._signal = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def size(self) -> int:
        return self._size

    def submit(self, run_id: uuid.UUID, *, not_before: datetime | None = None) -> None:
        """Wake one idle thread. (A run due later is found by the poll once it is due.)"""
        del run_id, not_before
        with self._signal:
            self._wakeups += 1
            self._signal.notify()

    def start(self) -> None:
        for number in range(self._size):
            self._spawn(f"{self._name}-{number + 1}", self._work)
        if self._sweeping:
            self._spawn(f"{self._name}-sweeper", self._sweep_loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming and wait up to `timeout` seconds for running imports; those still
        running after that end with the process (the sweeper of another fails and retries
        them)."""
        self._stopping.set()
        with self._signal:
            self._signal.notify_all()
        for thread in self._threads:
            thread.join(timeout=timeout / max(len(self._threads), 1))

    def _spawn(self, name: str, target: object) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        me = runs.worker_id()
        while not self._stopping.is_set():
            run_id = self._claim(me)
            if run_id is None:
                self._wait()
                continue
            try:
                runs.execute_run(self._db, run_id, me, settings=self._settings)
            except Exception:
                # The run is failed already (UnexpectedError); the thread lives on.
                log.exception("import run failed unexpectedly", run_id=str(run_id))

    def _claim(self, me: str) -> uuid.UUID | None:
        try:
            return runs.claim_next(self._db, me)
        except SQLAlchemyError as error:
            # Database away or (SQLite) locked by another process's import: try again later.
            log.warning("claiming runs failed", error=type(error).__name__)
            return None

    def _wait(self) -> None:
        """Until `submit` signals or the backstop poll is due."""
        with self._signal:
            if self._wakeups == 0 and not self._stopping.is_set():
                self._signal.wait(timeout=self._settings.run_poll_seconds)
            if self._wakeups > 0:
                self._wakeups -= 1

    def _sweep_loop(self) -> None:
        while not self._stopping.wait(self._settings.heartbeat_seconds):
            try:
                report = sweep(self._db, utc_now(), settings=self._settings)
            except SQLAlchemyError as error:
                log.warning("sweeping runs failed", error=type(error).__name__)
                continue
            if report.lost:
                # Their retries wait for their backoff; the poll claims them once due.
                log.warning("runs lost by their workers", runs=[str(r) for r in report.lost])
