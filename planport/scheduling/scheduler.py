"""The scheduler loop: tick, hand the queued runs to the executor, sleep until the next fire.

The loop knows nothing of how a fire becomes a run: it is given a `tick` (the services' use
case that fires what is due and returns the runs it queued), a way to find the next planned
fire, and a `dispatch` for the runs after the tick's transaction committed. The clock is
injected, so tests drive a simulated period without sleeping.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from planport.logs import get_logger
from planport.scheduling.leases import Lease

log = get_logger(__name__)

MAX_SLEEP_S = 1.0  # also how soon a schedule saved by another process is seen
ERROR_BACKOFF_S = 5.0


class TickResult(Protocol):
    queued: list[uuid.UUID]
    finished: list[uuid.UUID]


@dataclass
class Scheduler:
    tick: Callable[[datetime], TickResult]
    next_due: Callable[[], datetime | None]
    clock: Callable[[], datetime]
    # Hands a tick's runs on after its commit; None when the tick does so itself (the
    # services' fire_due with on_commit, which also hands over during a long tick).
    dispatch: Callable[[TickResult], None] | None = None
    sweep: Callable[[datetime], object] | None = None
    lease: Lease | None = None
    sweep_every_s: float = 15.0
    _wake: threading.Event = field(default_factory=threading.Event)
    _last_sweep: datetime | None = None

    def wake(self) -> None:
        """Look again now (a schedule was saved in this process)."""
        self._wake.set()

    def step(self) -> float:
        """One iteration: renew the lease, fire what is due, dispatch, maybe sweep. Returns
        how long to sleep before the next one. Errors are logged and retried (a database
        restart must not stop the scheduler)."""
        now = self.clock()
        try:
            if self.lease is not None and not self.lease.renew(now):
                self.lease.acquire(now)
            result = self.tick(now)
            if self.dispatch is not None:
                self.dispatch(result)
            self._maybe_sweep(now)
            return self._sleep_for(self.clock())
        except Exception:
            log.exception("scheduler.tick_failed")
            return ERROR_BACKOFF_S

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set. Takes the lease first (raises LeaseHeld)."""
        if self.lease is not None:
            self.lease.acquire(self.clock())
        log.info("scheduler.started")
        try:
            while not stop.is_set():
                pause = self.step()
                self._wake.wait(pause)
                self._wake.clear()
        finally:
            if self.lease is not None:
                self.lease.release()
            log.info("scheduler.stopped")

    def _sleep_for(self, now: datetime) -> float:
        # Sleep exactly until the next planned fire when it is near, so fires start on time
        # without polling hard; never longer than MAX_SLEEP_S, to see other processes' edits.
        upcoming = self.next_due()
        if upcoming is None:
            return MAX_SLEEP_S
        return max(0.0, min(MAX_SLEEP_S, (upcoming - now).total_seconds()))

    def _maybe_sweep(self, now: datetime) -> None:
        if self.sweep is None:
            return
        if self._last_sweep is None or (now - self._last_sweep).total_seconds() >= (
            self.sweep_every_s
        ):
            self._last_sweep = now
            self.sweep(now)
