"""A file on the server under PLANPORT_IMPORT_ROOT: one path, or the most recent file matching a
glob pattern.

Paths and patterns are relative to the import root and never reach outside it: absolute paths
and `..` are refused when the source is saved (`check_folder_source`), and every file is
resolved to its real path (symbolic links followed) and read only if that path is still under
the root's real path. The file is read in place, not copied.

"Most recent" is the newest modification time; files modified at the same instant are told
apart by name (the name that sorts last wins, so `sales_2026-02.csv` beats `sales_2026-01.csv`).
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from planport.connectors._base import FetchContext, Fetched, SourceUnavailable
from planport.connectors.specs import FolderSource
from planport.domain.errors import Invalid

MAX_LENGTH = 1000
_WILDCARDS = set("*?[")


@dataclass(frozen=True, slots=True)
class Located:
    """The file a folder source reads now: its real path and its name relative to the root."""

    path: Path
    name: str
    modified: float  # POSIX seconds


# ---------------------------------------------------------------- checking a spec (pure)


def check_folder_source(spec: FolderSource) -> FolderSource:
    """The spec with its path or pattern normalised (`./a//b.csv` → `a/b.csv`).

    Raises Invalid (field `path` or `pattern`) when neither or both are given, or when the text
    is absolute, climbs out with `..`, names a folder, or is not a valid pattern.
    """
    path, pattern = (spec.path or "").strip(), (spec.pattern or "").strip()
    if bool(path) == bool(pattern):
        raise Invalid(
            "Give either a file path or a pattern, relative to the import root.", field="path"
        )
    if path:
        return FolderSource(path=relative_path(path, field="path"))
    return FolderSource(pattern=check_pattern(relative_path(pattern, field="pattern")))


def relative_path(text: str, *, field: str) -> str:
    """`text` as a clean relative POSIX path. Raises Invalid naming `field`."""
    if len(text) > MAX_LENGTH:
        raise Invalid(f"The {field} is longer than {MAX_LENGTH} characters.", field=field)
    if any(ord(c) < 32 for c in text) or "\\" in text:
        raise Invalid(
            f"The {field} {text!r} has a backslash or a control character; separate folders "
            "with /.",
            field=field,
        )
    # Why refuse rather than strip: a path the user wrote as absolute means something else
    # than the same path under the root; saying so beats silently reading another file.
    if text.startswith(("/", "~")) or (len(text) > 1 and text[1] == ":"):
        raise Invalid(
            f"The {field} {text!r} is absolute; write it relative to the import root "
            "(e.g. sales/actuals.csv).",
            field=field,
        )
    if text.endswith("/"):
        raise Invalid(f"The {field} {text!r} names a folder; name a file in it.", field=field)
    parts = [p for p in PurePosixPath(text).parts if p != "."]
    if ".." in parts:
        raise Invalid(
            f"The {field} {text!r} uses '..'; Planport reads only files under the import root.",
            field=field,
        )
    if not parts:
        raise Invalid(f"The {field} names no file.", field=field)
    return "/".join(parts)


def check_pattern(pattern: str) -> str:
    """`pattern` if it is a glob Planport accepts: `*`, `?` and `[…]` within one folder level.
    Raises Invalid (field `pattern`) for `**` or an unclosed `[`."""
    if "**" in pattern:
        raise Invalid(
            "Patterns match within one folder level: use * (e.g. sales/*/*.csv), not **.",
            field="pattern",
        )
    for part in pattern.split("/"):
        if _unclosed_bracket(part):
            raise Invalid(
                f"The pattern {pattern!r} has a [ without its ] (e.g. sales_2026-[01][0-9].csv).",
                field="pattern",
            )
    return pattern


def _unclosed_bracket(part: str) -> bool:
    """Whether a `[` opens a set that never closes (fnmatch rules: a `]` right after `[` or
    `[!` is a member, not the end)."""
    index = 0
    while index < len(part):
        if part[index] != "[":
            index += 1
            continue
        end = index + 1
        if end < len(part) and part[end] == "!":
            end += 1
        if end < len(part) and part[end] == "]":
            end += 1
        end = part.find("]", end)
        if end == -1:
            return True
        index = end + 1
    return False


def has_wildcard(pattern: str) -> bool:
    return bool(_WILDCARDS & set(pattern))


def describe(spec: FolderSource) -> str:
    """The source in words, for pages and messages."""
    if spec.pattern:
        return f"the most recent file matching {spec.pattern}"
    return f"the file {spec.path}"


# ---------------------------------------------------------------- finding the file


def locate(spec: FolderSource, root: Path, *, now: float, settle_seconds: int = 0) -> Located:
    """The file `spec` reads now under `root`.

    Raises SourceUnavailable: transient when the root, the file or any match is missing or a
    file is still settling (it may arrive or finish later: the run is retried); not transient
    when the spec is invalid or the file resolves outside the root.
    """
    try:
        spec = check_folder_source(spec)
    except Invalid as error:
        raise SourceUnavailable(error.message, transient=False) from None
    real_root = _real_root(root)
    found = _one_path(spec.path, real_root) if spec.path else _newest(spec.pattern, real_root)
    _refuse_unsettled(found, now, settle_seconds)
    return found


def _real_root(root: Path) -> Path:
    real = Path(os.path.realpath(root))
    if not real.is_dir():
        # Transient: the folder may be a mount that is not there yet.
        raise SourceUnavailable(
            f"The import root {root} does not exist on this server; create it or set "
            "PLANPORT_IMPORT_ROOT.",
            transient=True,
        )
    return real


def _inside(real: Path, real_root: Path) -> bool:
    return real == real_root or real.is_relative_to(real_root)


def _one_path(path: str | None, real_root: Path) -> Located:
    assert path is not None
    real = Path(os.path.realpath(real_root / path))
    if not _inside(real, real_root):
        raise SourceUnavailable(
            f"{path} leads outside the import root (through a symbolic link); Planport reads "
            "only files under it.",
            transient=False,
        )
    if not real.is_file():
        raise SourceUnavailable(f"No file {path} under the import root.", transient=True)
    return Located(real, path, real.stat().st_mtime)


def _newest(pattern: str | None, real_root: Path) -> Located:
    assert pattern is not None
    candidates: list[tuple[int, str, Path]] = []
    outside: list[str] = []
    # glob from the root's real path, hidden files left out (as a shell does): editors and
    # copy tools write their temporary files under dot names.
    for name in glob.glob(pattern, root_dir=real_root):
        real = Path(os.path.realpath(real_root / name))
        if not _inside(real, real_root):
            outside.append(name)
        elif real.is_file():
            candidates.append((real.stat().st_mtime_ns, name, real))
    if not candidates and outside:
        raise SourceUnavailable(
            f"The only files matching {pattern} lead outside the import root (through "
            f"symbolic links, e.g. {sorted(outside)[0]}); Planport reads only files under it.",
            transient=False,
        )
    if not candidates:
        raise SourceUnavailable(f"No file matches {pattern} under the import root.", transient=True)
    modified_ns, name, real = max(candidates)
    return Located(real, name, modified_ns / 1e9)


def _refuse_unsettled(found: Located, now: float, settle_seconds: int) -> None:
    age = now - found.modified
    if settle_seconds and age < settle_seconds:
        raise SourceUnavailable(
            f"{found.name} was modified {max(age, 0):.0f} s ago and may still be being "
            f"written; Planport reads it once it is {settle_seconds} s old "
            "(PLANPORT_IMPORT_SETTLE_SECONDS).",
            transient=True,
        )


# ---------------------------------------------------------------- the connector


class FolderConnector:
    """Reads the file in place (no copy): the engine streams it from where it lies."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def fetch(self, spec: FolderSource, context: FetchContext) -> Fetched:
        found = locate(
            spec,
            context.settings.effective_import_root,
            now=self._clock(),
            settle_seconds=context.settings.import_settle_seconds,
        )
        return Fetched(path=found.path, name=found.name)
