"""Import configurations: saved recipes with a stable UUID, checked against their block.

A configuration is "in error" when it no longer fits its block (a mapped property or dimension
was removed or retyped, or the block was deleted). The check runs whenever the block's
definition version differs from the one last checked, so every read shows the current state.

Each configuration has a source (connectors.specs): a file given with each run (upload), a
file in a server folder, or another block. A block source is re-checked on every read, since
its source block can be reshaped or deleted without the target's version changing; its file
settings and mapping are generated from both definitions (connectors.block.plan_copy).

Editing what a configuration does (its source, file settings, mapping or options) borrows
nobody's rights: the editor needs every permission its runs use (`imports.run_permissions`),
and becomes the owner of its schedules, which then run with the editor's rights. Renaming it
or changing its description needs Import Data only and changes no owner.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from planport.connectors import (
    BlockSource,
    source_json,
)
from planport.connectors.block import COPY_FILE_SETTINGS, SOURCE_BLOCK_DELETED
from planport.domain.clock import utc_now
from planport.domain.enums import Permission
from planport.domain.errors import Conflict, Invalid, NotFound
from planport.domain.file_settings import FileSettings
from planport.domain.imports import Trigger
from planport.domain.mapping import Mapping, check_mapping, with_target_names
from planport.domain.members import Actor
from planport.domain.names import clean_description, clean_name, name_key
from planport.scheduling import describe as describe_times
from planport.scheduling import parsed_times
from planport.services.blocks.definitions import load_block, to_def
from planport.services.imports import _stored, preview, runs

# The stored configuration's value and checks live in the private `_stored`; this module is
# their public face (see __all__).
from planport.services.imports._stored import (
    UPLOAD_NOT_SCHEDULABLE,
    ConfigurationView,
    is_checked,
    revalidate,
)
from planport.services.workspace import access, members
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportSchedule, Member

__all__ = [
    "SOURCE_BLOCK_DELETED",
    "UPLOAD_NOT_SCHEDULABLE",
    "ConfigurationView",
    "configuration_names",
    "create_block_configuration",
    "delete_configuration",
    "duplicate_configuration",
    "get_configuration",
    "is_checked",
    "list_configurations",
    "owner_of",
    "preview_configuration",
    "rename_configuration",
    "revalidate",
    "run_configuration",
    "save_configuration",
    "update_configuration",
]


def save_configuration(
    db: Database,
    actor: Actor,
    block_id: uuid.UUID,
    name: str,
    file_settings: FileSettings,
    mapping: Mapping,
    description: str = "",
) -> ConfigurationView:
    """Save a new configuration for the block. Raises Conflict on a duplicate name in the block
    and Invalid when the mapping does not fit the block."""
    clean = clean_name(name, what="import configuration")
    with db.write() as session:
        block = load_block(session, actor, block_id, Permission.IMPORT_DATA)
        problems = check_mapping(to_def(block), mapping)
        if problems:
            raise Invalid(" ".join(problems), field="mapping")
        _stored.refuse_duplicate(session, block.id, clean)
        configuration = ImportConfiguration(
            application_id=block.application_id,
            block_id=block.id,
            block_name=block.name,
            name=clean,
            name_key=name_key(clean),
            description=clean_description(description, what="import configuration"),
            file_settings=file_settings.model_dump_json(),
            mapping=with_target_names(to_def(block), mapping).model_dump_json(),
            checked_version=block.definition_version,
            created_by=actor.id,
        )
        session.add(configuration)
        session.flush()
        return _stored.view_of(configuration)


def create_block_configuration(
    db: Database,
    actor: Actor,
    target_block_id: uuid.UUID,
    source_block_id: uuid.UUID,
    name: str,
    description: str = "",
) -> ConfigurationView:
    """Save a configuration that copies another block of the application into the target,
    with file settings and mapping generated from both definitions (no sample file needed).

    Raises NotFound or PermissionDenied (Import Data on the target, Read on the source),
    Invalid (field `source`) when the source does not fit the target (the message names what
    differs) and Conflict on a duplicate name in the block.
    """
    clean = clean_name(name, what="import configuration")
    with db.write() as session:
        block = load_block(session, actor, target_block_id, Permission.IMPORT_DATA)
        copy = _stored.block_copy(session, actor, block, source_block_id)
        _stored.refuse_duplicate(session, block.id, clean)
        configuration = ImportConfiguration(
            application_id=block.application_id,
            block_id=block.id,
            block_name=block.name,
            name=clean,
            name_key=name_key(clean),
            description=clean_description(description, what="import configuration"),
            source=source_json(BlockSource(block_id=source_block_id)),
            file_settings=COPY_FILE_SETTINGS.model_dump_json(),
            mapping=copy.mapping.model_dump_json(),
            checked_version=block.definition_version,
            created_by=actor.id,
        )
        session.add(configuration)
        session.flush()
        return _stored.view_of(configuration)


def get_configuration(db: Database, actor: Actor, configuration_id: uuid.UUID) -> ConfigurationView:
    """The configuration, re-checked against its block if that changed.

    A read: the re-check is shown, not stored (the scheduler's tick and every edit store it),
    so opening a page never waits for a write, such as an import's, on SQLite."""
    with db.read() as session:
        found = _stored.find(session, actor, configuration_id, Permission.READ)
        view = _stored.current_view(session, found)
        return replace(
            view,
            schedule_count=len(_stored.schedules_of(session, configuration_id)),
            schedules_taken_over=_stored.others_owning(session, configuration_id, actor),
        )


def list_configurations(db: Database, actor: Actor, block_id: uuid.UUID) -> list[ConfigurationView]:
    """The block's configurations by name, each re-checked if the block changed (shown, not
    stored: see `get_configuration`)."""
    with db.read() as session:
        block = load_block(session, actor, block_id, Permission.READ)
        found = session.scalars(
            select(ImportConfiguration)
            .where(ImportConfiguration.block_id == block.id)
            .order_by(ImportConfiguration.name_key)
        )
        return [_stored.current_view(session, c) for c in found]


def configuration_names(
    db: Database,
    actor: Actor,
    *,
    application_id: uuid.UUID | None = None,
    block_id: uuid.UUID | None = None,
) -> list[tuple[uuid.UUID, str]]:
    """(id, name) of the configurations `actor` may read, by name: of one block, of one
    application, or of every application they read (the Import API's metadata)."""
    with db.read() as session:
        query = select(
            ImportConfiguration.id, ImportConfiguration.name, ImportConfiguration.application_id
        ).order_by(ImportConfiguration.name_key, ImportConfiguration.id)
        if block_id is not None:
            query = query.where(ImportConfiguration.block_id == block_id)
        if application_id is not None:
            query = query.where(ImportConfiguration.application_id == application_id)
        readable: dict[uuid.UUID, bool] = {}
        found = []
        for id_, name, app_id in session.execute(query):
            if app_id not in readable:
                readable[app_id] = access.may_in(session, actor, Permission.READ, app_id)
            if readable[app_id]:
                found.append((id_, name))
        return found


def rename_configuration(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    name: str,
    description: str | None = None,
) -> ConfigurationView:
    """Rename it (and change its description). It does the same as before, so this needs
    Import Data only and its schedules keep their owner. Raises Conflict on a duplicate name."""
    clean = clean_name(name, what="import configuration")
    with db.write() as session:
        configuration = _stored.load(session, actor, configuration_id, Permission.IMPORT_DATA)
        if name_key(clean) != configuration.name_key and configuration.block_id is not None:
            _stored.refuse_duplicate(session, configuration.block_id, clean)
        configuration.name, configuration.name_key = clean, name_key(clean)
        if description is not None:
            configuration.description = clean_description(description, what="import configuration")
        configuration.updated_at = utc_now()
        session.flush()
        return _stored.view_of(configuration)


def update_configuration(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    file_settings: FileSettings,
    mapping: Mapping,
) -> ConfigurationView:
    """Replace the file settings and mapping (the wizard re-opened on a new sample file).

    An edit of what the configuration does: the actor needs every permission its runs use and
    becomes the owner of its schedules (see the module's docstring).

    Raises NotFound, PermissionDenied (Import Data, Write, Delete Item when `mapping` clears),
    Conflict when its block was deleted and Invalid (field `mapping`) when it does not fit.
    """
    with db.write() as session:
        configuration = _stored.load(session, actor, configuration_id, Permission.IMPORT_DATA)
        block = _stored.block_of(session, configuration)
        problems = check_mapping(to_def(block), mapping)
        if problems:
            raise Invalid(" ".join(problems), field="mapping")
        _stored.take_over(session, actor, configuration, mapping)
        configuration.file_settings = file_settings.model_dump_json()
        configuration.mapping = with_target_names(to_def(block), mapping).model_dump_json()
        configuration.checked_version = block.definition_version
        configuration.error = None
        configuration.updated_at = utc_now()
        session.flush()
        return _stored.view_of(configuration)


def duplicate_configuration(
    db: Database, actor: Actor, configuration_id: uuid.UUID
) -> ConfigurationView:
    """A copy named "<name> (copy)" (numbered when taken), with a new ID."""
    with db.write() as session:
        original = _stored.load(session, actor, configuration_id, Permission.IMPORT_DATA)
        block = _stored.block_of(session, original)
        name = _free_copy_name(session, block.id, original.name)
        copy = ImportConfiguration(
            application_id=original.application_id,
            block_id=block.id,
            block_name=block.name,
            name=name,
            name_key=name_key(name),
            description=original.description,
            source=original.source,
            file_settings=original.file_settings,
            mapping=original.mapping,
            checked_version=original.checked_version,
            error=original.error,
            created_by=actor.id,
        )
        session.add(copy)
        session.flush()
        return _stored.view_of(copy)


def delete_configuration(db: Database, actor: Actor, configuration_id: uuid.UUID) -> None:
    """Delete a configuration. Raises Conflict, naming the schedules, while any uses it (a
    deleted configuration would silently stop imports people rely on)."""
    with db.write() as session:
        configuration = _stored.load(session, actor, configuration_id, Permission.IMPORT_DATA)
        _refuse_if_scheduled(session, configuration)
        session.delete(configuration)


def _refuse_if_scheduled(session: Session, configuration: ImportConfiguration) -> None:
    found = session.scalars(
        select(ImportSchedule)
        .where(ImportSchedule.configuration_id == configuration.id)
        .order_by(ImportSchedule.created_at)
    ).all()
    if not found:
        return
    described = "; ".join(_schedule_words(schedule) for schedule in found)
    raise Conflict(
        f"Import configuration {configuration.name!r} is used by {len(found)} "
        f"schedule{'s' if len(found) > 1 else ''}: {described}. Delete "
        f"{'them' if len(found) > 1 else 'it'} on the Import Scheduling page first.",
        field="delete",
    )


def _schedule_words(schedule: ImportSchedule) -> str:
    try:
        words = describe_times(
            parsed_times(schedule.start_local, schedule.time_zone, schedule.repeat)
        )
    except Invalid:
        words = "a schedule that cannot be evaluated"
    return words if schedule.enabled else f"{words}, off"


def run_configuration(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    path: Path,
    *,
    file_name: str | None = None,
    trigger: Trigger = Trigger.MANUAL,
    on_progress: runs.Progress | None = None,
) -> runs.RunView:
    """Run the configuration on a new file. Refused (Conflict) while it is in error."""
    configuration = get_configuration(db, actor, configuration_id)
    _refuse_in_error(configuration)
    assert configuration.block_id is not None
    return runs.run_import(
        db,
        actor,
        configuration.block_id,
        path,
        configuration.file_settings,
        configuration.mapping,
        file_name=file_name,
        trigger=trigger,
        configuration_id=configuration.id,
        on_progress=on_progress,
    )


def preview_configuration(
    db: Database, actor: Actor, configuration_id: uuid.UUID, path: Path, *, rows: int | None = 1000
) -> preview.PreviewView:
    configuration = get_configuration(db, actor, configuration_id)
    _refuse_in_error(configuration)
    assert configuration.block_id is not None
    return preview.preview_import(
        db,
        actor,
        configuration.block_id,
        path,
        configuration.file_settings,
        configuration.mapping,
        rows=rows,
    )


def _refuse_in_error(configuration: ConfigurationView) -> None:
    """Refuse (Conflict) a run with a given file of a configuration that cannot run."""
    not_runnable = configuration.not_runnable(file_given=True)
    if not_runnable is not None:
        raise Conflict(not_runnable.message(configuration.name))


def _free_copy_name(session: Session, block_id: uuid.UUID, name: str) -> str:
    taken = set(
        session.scalars(
            select(ImportConfiguration.name_key).where(ImportConfiguration.block_id == block_id)
        )
    )
    candidate, number = f"{name} (copy)", 2
    while name_key(candidate) in taken:
        candidate, number = f"{name} (copy {number})", number + 1
    return candidate


def owner_of(db: Database, configuration_id: uuid.UUID) -> Actor:
    """The member who saved the configuration (the command line acts as them by default).

    Raises NotFound for an unknown configuration or one whose owner was removed.
    """
    with db.read() as session:
        configuration = session.get(ImportConfiguration, configuration_id)
        if configuration is None:
            raise NotFound("This import configuration does not exist.")
        owner = session.get(Member, configuration.created_by) if configuration.created_by else None
        if owner is None:
            raise NotFound(
                "The owner of this import configuration no longer exists; use --as EMAIL."
            )
        email = owner.email
    return members.actor_for(db, email)
