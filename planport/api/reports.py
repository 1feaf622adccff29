"""A run as Pigment's `ApiImportReportDto`: status, errors and, when asked, the detailed
report built from the run's Import Summary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from planport.domain.enums import BlockKind
from planport.domain.imports import RunStatus
from planport.domain.summary import Reason
from planport.services.imports.runs.reports import RunReport

_STATUS = {
    RunStatus.QUEUED: "InProgress",
    RunStatus.RUNNING: "InProgress",
    RunStatus.COMPLETED: "Completed",
    RunStatus.FAILED: "Failed",
    RunStatus.CANCELLED: "Failed",
}
# Rows the document counts as skipped data: Planport's own "overwritten by a later row of the
# file" is no skip (the later row lands), so it is not reported here.
_REPORTED = {reason.value for reason in Reason if reason is not Reason.OVERWRITTEN_IN_FILE}


def report_json(report: RunReport, *, detailed: bool) -> dict[str, Any]:
    run = report.run
    body: dict[str, Any] = {
        "importId": str(run.id),
        "createdAt": _instant(run.created_at),
        "completedAt": _instant(run.finished_at) if run.finished else None,
        "importStatus": _STATUS[run.status],
        "errorsDetails": [{"name": e.name, "description": e.description} for e in run.errors]
        or None,
        "detailedReport": None,
    }
    if detailed and run.finished and report.block_kind is not None:
        body["detailedReport"] = _detailed(report)
    return body


def _detailed(report: RunReport) -> dict[str, Any]:
    run = report.run
    counts = {
        "insertedCount": run.inserted,
        "updatedCount": run.updated,
        "deletedCount": run.deleted,
    }
    groups = run.summary.groups if run.summary else []
    skipped = [
        {
            "count": group.count,
            "reason": group.reason,
            "sourceColumnName": group.column or None,
            "samples": [sample.value for sample in group.samples],
        }
        for group in groups
        if group.reason in _REPORTED
    ]
    return {
        "blockType": "Metric" if report.block_kind is BlockKind.METRIC else "List",
        "summary": {**counts, "skippedCount": run.skipped},
        "impactedBlocks": [
            {"blockId": str(run.block_id), "scenarioId": None, **counts, "skippedData": skipped}
        ],
        "autoCreatedDimensionModalities": [
            {"blockId": str(block_id), "count": count} for block_id, count in report.items_created
        ],
    }


def _instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
