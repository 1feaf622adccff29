"""A file on the server under PLANPORT_IMPORT_ROOT: one path, or the most recent file matching a
glob pattern, in the folder of the configuration's application.

Each application has its own folder under the import root (`Application.import_folder`,
chosen by a workspace admin; "" is the whole root, for applications made before folders were
per application). A configuration's paths and patterns are relative to its application's
folder and never reach outside it: absolute paths and `..` are refused when the source is
saved (`check_folder_source`), and every file is resolved to its real path (symbolic links
followed) and read only if that path is still under the application folder's real path. The
file is read in place, not copied.

"Most recent" is the newest modification time; files modified at the same instant are told
apart by name (the name that sorts last wins, so `sales_2026-02.csv` beats `sales_2026-01.csv`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from planport.connectors._base import (
    FetchContext,
    Fetched,
    SourceState,
    SourceUnavailable,
    StatusContext,
)
from planport.domain.errors import Invalid
from planport.domain.sources import FolderSource, has_wildcard
from planport.store.db import Database
from planport.store.models import Application

MAX_LENGTH = 1000
ROOT_WORDS = "the import root"
FOLDER_WORDS = "the application's import folder"


@dataclass(frozen=True, slots=True)
class Located:
    """The file a folder source reads now: its real path and its name relative to the root."""

    path: Path
    name: str
    modified: float  # POSIX seconds


# ---------------------------------------------------------------- checking a spec (pure)


def where(folder: str) -> str:
    """The application folder `folder` in the words of messages."""
    return FOLDER_WORDS if folder else ROOT_WORDS


def application_root(import_root: Path, folder: str) -> Path:
    """The folder an application's folder sources resolve under: `folder` (clean, relative;
    see `check_application_folder`) under the import root, or the root itself for ""."""
    return import_root / folder if folder else import_root


def check_application_folder(text: str) -> str:
    """An application's folder as stored: a clean relative path (`Sales//EU/` → `Sales/EU`),
    or "" for the whole import root.

    Raises Invalid (field `import_folder`) for an absolute path, `..`, a backslash or a
    control character, a wildcard, or more than 1000 characters.
    """
    stripped = text.strip().rstrip("/")
    if not stripped or stripped == ".":
        return ""
    clean = relative_path(stripped, field="import_folder")
    if has_wildcard(clean):
        raise Invalid(
            f"The folder {clean!r} has a wildcard (*, ? or [); name one folder.",
            field="import_folder",
        )
    return clean


def folders_overlap(first: str, second: str) -> bool:
    """Whether applications with these folders could read each other's files: the same
    folder, or one inside the other (the whole root, "", holds every folder)."""
    a, b = PurePosixPath(first or "."), PurePosixPath(second or ".")
    return a == b or not first or not second or a.is_relative_to(b) or b.is_relative_to(a)


def folder_slug(name: str) -> str:
    """A folder name for an application called `name`: lower-case ASCII letters, digits and
    hyphens (`Budget 2025 – FR` → `budget-2025-fr`); "" when nothing is left."""
    ascii_name = name.encode("ascii", "ignore").decode().lower()
    words = "".join(c if c.isalnum() else " " for c in ascii_name).split()
    return "-".join(words)[:100]


def check_folder_source(spec: FolderSource) -> FolderSource:
    """The spec with its path or pattern normalised (`./a//b.csv` → `a/b.csv`).

    Raises Invalid (field `path` or `pattern`) when neither or both are given, or when the text
    is absolute, climbs out with `..`, names a folder, or is not a valid pattern.
    """
    path, pattern = (spec.path or "").strip(), (spec.pattern or "").strip()
    if bool(path) == bool(pattern):
        raise Invalid(
            "Give either a file path or a pattern, relative to the application's import folder.",
            field="path",
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
            f"The {field} {text!r} is absolute; write it relative to the application's import "
            "folder (e.g. sales/actuals.csv).",
            field=field,
        )
    if text.endswith("/"):
        raise Invalid(f"The {field} {text!r} names a folder; name a file in it.", field=field)
    parts = [p for p in PurePosixPath(text).parts if p != "."]
    if ".." in parts:
        raise Invalid(
            f"The {field} {text!r} uses '..'; Planport reads only files under the import folder.",
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


def describe(spec: FolderSource) -> str:
    """The source in words, for pages and messages."""
    if spec.pattern:
        return f"the most recent file matching {spec.pattern}"
    return f"the file {spec.path}"


# ---------------------------------------------------------------- finding the file


def locate(
    spec: FolderSource,
    root: Path,
    *,
    now: float,
    settle_seconds: int = 0,
    folder_words: str = ROOT_WORDS,
) -> Located:
    """The file `spec` reads now under `root` (an application's folder; messages call it
    `folder_words`, and never show its absolute path, which only workspace admins see).

    Raises SourceUnavailable: transient when the folder, the file or any match is missing or
    a file is still settling (it may arrive or finish later: the run is retried); not
    transient when the spec is invalid or the file resolves outside the folder.
    """
    try:
        spec = check_folder_source(spec)
    except Invalid as error:
        raise SourceUnavailable(error.message, transient=False) from None
    real_root = _real_root(root, folder_words)
    if spec.path:
        found = _one_path(spec.path, real_root, folder_words)
    else:
        found = _newest(spec.pattern, real_root, folder_words)
    _refuse_unsettled(found, now, settle_seconds)
    return found


def _real_root(root: Path, folder_words: str) -> Path:
    real = Path(os.path.realpath(root))
    if not real.is_dir():
        # Transient: the folder may be a mount that is not there yet.
        raise SourceUnavailable(
            f"{folder_words[0].upper()}{folder_words[1:]} does not exist on this server; a "
            "workspace admin creates it (or sets PLANPORT_IMPORT_ROOT).",
            transient=True,
        )
    return real


def _inside(real: Path, real_root: Path) -> bool:
    return real == real_root or real.is_relative_to(real_root)


def _one_path(path: str | None, real_root: Path, folder_words: str) -> Located:
    assert path is not None
    real = Path(os.path.realpath(real_root / path))
    if not _inside(real, real_root):
        raise SourceUnavailable(
            f"{path} leads outside {folder_words} (through a symbolic link); Planport reads "
            "only files under it.",
            transient=False,
        )
    if not real.is_file():
        raise SourceUnavailable(f"No file {path} in {folder_words}.", transient=True)
    return Located(real, path, real.stat().st_mtime)


def _newest(pattern: str | None, real_root: Path, folder_words: str) -> Located:
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
            f"The only files matching {pattern} lead outside {folder_words} (through "
            f"symbolic links, e.g. {sorted(outside)[0]}); Planport reads only files under it.",
            transient=False,
        )
    if not candidates:
        raise SourceUnavailable(f"No file matches {pattern} in {folder_words}.", transient=True)
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
    """Reads the file in place (no copy): the engine streams it from where it lies, in the
    folder of the target block's application."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def label(self, spec: FolderSource) -> str | None:
        return (spec.path or spec.pattern or "")[:500] or None

    def describe(self, spec: FolderSource) -> str:
        return f"Server folder: {describe(spec)}"

    def checked(self, spec: FolderSource) -> FolderSource:
        return check_folder_source(spec)

    def status(self, spec: FolderSource, context: StatusContext) -> SourceState:
        root, words = context.folder()
        described = self.describe(spec)
        try:
            found = locate(
                spec,
                root,
                now=context.now,
                settle_seconds=context.settle_seconds,
                folder_words=words,
            )
        except SourceUnavailable as error:
            return SourceState(described, problem=error.message)
        modified = datetime.fromtimestamp(found.modified, UTC)
        return SourceState(described, picked=found.name, picked_modified=modified)

    def fetch(self, spec: FolderSource, context: FetchContext) -> Fetched:
        # Looked up at each run, not stored with it: a folder a workspace admin moved applies
        # to the next run, and a run can never name another application's folder.
        folder = stored_folder(context.db, context.block.application_id)
        root = context.settings.effective_import_root
        create_application_folder(root, folder)
        found = locate(
            spec,
            application_root(root, folder),
            now=self._clock(),
            settle_seconds=context.settings.import_settle_seconds,
            folder_words=where(folder),
        )
        return Fetched(path=found.path, name=found.name)


def create_application_folder(import_root: Path, folder: str) -> None:
    """Create the application's folder under the import root if it is missing (on demand: a
    new application's folder exists once anything looks for files in it).

    Only when the root exists: a missing root may be a mount not there yet, and a folder made
    in its place would hide it. A failure (permissions, a read-only disk) is left for the
    caller's look-up to report: the folder does not exist."""
    if folder and import_root.is_dir():
        with contextlib.suppress(OSError):
            (import_root / folder).mkdir(parents=True, exist_ok=True)


def stored_folder(db: Database, application_id: uuid.UUID) -> str:
    """The application's folder as stored, checked again (see `check_application_folder`).

    Raises SourceUnavailable (not transient) when the application is gone or its stored
    folder is not one Planport accepts (a row edited by hand).
    """
    with db.read() as session:
        application = session.get(Application, application_id)
        stored = None if application is None else application.import_folder
    if stored is None:
        raise SourceUnavailable("The application of this import was deleted.", transient=False)
    try:
        return check_application_folder(stored)
    except Invalid as error:
        raise SourceUnavailable(error.message, transient=False) from None
