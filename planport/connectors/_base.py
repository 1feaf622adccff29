"""The connector interface: a spec and a context in, a local file out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from planport.domain.blocks import BlockDef
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import Mapping
from planport.settings import Settings
from planport.store.db import Database


class SourceUnavailable(Exception):
    """The source cannot be read now. `transient` errors (a server down, a file not there
    yet) are retried by the run's retry policy; the others (a path outside the import root, a
    source block of another shape) are not."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Fetched:
    """A local file to import. A connector that produces its own CSV (another block) also
    says how to read it and how it maps; otherwise the configuration's settings apply."""

    path: Path
    name: str
    file_settings: FileSettings | None = None
    mapping: Mapping | None = None


@dataclass(frozen=True, slots=True)
class FetchContext:
    """What a connector may use: the database, settings, the target block, a work folder
    (deleted after the run) and a way to load another block's definition (services do the
    access checks; connectors sit below them)."""

    db: Database
    settings: Settings
    block: BlockDef
    workdir: Path
    load_block: Callable[[uuid.UUID], BlockDef]


@dataclass(frozen=True, slots=True)
class SourceState:
    """What a source would read now, for its configuration's page: the source in words, the
    file a run would pick (its modification time) or why none (`problem`); for a copied block,
    its name and the target properties it fills and those it does not (with why)."""

    description: str
    picked: str | None = None
    picked_modified: datetime | None = None
    problem: str | None = None
    source_block_id: uuid.UUID | None = None
    source_block_name: str | None = None
    copied: tuple[str, ...] = ()
    not_copied: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusContext:
    """What a connector may look at to say what its source reads now; services build it and
    do the access checks. `folder` gives the target application's folder and how messages name
    it (asked only by kinds that read one: it may create the folder); `load_block` another
    block's definition, or None when it was deleted; `error` the configuration's current
    error, which says best why a source cannot be read."""

    target: BlockDef | None
    load_block: Callable[[uuid.UUID], BlockDef | None]
    folder: Callable[[], tuple[Path, str]]
    settle_seconds: int
    now: float
    error: str | None = None


class Connector(Protocol):
    """One source kind, registered in `connectors.CONNECTORS` under its spec's `kind`.

    Everything Planport asks of a kind goes through here, so a new kind is one module and one
    entry (plus its spec in `domain.sources`, which says whether it needs a file given with
    each run): how it is labelled and described, what a configuration may store, and how a
    run gets its file.
    """

    def label(self, spec: Any) -> str | None:
        """What a run's history shows as its file before the executor fetched it."""
        ...

    def describe(self, spec: Any) -> str:
        """The source in words, for pages and messages."""
        ...

    def checked(self, spec: Any) -> Any:
        """The spec as a configuration may store it (normalised). Raises Invalid, with the
        field of the source form, for one it may not."""
        ...

    def status(self, spec: Any, context: StatusContext) -> SourceState:
        """What a run would read now, or why it could not; never reads a file's content."""
        ...

    def fetch(self, spec: Any, context: FetchContext) -> Fetched:
        """Return the file; raise SourceUnavailable when it cannot be had."""
        ...
