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


class RunErrorName(StrEnum):
    """Why a run failed: the `name` of its errors, as stored, shown and sent in alerts (a
    client of the API may branch on them, so a name never changes once shipped)."""

    BLOCK_CHANGED = "BlockChanged"  # the block's definition changed under the run; retried
    BLOCK_DELETED = "BlockDeleted"
    CANCELLED = "Cancelled"  # someone cancelled it; nothing was written
    CONFIGURATION_IN_ERROR = "ConfigurationInError"  # a schedule fired a broken configuration
    FILE_DOES_NOT_MATCH = "FileDoesNotMatch"  # the file lacks a mapped column
    FILE_UNREADABLE = "FileUnreadable"
    ITEMS_IN_USE = "ItemsInUse"  # clearing would remove items other blocks use
    MAPPING_DOES_NOT_FIT = "MappingDoesNotFit"  # the block changed since the mapping was saved
    NO_FILE_TO_IMPORT = "NoFileToImport"  # a schedule fired a configuration of uploaded files
    OWNER_LACKS_ACCESS = "OwnerLacksAccess"  # the member it acts for lost a right or left
    REJECT_THRESHOLD_EXCEEDED = "RejectThresholdExceeded"
    SOURCE_INVALID = "SourceInvalid"
    SOURCE_MISSING = "SourceMissing"
    SOURCE_UNAVAILABLE = "SourceUnavailable"  # the folder or block cannot be read now
    UNEXPECTED_ERROR = "UnexpectedError"  # a bug: the server log has the details
    WORKER_LOST = "WorkerLost"  # its executor stopped renewing its heartbeat; retried


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
