"""Import configurations: saved recipes with a stable UUID, checked against their block.

A configuration is "in error" when it no longer fits its block (a mapped property or dimension
was removed or retyped, or the block was deleted). The check runs whenever the block's
definition version differs from the one last checked, so every read shows the current state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from planport.domain.enums import Permission
from planport.domain.errors import Conflict, Invalid, NotFound
from planport.domain.imports import Trigger
from planport.domain.members import Actor
from planport.domain.names import clean_name, name_key
from planport.engine.file_settings import FileSettings
from planport.engine.mapping import Mapping, check_mapping
from planport.services import access, imports, members, runs
from planport.services.definitions import load_block, to_def
from planport.store.db import Database
from planport.store.models import Block, ImportConfiguration, Member, utc_now


@dataclass(frozen=True, slots=True)
class ConfigurationView:
    id: uuid.UUID
    application_id: uuid.UUID
    block_id: uuid.UUID | None
    block_name: str
    name: str
    description: str
    file_settings: FileSettings
    mapping: Mapping
    error: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @property
    def in_error(self) -> bool:
        return self.error is not None


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
        _refuse_duplicate(session, block.id, clean)
        configuration = ImportConfiguration(
            application_id=block.application_id,
            block_id=block.id,
            block_name=block.name,
            name=clean,
            name_key=name_key(clean),
            description=description.strip(),
            file_settings=file_settings.model_dump_json(),
            mapping=mapping.model_dump_json(),
            checked_version=block.definition_version,
            created_by=actor.id,
        )
        session.add(configuration)
        session.flush()
        return _view(configuration)


def get_configuration(db: Database, actor: Actor, configuration_id: uuid.UUID) -> ConfigurationView:
    with db.write() as session:
        return _view(_load(session, actor, configuration_id, Permission.READ))


def list_configurations(db: Database, actor: Actor, block_id: uuid.UUID) -> list[ConfigurationView]:
    """The block's configurations by name, each re-checked if the block changed."""
    with db.write() as session:
        block = load_block(session, actor, block_id, Permission.READ)
        found = session.scalars(
            select(ImportConfiguration)
            .where(ImportConfiguration.block_id == block.id)
            .order_by(ImportConfiguration.name_key)
        )
        return [_view(_revalidated(session, c)) for c in found]


def rename_configuration(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    name: str,
    description: str | None = None,
) -> ConfigurationView:
    clean = clean_name(name, what="import configuration")
    with db.write() as session:
        configuration = _load(session, actor, configuration_id, Permission.IMPORT_DATA)
        if name_key(clean) != configuration.name_key and configuration.block_id is not None:
            _refuse_duplicate(session, configuration.block_id, clean)
        configuration.name, configuration.name_key = clean, name_key(clean)
        if description is not None:
            configuration.description = description.strip()
        configuration.updated_at = utc_now()
        session.flush()
        return _view(configuration)


def update_configuration(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    file_settings: FileSettings,
    mapping: Mapping,
) -> ConfigurationView:
    """Replace the file settings and mapping (the wizard re-opened on a new sample file)."""
    with db.write() as session:
        configuration = _load(session, actor, configuration_id, Permission.IMPORT_DATA)
        block = _block(session, configuration)
        problems = check_mapping(to_def(block), mapping)
        if problems:
            raise Invalid(" ".join(problems), field="mapping")
        configuration.file_settings = file_settings.model_dump_json()
        configuration.mapping = mapping.model_dump_json()
        configuration.checked_version = block.definition_version
        configuration.error = None
        configuration.updated_at = utc_now()
        session.flush()
        return _view(configuration)


def duplicate_configuration(
    db: Database, actor: Actor, configuration_id: uuid.UUID
) -> ConfigurationView:
    """A copy named "<name> (copy)" (numbered when taken), with a new ID."""
    with db.write() as session:
        original = _load(session, actor, configuration_id, Permission.IMPORT_DATA)
        block = _block(session, original)
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
        return _view(copy)


def delete_configuration(db: Database, actor: Actor, configuration_id: uuid.UUID) -> None:
    """Delete a configuration. (Once schedules exist, one used by a schedule is refused.)"""
    with db.write() as session:
        session.delete(_load(session, actor, configuration_id, Permission.IMPORT_DATA))


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
) -> imports.PreviewView:
    configuration = get_configuration(db, actor, configuration_id)
    _refuse_in_error(configuration)
    assert configuration.block_id is not None
    return imports.preview_import(
        db,
        actor,
        configuration.block_id,
        path,
        configuration.file_settings,
        configuration.mapping,
        rows=rows,
    )


def _refuse_in_error(configuration: ConfigurationView) -> None:
    if configuration.error is not None:
        raise Conflict(
            f"Import configuration {configuration.name!r} is in error and cannot run: "
            f"{configuration.error} Edit it to fit its block again."
        )


def _load(
    session: Session, actor: Actor, configuration_id: uuid.UUID, permission: Permission
) -> ImportConfiguration:
    configuration = session.get(ImportConfiguration, configuration_id)
    if configuration is None:
        raise NotFound("This import configuration does not exist.")
    access.require(session, actor, permission, configuration.application_id)
    return _revalidated(session, configuration)


def _block(session: Session, configuration: ImportConfiguration) -> Block:
    block = session.get(Block, configuration.block_id) if configuration.block_id else None
    if block is None:
        raise Conflict(f"The block {configuration.block_name!r} of this configuration was deleted.")
    return block


def _revalidated(session: Session, configuration: ImportConfiguration) -> ImportConfiguration:
    """Re-check the configuration when its block changed since the last check."""
    block = session.get(Block, configuration.block_id) if configuration.block_id else None
    if block is None:
        configuration.error = f"The block {configuration.block_name!r} was deleted."
        return configuration
    if block.definition_version == configuration.checked_version:
        return configuration
    configuration.block_name = block.name
    problems = check_mapping(to_def(block), _mapping(configuration))
    configuration.error = " ".join(problems) if problems else None
    configuration.checked_version = block.definition_version
    return configuration


def _refuse_duplicate(session: Session, block_id: uuid.UUID, name: str) -> None:
    taken = session.scalar(
        select(ImportConfiguration.id).where(
            ImportConfiguration.block_id == block_id, ImportConfiguration.name_key == name_key(name)
        )
    )
    if taken is not None:
        raise Conflict(
            f"This block already has an import configuration named {name!r}.", field="name"
        )


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


def _mapping(configuration: ImportConfiguration) -> Mapping:
    try:
        return Mapping.model_validate_json(configuration.mapping)
    except ValidationError:
        return Mapping()


def _view(configuration: ImportConfiguration) -> ConfigurationView:
    return ConfigurationView(
        id=configuration.id,
        application_id=configuration.application_id,
        block_id=configuration.block_id,
        block_name=configuration.block_name,
        name=configuration.name,
        description=configuration.description,
        file_settings=FileSettings.model_validate_json(configuration.file_settings),
        mapping=_mapping(configuration),
        error=configuration.error,
        created_by=configuration.created_by,
        created_at=configuration.created_at,
        updated_at=configuration.updated_at,
    )


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
