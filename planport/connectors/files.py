"""A file given with the run's trigger (wizard upload, command line, later the push API), and
the configuration source that says one is given with each run (`upload`)."""

from __future__ import annotations

from pathlib import Path

from planport.connectors._base import (
    FetchContext,
    Fetched,
    SourceState,
    SourceUnavailable,
    StatusContext,
)
from planport.domain.errors import Invalid
from planport.domain.sources import GivenFile, UploadSource
from planport.store.files import FileStore, FileStoreError


class UploadConnector:
    """A configuration fed by uploads: its runs carry their own file (a `GivenFile`)."""

    def label(self, spec: UploadSource) -> str | None:
        return None

    def describe(self, spec: UploadSource) -> str:
        return "A file given with each run (upload)"

    def checked(self, spec: UploadSource) -> UploadSource:
        return spec

    def status(self, spec: UploadSource, context: StatusContext) -> SourceState:
        return SourceState(self.describe(spec))

    def fetch(self, spec: UploadSource, context: FetchContext) -> Fetched:
        raise SourceUnavailable(
            "This run was given no file: a configuration fed by uploads runs with a new file.",
            transient=False,
        )


class GivenFileConnector:
    """The file one run was given; never a configuration's source."""

    def label(self, spec: GivenFile) -> str | None:
        return spec.name[:500]

    def describe(self, spec: GivenFile) -> str:
        return f"the file {spec.name}"

    def checked(self, spec: GivenFile) -> GivenFile:
        raise Invalid(
            "A configuration reads from an upload, a server folder or another block; a "
            "given file belongs to one run.",
            field="source",
        )

    def status(self, spec: GivenFile, context: StatusContext) -> SourceState:
        if Path(spec.path).is_file():
            return SourceState(self.describe(spec), picked=spec.name)
        return SourceState(self.describe(spec), problem=f"{spec.name} is no longer available.")

    def fetch(self, spec: GivenFile, context: FetchContext) -> Fetched:
        path = _local(spec, FileStore.of(context.settings))
        if path is None:
            # Swept after its retention, or given on another machine's command line: not worth
            # retrying.
            raise SourceUnavailable(
                f"The file {spec.name} given with this run is no longer available.",
                transient=False,
            )
        return Fetched(path=path, name=spec.name)


def _local(spec: GivenFile, files: FileStore) -> Path | None:
    """The given file on this machine: from the file store when it has a key (downloaded
    first when only the bucket holds it), else the path it was given at."""
    if spec.key is None:
        path = Path(spec.path)
        return path if path.is_file() else None
    try:
        return files.local(spec.key)
    except FileStoreError as error:
        raise SourceUnavailable(error.message, transient=True) from None
