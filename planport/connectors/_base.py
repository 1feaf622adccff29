"""The connector interface: a spec and a context in, a local file out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
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

    def fetch(self, spec: Any, context: FetchContext) -> Fetched:
        """Return the file; raise SourceUnavailable when it cannot be had."""
        ...
