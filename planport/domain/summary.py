"""The Import Summary: what landed, what was skipped and why, what was created, what failed.

Rejects are collected per (reason, source column) with a count and a few samples; the first
MAX_KEPT_REJECTS rejected rows are also kept whole for the downloadable rejects file. Rows are
identified by their index among the rows read until the end of the run, when `finish` turns
indexes into line numbers (ragged rows skipped by the parser shift later lines).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

MAX_SAMPLES = 10
MAX_KEPT_REJECTS = 100_000


class Reason(StrEnum):
    """Pigment's reasons for rows that were not imported as written, and Planport's own."""

    PARSING_ERROR = "ParsingError"
    MISSING_ITEM_BLANKED = "MissingModalityUseDefaultOrNullModality"
    MISSING_ITEM_SKIPPED = "MissingModalitySkippedDataRow"
    MISSING_WRITE_ACCESS = "MissingWriteAccessRights"
    OVERWRITTEN_IN_FILE = "OverwrittenByLaterRow"

    @property
    def skips_row(self) -> bool:
        """Whether rows with this reason are left out (the others land, changed or overridden)."""
        return self not in {Reason.MISSING_ITEM_BLANKED, Reason.OVERWRITTEN_IN_FILE}


@dataclass
class Sample:
    line: int
    value: str


@dataclass
class RejectGroup:
    reason: str
    column: str
    description: str
    count: int = 0
    samples: list[Sample] = field(default_factory=list)


@dataclass
class RejectedRow:
    line: int
    reason: str
    column: str
    value: str
    description: str
    row_text: str = ""  # the whole row as in the file (CSV), for the rejects file


@dataclass
class RunError:
    name: str
    description: str


@dataclass
class ImportSummary:
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    groups: list[RejectGroup] = field(default_factory=list)
    items_created: dict[str, list[str]] = field(default_factory=dict)  # list name -> codes (first)
    items_created_count: dict[str, int] = field(default_factory=dict)
    errors: list[RunError] = field(default_factory=list)
    rejected_rows_kept: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportSummary:
        summary = cls(**{k: v for k, v in data.items() if k not in {"groups", "errors"}})
        summary.groups = [
            RejectGroup(**{**g, "samples": [Sample(**s) for s in g["samples"]]})
            for g in data.get("groups", [])
        ]
        summary.errors = [RunError(**e) for e in data.get("errors", [])]
        return summary


class RejectLog:
    """Collects rejects during a run (by row index), then resolves lines in `finish`."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], RejectGroup] = {}
        self._rows: list[RejectedRow] = []
        self._skipped_indexes: set[int] = set()
        self.skipped_outside_rows = 0  # rows the parser dropped (ragged), counted separately

    def add(
        self,
        reason: Reason,
        column: str,
        description: str,
        indexes: list[int],
        values: list[str],
        *,
        whole_row: bool = True,
    ) -> None:
        """Record rows `indexes` (row indexes) rejected for `reason` in `column`.

        `whole_row` False: only a cell of each row was left out (a pivoted file), so the rows
        are not counted as skipped here; `skip_rows` counts those that lost every cell.
        """
        if not indexes:
            return
        group = self._groups.setdefault(
            (reason.value, column), RejectGroup(reason.value, column, description)
        )
        group.count += len(indexes)
        room = MAX_SAMPLES - len(group.samples)
        group.samples += [Sample(i, v) for i, v in zip(indexes[:room], values[:room], strict=False)]
        room = MAX_KEPT_REJECTS - len(self._rows)
        self._rows += [
            RejectedRow(i, reason.value, column, v, description)
            for i, v in zip(indexes[:room], values[:room], strict=False)
        ]
        if reason.skips_row and whole_row:
            self._skipped_indexes.update(indexes)

    def skip_rows(self, indexes: list[int]) -> None:
        """Count rows as skipped whose rejects were recorded cell by cell."""
        self._skipped_indexes.update(indexes)

    def add_lines(
        self, reason: Reason, column: str, description: str, lines: list[int], values: list[str]
    ) -> None:
        """Record rejects already known by line (rows the parser itself refused)."""
        group = self._groups.setdefault(
            (reason.value, column), RejectGroup(reason.value, column, description)
        )
        group.count += len(lines)
        group.samples += [Sample(-line, v) for line, v in zip(lines, values, strict=False)][
            : MAX_SAMPLES - len(group.samples)
        ]
        self._rows += [
            RejectedRow(-line, reason.value, column, v, description)
            for line, v in zip(lines, values, strict=False)
        ]
        self.skipped_outside_rows += len(lines)

    def indexes(self) -> set[int]:
        """Row indexes whose lines the summary will show (samples and kept rows)."""
        wanted = {row.line for row in self._rows if row.line >= 0}
        for group in self._groups.values():
            wanted |= {sample.line for sample in group.samples if sample.line >= 0}
        return wanted

    @property
    def skipped(self) -> int:
        return len(self._skipped_indexes) + self.skipped_outside_rows

    def is_empty(self) -> bool:
        return not self._groups

    def finish(
        self,
        summary: ImportSummary,
        line_of: Callable[[int], int],
        text_of: Callable[[int], str] = lambda index: "",
    ) -> list[RejectedRow]:
        """Fill the summary's groups and skipped count; return the kept rows by line.

        Indexes are >= 0; entries already known by line were stored negated (see add_lines).
        """

        def resolve(index: int) -> int:
            return -index if index < 0 else line_of(index)

        for group in self._groups.values():
            for sample in group.samples:
                sample.line = resolve(sample.line)
            group.samples.sort(key=lambda s: s.line)
        summary.groups = sorted(self._groups.values(), key=lambda g: (-g.count, g.reason, g.column))
        summary.skipped = self.skipped
        for row in self._rows:
            # Rows the parser refused (stored by negated line) carry their own text as value.
            row.row_text = row.value if row.line < 0 else text_of(row.line)
            row.line = resolve(row.line)
        self._rows.sort(key=lambda r: r.line)
        summary.rejected_rows_kept = len(self._rows)
        return self._rows
