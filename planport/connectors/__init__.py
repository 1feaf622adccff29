"""Sources an import reads from, behind one small interface.

A connector turns a source spec into a local file the engine reads (`fetch`). Each source kind
has its own module (files, folder, block; later SFTP, S3, SQL, HTTP) registered in
`CONNECTORS`. Connectors never write a block and never hold a database transaction across a
download: they only produce a file in the run's work folder.
"""

from __future__ import annotations

from planport.connectors._base import Connector, FetchContext, Fetched, SourceUnavailable
from planport.connectors.block import BlockConnector
from planport.connectors.files import GivenFileConnector
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
    "file": GivenFileConnector(),
    "folder": FolderConnector(),
    "block": BlockConnector(),
}


def fetch(spec: SourceSpec, context: FetchContext) -> Fetched:
    """The source's file, ready to read. Raises SourceUnavailable (transient or not)."""
    connector = CONNECTORS.get(spec.kind)
    if connector is None:
        raise SourceUnavailable(
            f"Planport cannot read sources of kind {spec.kind!r} here.", transient=False
        )
    return connector.fetch(spec, context)


__all__ = [
    "CONNECTORS",
    "BlockSource",
    "Connector",
    "FetchContext",
    "Fetched",
    "FolderSource",
    "GivenFile",
    "SourceSpec",
    "SourceUnavailable",
    "UploadSource",
    "fetch",
    "needs_file",
    "parse_source",
    "source_json",
]
