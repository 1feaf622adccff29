"""Source specs: what an import configuration or a run reads, as JSON-able values.

A configuration stores its source (`upload` means "a file is given with each run"); a run
stores the source it actually reads, so any executor on any machine can run it from the row.
"""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from planport.domain.errors import Invalid


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Whether runs need a file given with their trigger (see `needs_file`).
    gives_no_file: ClassVar[bool] = False


class UploadSource(_Spec):
    """A configuration fed by a file given at run time (wizard, command line, push API)."""

    gives_no_file: ClassVar[bool] = True
    kind: Literal["upload"] = "upload"


class GivenFile(_Spec):
    """A run's file, given with its trigger. `key` names it in the file store (a wizard
    upload, a push), where every machine finds it; `path` is where the machine that received it
    put it, and the only way to reach a file given on the command line (no key), read where the
    command runs."""

    kind: Literal["file"] = "file"
    path: str
    name: str
    key: str | None = None


class FolderSource(_Spec):
    """A file on the server under PLANPORT_IMPORT_ROOT: one path, or the most recent file
    matching a glob pattern (e.g. `sales/*.csv`). Paths are relative to the root."""

    kind: Literal["folder"] = "folder"
    path: str | None = None
    pattern: str | None = None


class BlockSource(_Spec):
    """Another Planport block of the same application (Metric → Metric, List → List)."""

    kind: Literal["block"] = "block"
    block_id: uuid.UUID


SourceSpec = Annotated[
    UploadSource | GivenFile | FolderSource | BlockSource, Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[SourceSpec] = TypeAdapter(SourceSpec)


def parse_source(text: str) -> SourceSpec:
    """The spec stored as JSON. Raises Invalid (field `source`) when it is not one."""
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError as error:
        raise Invalid(
            f"The source is not valid: {error.errors()[0]['msg']}.", field="source"
        ) from None


def source_json(spec: SourceSpec) -> str:
    return spec.model_dump_json()


def needs_file(spec: SourceSpec) -> bool:
    """Whether runs need a file given with the trigger (such a configuration cannot be
    scheduled: there is nobody to give the file)."""
    return spec.gives_no_file


_WILDCARDS = set("*?[")


def has_wildcard(pattern: str) -> bool:
    """Whether a folder source's text is a pattern (the most recent match) or a path."""
    return bool(_WILDCARDS & set(pattern))
