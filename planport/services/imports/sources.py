"""Where a configuration reads from: choose its source, and what that source would read now.

A configuration reads a file given with each run (an upload), a file in its application's
server folder, or another block (a copy with generated file settings and mapping).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from planport import connectors
from planport.connectors import (
    BlockSource,
    FolderSource,
    SourceSpec,
    SourceUnavailable,
    StatusContext,
    source_json,
)
from planport.connectors.block import COPY_FILE_SETTINGS, CopyRefused, plan_copy
from planport.connectors.folder import (
    application_root,
    check_folder_source,
    locate,
    where,
)
from planport.domain.blocks import BlockDef
from planport.domain.clock import utc_now
from planport.domain.enums import BlockKind, Permission
from planport.domain.errors import Conflict, Invalid
from planport.domain.members import Actor
from planport.services.blocks import applications
from planport.services.blocks.applications import ImportFolderView
from planport.services.blocks.definitions import load_block, to_def
from planport.services.imports import _stored
from planport.services.imports._stored import ConfigurationView
from planport.services.imports.configurations import get_configuration
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import Block


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A configuration's source as its page shows it: in words, and what it would read now.

    Folder sources: the application's folder (`folder`; its absolute path only for
    workspace admins), the file a run would pick now (`picked`, its modification time) or why
    none (`problem`). Block sources: the source block, the target properties it fills and
    those it does not (with why), or why it cannot be copied (`problem`).
    """

    kind: str  # upload, folder, block
    description: str
    folder: ImportFolderView | None = None
    picked: str | None = None
    picked_modified: datetime | None = None
    problem: str | None = None
    source_block_id: uuid.UUID | None = None
    source_block_name: str | None = None
    copied: tuple[str, ...] = ()
    not_copied: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceChoice:
    """A block a configuration may copy from."""

    id: uuid.UUID
    name: str
    kind: BlockKind


def set_source(
    db: Database, actor: Actor, configuration_id: uuid.UUID, spec: SourceSpec
) -> ConfigurationView:
    """Change where the configuration reads from: an upload, a server folder or another block.

    A folder path or pattern is checked to stay under the import root (relative, no `..`);
    whether a file is there is a matter of each run. A block source replaces the file
    settings and mapping with generated ones; the other kinds keep them.

    An edit of what the configuration does: the actor needs every permission its runs use and
    becomes the owner of its schedules (see the module's docstring).

    Raises NotFound or PermissionDenied (Import Data, Write, Delete Item for a clearing
    configuration; Read on a source block), Conflict when the configuration's block was
    deleted, and Invalid (field `path`, `pattern` or `source`) for a source that cannot be
    used.
    """
    with db.write() as session:
        configuration = _stored.load(session, actor, configuration_id, Permission.IMPORT_DATA)
        block = _stored.block_of(session, configuration)
        mapping = _stored.mapping_of(configuration)
        spec = connectors.checked(spec)
        if isinstance(spec, BlockSource):  # a copy brings its own file settings and mapping
            copy = _stored.block_copy(session, actor, block, spec.block_id)
            mapping = copy.mapping
            configuration.file_settings = COPY_FILE_SETTINGS.model_dump_json()
            configuration.mapping = copy.mapping.model_dump_json()
        _stored.take_over(session, actor, configuration, mapping)
        configuration.source = source_json(spec)
        configuration.updated_at = utc_now()
        configuration.checked_version = -1  # re-check now against the (new) source
        _stored.revalidated(session, configuration)
        session.flush()
        return _stored.view_of(configuration)


def source_status(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    settings: Settings,
    *,
    now: float | None = None,
) -> SourceStatus:
    """The configuration's source in words and what a run would read now (see SourceStatus),
    as its kind's connector says (`connectors.status`).

    A folder source lists the application's folder (creating it if it is missing and the
    import root exists); nothing reads a file's content. Raises NotFound or PermissionDenied
    (no Read).
    """
    view = get_configuration(db, actor, configuration_id)
    return _status_of(db, actor, view, view.source, settings, now)


def _status_of(
    db: Database,
    actor: Actor,
    view: ConfigurationView,
    spec: SourceSpec,
    settings: Settings,
    now: float | None,
) -> SourceStatus:
    shown: list[ImportFolderView] = []

    def folder() -> tuple[Path, str]:
        # Created on demand: a new application's folder exists once someone looks in it.
        found = applications.import_folder(db, actor, view.application_id, settings)
        applications.create_folder(settings, found.folder)
        shown.append(found)
        return application_root(settings.effective_import_root, found.folder), where(found.folder)

    with db.read() as session:
        context = StatusContext(
            target=_definition(session, view.block_id),
            load_block=lambda block_id: _definition(session, block_id),
            folder=folder,
            settle_seconds=settings.import_settle_seconds,
            now=time.time() if now is None else now,
            error=view.error,
        )
        state = connectors.status(spec, context)
    return SourceStatus(
        spec.kind,
        state.description,
        folder=shown[0] if shown else None,
        picked=state.picked,
        picked_modified=state.picked_modified,
        problem=state.problem,
        source_block_id=state.source_block_id,
        source_block_name=state.source_block_name,
        copied=state.copied,
        not_copied=state.not_copied,
    )


def _definition(session: Session, block_id: uuid.UUID | None) -> BlockDef | None:
    """The block's definition, or None when it was deleted (access is the caller's)."""
    block = session.get(Block, block_id) if block_id is not None else None
    return to_def(block) if block is not None else None


def preview_folder_source(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    settings: Settings,
    spec: FolderSource,
    *,
    now: float | None = None,
) -> SourceStatus:
    """What a folder source not yet saved would read now in the folder of the configuration's
    application, or why it cannot (its `problem`: a refusal of the path or pattern, or no file
    there yet).

    Lists the application's folder, so it needs what saving the source needs: Import Data
    (raises NotFound or PermissionDenied otherwise).
    """
    with db.read() as session:
        view = _stored.view_of(
            _stored.find(session, actor, configuration_id, Permission.IMPORT_DATA)
        )
    try:
        spec = check_folder_source(spec)
    except Invalid as error:
        folder = applications.import_folder(db, actor, view.application_id, settings)
        return SourceStatus("folder", "Server folder", folder=folder, problem=error.message)
    return _status_of(db, actor, view, spec, settings, now)


def current_folder_file(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    settings: Settings,
    *,
    now: float | None = None,
) -> Path:
    """The file a run of this folder-sourced configuration would read now, for its Edit to
    open the wizard on (the caller reads it; this never opens it).

    Raises NotFound or PermissionDenied (no Import Data), Conflict when the source is not a
    server folder, Invalid (field `source`) with the folder's own message when no file is
    there now (or it is still settling).
    """
    with db.read() as session:
        configuration = _stored.find(session, actor, configuration_id, Permission.IMPORT_DATA)
        spec, application_id = _stored.spec_of(configuration), configuration.application_id
    if not isinstance(spec, FolderSource):
        raise Conflict("This configuration does not read a server folder.")
    folder = applications.import_folder(db, actor, application_id, settings).folder
    root = applications.import_folder_path(db, application_id, settings.effective_import_root)
    moment = time.time() if now is None else now
    settle = settings.import_settle_seconds
    try:
        return locate(
            spec, root, now=moment, settle_seconds=settle, folder_words=where(folder)
        ).path
    except SourceUnavailable as error:
        raise Invalid(error.message, field="source") from None


def source_choices(db: Database, actor: Actor, block_id: uuid.UUID) -> list[SourceChoice]:
    """The blocks of the application that `block_id` can copy from, by name."""
    with db.read() as session:
        target = load_block(session, actor, block_id, Permission.READ)
        target_def = to_def(target)
        found = session.scalars(
            select(Block)
            .where(Block.application_id == target.application_id, Block.id != target.id)
            .order_by(Block.name)
        )
        choices = []
        for block in found:
            try:
                plan_copy(to_def(block), target_def)
            except CopyRefused:
                continue
            choices.append(SourceChoice(block.id, block.name, BlockKind(block.kind)))
        return choices
