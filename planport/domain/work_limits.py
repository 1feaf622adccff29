"""How long file work done while someone waits may run, and whether it was called off.

A request that reads a file (the wizard's first step, its mapping step, Check, a configuration's
Edit) does that work in a thread the client waits on. A `WorkLimit` travels with the work: the
reader checks it between the blocks it parses and every few thousand records of a Python pass,
and raises when the time is up (TimeLimitReached) or when the edge called the work off
(WorkCalledOff: the client left, the server is stopping). Runs have no such limit: they execute
in the background, show their progress and are cancelled by people.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from planport.domain.errors import PlanportError

CLIENT_LEFT = "The request was abandoned: the browser left before the file was read."
SERVER_STOPPING = (
    "The server is stopping, so the file was not read to its end. Nothing was changed; try "
    "again in a moment."
)


class WorkStopped(PlanportError):
    """File work stopped before its end; nothing was changed."""


class TimeLimitReached(WorkStopped):
    """The work ran past its limit (PLANPORT_INSPECTION_TIME_LIMIT_S)."""


class WorkCalledOff(WorkStopped):
    """The client left, or the server is stopping."""


class WorkLimit:
    """A deadline `seconds` from now and a flag the edge raises to call the work off.

    Thread-safe: `call_off` comes from the event loop or a signal handler while `check` runs in
    the worker thread (and in pyarrow's reading thread).
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._deadline = clock() + seconds
        self._called_off = threading.Event()
        self._why = ""

    def call_off(self, why: str) -> None:
        """Stop the work at its next check; `why` becomes the error's message. The first
        reason given stands."""
        if not self._called_off.is_set():
            self._why = why
            self._called_off.set()

    @property
    def called_off(self) -> bool:
        return self._called_off.is_set()

    def check(self) -> None:
        """Raise WorkCalledOff or TimeLimitReached when the work must stop."""
        if self._called_off.is_set():
            raise WorkCalledOff(self._why)
        if self._clock() > self._deadline:
            raise TimeLimitReached(
                f"Reading this file took longer than {self.seconds:g} s, the limit for work done "
                "while you wait (PLANPORT_INSPECTION_TIME_LIMIT_S). Nothing was changed. A file "
                "this slow to read is usually very large or mostly blank lines: check the file "
                "settings, or run the import (a run has no time limit, shows its progress and "
                "can be cancelled)."
            )
