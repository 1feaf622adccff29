"""A file given with the run's trigger (wizard upload, command line, later the push API)."""

from __future__ import annotations

from pathlib import Path

from planport.connectors._base import FetchContext, Fetched, SourceUnavailable
from planport.domain.sources import GivenFile


class GivenFileConnector:
    def fetch(self, spec: GivenFile, context: FetchContext) -> Fetched:
        path = Path(spec.path)
        if not path.is_file():
            # The upload was swept or lives on another machine's disk: not worth retrying.
            raise SourceUnavailable(
                f"The file {spec.name} given with this run is no longer available.",
                transient=False,
            )
        return Fetched(path=path, name=spec.name)
