"""The HTTP server `planport serve` runs: uvicorn's, told what to call off when it stops."""

from __future__ import annotations

from types import FrameType

import uvicorn

from planport.domain.work_limits import SERVER_STOPPING
from planport.logs import get_logger
from planport.web.limits import WorkLimits

log = get_logger("planport.web")


class StoppingServer(uvicorn.Server):
    """Uvicorn's server, calling off the file work of requests still running as soon as it
    is told to stop: its graceful shutdown waits for every request to end, and one reading a
    large file held it for minutes."""

    def __init__(self, config: uvicorn.Config, work_limits: WorkLimits) -> None:
        super().__init__(config)
        self._work_limits = work_limits

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        called_off = self._work_limits.call_off_all(SERVER_STOPPING)
        if called_off:
            log.info("file work called off", requests=called_off, why="server stopping")
        super().handle_exit(sig, frame)
