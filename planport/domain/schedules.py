"""Words of Import Scheduling shared by all layers."""

from __future__ import annotations

from enum import StrEnum


class FireOutcome(StrEnum):
    """What became of one fire of a schedule; the history shows each, so a gap in the runs
    always has an explanation."""

    RUN = "run"  # a run was queued (it may have waited behind a running one)
    MISSED = "missed"  # due during a downtime, older than the grace period: not run
    SKIPPED = "skipped"  # a run of the configuration was already waiting: "still running"

    @property
    def label(self) -> str:
        return {"run": "Run", "missed": "Missed", "skipped": "Skipped (still running)"}[self.value]
