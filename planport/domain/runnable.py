"""Whether an import configuration can run, and why not: the one rule and its one wording.

The pages, the command line, the schedule use cases and the scheduler's tick all ask
`why_not_runnable`; each then adds the fix that fits where the member is ("Run with a new
file" on a page, a file argument on the command line), or the blocker's default fix.

A configuration cannot run when its block was deleted, when it is in error (it no longer
fits its block or source), or when its stored source cannot be read; it cannot run *by
itself* (a schedule, "Start an import right now") when it imports a file given with each run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from planport.domain.errors import Invalid
from planport.domain.sources import SourceSpec, needs_file, parse_source


class Blocker(StrEnum):
    """Why a configuration cannot run; each has its own fix."""

    DELETED_BLOCK = "deleted_block"
    IN_ERROR = "in_error"
    UPLOAD = "upload"
    BAD_SOURCE = "bad_source"


_FIXES = {
    Blocker.DELETED_BLOCK: "Delete it, or save a new configuration for another block.",
    Blocker.IN_ERROR: "Use Edit on its page to fit it to its block again; it keeps its ID.",
    Blocker.UPLOAD: "Change its source to a server folder or another block to schedule it.",
    Blocker.BAD_SOURCE: "Set its source again on its page.",
}


@dataclass(frozen=True, slots=True)
class NotRunnable:
    """A configuration that cannot run: the kind of reason and its detail (the block's name,
    the configuration's error, what of the source cannot be read)."""

    blocker: Blocker
    detail: str = ""

    @property
    def what(self) -> str:
        """The reason as a predicate: "is in error and cannot run: …"."""
        match self.blocker:
            case Blocker.DELETED_BLOCK:
                return f"cannot run: its block {self.detail!r} was deleted."
            case Blocker.IN_ERROR:
                return f"is in error and cannot run: {self.detail}"
            case Blocker.BAD_SOURCE:
                return f"cannot run: its source cannot be read ({self.detail})"
            case Blocker.UPLOAD:
                return "imports a file uploaded with each run, so it cannot run by itself."

    @property
    def fix(self) -> str:
        return _FIXES[self.blocker]

    def said_of(self, subject: str, fix: str | None = None) -> str:
        """The reason and a fix (default: the blocker's) about `subject` ("It", "Import
        configuration 'Countries'")."""
        return f"{subject} {self.what} {fix or self.fix}"

    def message(self, name: str, fix: str | None = None) -> str:
        """The reason and fix about the configuration named `name`, for errors."""
        return self.said_of(f"Import configuration {name!r}", fix)


def why_not_runnable(
    *,
    block_name: str,
    has_block: bool,
    error: str | None,
    source: SourceSpec | str,
    file_given: bool = False,
) -> NotRunnable | None:
    """Why the configuration cannot run, or None when it can. `source` is its spec or the
    stored text; with `file_given` (a run with a new file) an upload source is no blocker."""
    if not has_block:
        return NotRunnable(Blocker.DELETED_BLOCK, block_name)
    if error is not None:
        return NotRunnable(Blocker.IN_ERROR, error)
    if isinstance(source, str):
        try:
            source = parse_source(source)
        except Invalid as problem:
            return NotRunnable(Blocker.BAD_SOURCE, problem.message)
    if needs_file(source) and not file_given:
        return NotRunnable(Blocker.UPLOAD)
    return None
