"""Files uploaded to the import wizard (and to "Run with a new file"): where they are kept,
who reaches them again, and when they go.

An upload lives at `uploads/<uuid>/<owner>/<name>` in the file store (`store.files`): under
DATA_DIR, and in the bucket of PLANPORT_FILE_STORE_URL when set, so the wizard's next step
and the run's executor find it on any machine. Uploads are kept for
PLANPORT_UPLOAD_RETENTION_HOURS; each new upload clears those past it (a wizard keeps its
file between steps by id only, so an abandoned wizard leaves its upload behind).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from planport.domain.errors import Invalid, NotFound
from planport.settings import Settings
from planport.store.files import FileStore

_UPLOADS = "uploads"
GONE = "This uploaded file is no longer here. Upload it again."


@dataclass(frozen=True, slots=True)
class UploadOwner:
    """Who made a wizard upload, and for which block: only they reach it again, there.

    Upload ids travel in request paths (and so in browser histories and logs); binding the
    file to its uploader and block makes a learned id worthless to anyone else, who gets 404
    as for an id that never existed.
    """

    member_id: uuid.UUID
    block_id: uuid.UUID

    @property
    def folder_name(self) -> str:
        return f"{self.member_id.hex}-{self.block_id.hex}"


def new_upload(
    settings: Settings, owner: UploadOwner, name: str, write: Callable[[Path], int]
) -> tuple[uuid.UUID, Path]:
    """A new upload holding `name`, filled by `write` (which returns the bytes written) and
    kept in the file store. Raises Invalid for an empty file, FileStoreUnavailable when the
    bucket refuses it (nothing is left behind either way)."""
    sweep_uploads(settings)
    files = FileStore.of(settings)
    upload_id = uuid.uuid4()
    folder = f"{_UPLOADS}/{upload_id}"
    path = files.path_of(f"{folder}/{owner.folder_name}/{name}")
    path.parent.mkdir(parents=True)
    try:
        if write(path) == 0:
            raise Invalid(
                f"{path.name} is empty: choose a file with a header and rows.", field="file"
            )
        files.keep(path)
    except BaseException:
        files.forget(folder)
        raise
    return upload_id, path


def uploaded_file(settings: Settings, upload_id: uuid.UUID, owner: UploadOwner) -> Path:
    """The file of an upload made by `owner`, on this machine (downloaded from the bucket
    when another machine received it). Raises NotFound when it is gone or was made by someone
    else or for another block (the same answer: nothing tells the id exists)."""
    files = FileStore.of(settings)
    key = files.first_under(f"{_UPLOADS}/{upload_id}/{owner.folder_name}")
    path = files.local(key) if key is not None else None
    if path is None:
        raise NotFound(GONE)
    return path


def key_of(settings: Settings, path: Path) -> str | None:
    """The file store key of an upload's file (None for a file that is not one)."""
    try:
        return FileStore.of(settings).key_of(path)
    except ValueError:
        return None


def discard(settings: Settings, path: Path) -> None:
    """Delete the upload holding `path` (here and in the bucket)."""
    files = FileStore.of(settings)
    key = key_of(settings, path)
    if key is not None and key.startswith(f"{_UPLOADS}/"):
        files.forget("/".join(key.split("/")[:2]))


def sweep_uploads(settings: Settings) -> int:
    """Delete uploads older than PLANPORT_UPLOAD_RETENTION_HOURS; returns how many."""
    return FileStore.of(settings).sweep(_UPLOADS, settings.upload_retention_hours * 3600)
