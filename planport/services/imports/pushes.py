"""Files pushed through the Import API: what a push may go to, where its file is kept, the
check of its header, and the run it queues.

A push is one more trigger of the same run machinery (DESIGN.md, "Runs are rows first"): the
file is stored first, its header is checked against the configuration, then one `import_run`
row is queued with trigger `api`, the key's owner as actor and the key recorded; an executor
runs it like any other. A push for a configuration that already has a run queued or running
waits behind it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planport.connectors import GivenFile
from planport.domain.api_keys import Rejection
from planport.domain.clock import utc_now
from planport.domain.enums import Permission
from planport.domain.errors import Conflict, Invalid, NotFound, TooManyRequests
from planport.domain.file_settings import FileSettings
from planport.domain.imports import Trigger
from planport.domain.mapping import Mapping
from planport.services.imports import _stored
from planport.services.imports.block_import import (
    FileDoesNotMatch,
    open_file,
    prepare,
    refuse_unmatched_file,
)
from planport.services.imports.runs.queue import queue_run
from planport.services.imports.runs.run_rows import NewRun, RunRecipe
from planport.services.workspace import access
from planport.services.workspace.api_keys import KeyCaller, KeyRejected
from planport.settings import Settings
from planport.store.db import Database
from planport.store.files import FileStore
from planport.store.models import ImportConfiguration, ImportRun

_PUSHES = "pushes"
NOT_FOUND = "Import configuration with the specified ID was not found"
_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PushTarget:
    """The configuration a push goes to, as it was when the push began."""

    configuration_id: uuid.UUID
    name: str
    block_id: uuid.UUID
    file_settings: FileSettings
    mapping: Mapping


def push_target(
    db: Database,
    caller: KeyCaller,
    configuration_id: uuid.UUID,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> PushTarget:
    """The configuration `caller` may push a file to. Raises NotFound (unknown), KeyRejected
    (the key's owner may not import into its application), Conflict (in error: the reason its
    page shows) and TooManyRequests (the hourly limit of pushes is reached)."""
    with db.read() as session:
        configuration = _configuration(session, configuration_id)
        _require_import(session, caller, configuration)
        view = _stored.current_view(session, configuration)
        not_runnable = view.not_runnable(file_given=True)
        if not_runnable is not None:
            raise Conflict(not_runnable.message(view.name))
        _refuse_past_limit(session, configuration_id, settings, now or utc_now())
        assert view.block_id is not None
        return PushTarget(
            configuration_id, view.name, view.block_id, view.file_settings, view.mapping
        )


def new_push_file(settings: Settings, name: str) -> Path:
    """A new, empty place for a pushed file named `name`: DATA_DIR/pushes/<uuid>/<name>. Pushed
    files are kept for PLANPORT_UPLOAD_RETENTION_HOURS, as wizard uploads are."""
    sweep_pushes(settings)
    folder = FileStore.of(settings).path_of(f"{_PUSHES}/{uuid.uuid4()}")
    folder.mkdir(parents=True)
    return folder / name


def discard(settings: Settings, path: Path) -> None:
    """Remove a pushed file and its folder, here and in the file store's bucket (a refused or
    broken push leaves nothing)."""
    files = FileStore.of(settings)
    files.forget(files.key_of(path.parent))


def check_pushed_file(db: Database, caller: KeyCaller, target: PushTarget, path: Path) -> None:
    """Read the pushed file's header with the configuration's file settings. Raises Invalid
    (not readable as CSV, empty, lacking a mapped column: the message names the file and what
    is wrong) and PermissionDenied (the owner lost a right the run needs)."""
    block = prepare(db, caller.actor, target.block_id, target.mapping).block
    source = open_file(path, target.file_settings)
    try:
        refuse_unmatched_file(block, target.mapping, source)
    except FileDoesNotMatch as error:
        raise Invalid(str(error), field="file") from None


def queue_push(
    db: Database,
    caller: KeyCaller,
    target: PushTarget,
    path: Path,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> uuid.UUID:
    """Queue the run of the pushed file at `path`; returns its id (submit it to an executor).

    The hourly limit is counted again here, with the configuration's row locked on PostgreSQL,
    so that pushes arriving together on several servers never pass it."""
    now = now or utc_now()
    block = prepare(db, caller.actor, target.block_id, target.mapping).block
    # Kept before the run exists: a worker on another machine may claim it at once.
    key = FileStore.of(settings).keep(path)
    source = GivenFile(path=str(path.resolve()), name=path.name, key=key)
    recipe = RunRecipe.of(source, target.file_settings, target.mapping)
    with db.write() as session:
        session.execute(
            select(ImportConfiguration.id)
            .where(ImportConfiguration.id == target.configuration_id)
            .with_for_update()
        )
        _refuse_past_limit(session, target.configuration_id, settings, now)
        new = NewRun.into(
            block, recipe, Trigger.API, caller.actor.id, configuration_id=target.configuration_id
        )
        new = replace(new, api_key_id=caller.key_id)
        return queue_run(session, new, now=now).id


def sweep_pushes(settings: Settings) -> int:
    """Delete pushed files older than PLANPORT_UPLOAD_RETENTION_HOURS; returns how many."""
    return FileStore.of(settings).sweep(_PUSHES, settings.upload_retention_hours * 3600)


def _configuration(session: Session, configuration_id: uuid.UUID) -> ImportConfiguration:
    configuration = session.get(ImportConfiguration, configuration_id)
    if configuration is None:
        raise NotFound(NOT_FOUND)
    return configuration


def _require_import(
    session: Session, caller: KeyCaller, configuration: ImportConfiguration
) -> None:
    # A key's owner without Import Data (or without any role) in the application is told 403,
    # not 404: configuration IDs are pasted into source systems, and "not found" would send
    # their admins looking for a typo instead of a missing permission.
    if not access.may_in(
        session, caller.actor, Permission.IMPORT_DATA, configuration.application_id
    ):
        raise KeyRejected(
            Rejection.OWNER_LACKS_RIGHT,
            f"The owner of this API key ({caller.actor.email}) needs the Import Data "
            "permission in the configuration's application.",
        )


def _refuse_past_limit(
    session: Session, configuration_id: uuid.UUID, settings: Settings, now: datetime
) -> None:
    limit = settings.api_pushes_per_hour
    window = select(ImportRun.created_at).where(
        ImportRun.configuration_id == configuration_id,
        ImportRun.trigger == Trigger.API.value,
        ImportRun.created_at > now - _WINDOW,
    )
    count = session.scalar(select(func.count()).select_from(window.subquery())) or 0
    if count < limit:
        return
    oldest = session.scalar(select(func.min(window.subquery().c.created_at)))
    wait = max(1, int(((oldest or now) + _WINDOW - now).total_seconds()) + 1)
    raise TooManyRequests(
        f"Maximum number of reports per configuration per hour exceeded, maximum: {limit}. "
        "Please try again later.",
        retry_after_s=wait,
    )
