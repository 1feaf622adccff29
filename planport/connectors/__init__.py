"""Sources an import reads from, behind one small interface.

A connector turns a source spec into a local file the engine reads (`fetch`), and answers
for its kind everywhere else (`label`, `describe`, `checked`, `status`: see `Connector`).
Each source kind has its own module (files, folder, block; later SFTP, S3, SQL, HTTP)
registered in `CONNECTORS` by its spec's `kind`; callers use the functions below. Connectors
never write a block and never hold a database transaction across a download: they only
produce a file in the run's work folder.
"""

from __future__ import annotations

from planport.connectors._base import (
    Connector,
    FetchContext,
    Fetched,
    SourceState,
    SourceUnavailable,
    StatusContext,
)
from planport.connectors.block import BlockConnector
from planport.connectors.files import GivenFileConnector, UploadConnector
from planport.connectors.folder import FolderConnector
from planport.domain.sources import (
    BlockSource,
    FolderSource,
    GivenFile,
    SourceSpec,
    UploadSource,
    needs_file,
    parse_source,
    source_json,
)

CONNECTORS: dict[str, Connector] = {
    "upload": UploadConnector(),
    "file": GivenFileConnector(),
    "folder": FolderConnector(),
    "block": BlockConnector(),
}


def connector_of(spec: SourceSpec) -> Connector:
    """The connector of the spec's kind (every kind a spec can parse to is registered)."""
    return CONNECTORS[spec.kind]


def fetch(spec: SourceSpec, context: FetchContext) -> Fetched:
    """The source's file, ready to read. Raises SourceUnavailable (transient or not)."""
    connector = CONNECTORS.get(spec.kind)
    if connector is None:
        raise SourceUnavailable(
            f"Planport cannot read sources of kind {spec.kind!r} here.", transient=False
        )
    return connector.fetch(spec, context)


def status(spec: SourceSpec, context: StatusContext) -> SourceState:
    """What a run would read now, or why it could not (never a file's content)."""
    return connector_of(spec).status(spec, context)


def label(spec: SourceSpec) -> str | None:
    """What a run's history shows as its file before the executor fetched it."""
    return connector_of(spec).label(spec)


def describe(spec: SourceSpec) -> str:
    """The source in words, for pages and messages."""
    return connector_of(spec).describe(spec)


def checked(spec: SourceSpec) -> SourceSpec:
    """The spec as a configuration may store it. Raises Invalid (a field of the source form)."""
    checked_spec: SourceSpec = connector_of(spec).checked(spec)
    return checked_spec


__all__ = [
    "CONNECTORS",
    "BlockSource",
    "Connector",
    "FetchContext",
    "Fetched",
    "FolderSource",
    "GivenFile",
    "SourceSpec",
    "SourceState",
    "SourceUnavailable",
    "StatusContext",
    "UploadSource",
    "checked",
    "connector_of",
    "describe",
    "fetch",
    "label",
    "needs_file",
    "parse_source",
    "source_json",
    "status",
]
