"""Words of import runs shared by all layers."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED}


class Trigger(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    API = "api"
    RUN_AGAIN = "run_again"
    COMMAND_LINE = "command_line"

    @property
    def label(self) -> str:
        """The trigger as pages and the command line name it ("API", "Run again")."""
        return _TRIGGER_LABELS[self]


_TRIGGER_LABELS = {
    Trigger.MANUAL: "Manual",
    Trigger.SCHEDULE: "Schedule",
    Trigger.API: "API",
    Trigger.RUN_AGAIN: "Run again",
    Trigger.COMMAND_LINE: "Command line",
}
