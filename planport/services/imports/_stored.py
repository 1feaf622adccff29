"""A stored import configuration as values, and the statements every configuration use case
shares: load with access, re-check against its block, plan a block copy, take over its
schedules. Private to services.imports (`configurations` and `sources` build on it).

A stored row that no longer parses shows as the neutral value (an empty mapping, an upload
source) rather than failing the page that reads it: the configuration is then in error or
not schedulable, and an edit repairs it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from planport.connectors import BlockSource, SourceSpec, UploadSource, needs_file, parse_source
from planport.connectors.block import SOURCE_BLOCK_DELETED, BlockCopy, CopyRefused, plan_copy
from planport.domain.enums import Permission
from planport.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from planport.domain.file_settings import FileSettings
from planport.domain.mapping import Mapping, check_mapping
from planport.domain.members import Actor
from planport.domain.names import name_key
from planport.domain.runnable import Blocker, NotRunnable, why_not_runnable
from planport.services.blocks.definitions import load_block, to_def
from planport.services.imports.block_import import run_permissions
from planport.services.workspace import access
from planport.store.models import Block, ImportConfiguration, ImportSchedule


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
    source: SourceSpec = field(default_factory=UploadSource)
    # For the member reading it (`get_configuration`): its schedules, and how many of them
    # an edit of what it does would make theirs.
    schedule_count: int = 0
    schedules_taken_over: int = 0

    @property
    def in_error(self) -> bool:
        return self.error is not None

    def not_runnable(self, *, file_given: bool = False) -> NotRunnable | None:
        """Why it cannot run (by itself, unless `file_given`), or None when it can."""
        return why_not_runnable(
            block_name=self.block_name,
            has_block=self.block_id is not None,
            error=self.error,
            source=self.source,
            file_given=file_given,
        )

    @property
    def schedulable(self) -> bool:
        """Whether it can run by itself (a schedule): its source needs no file given at run
        time. Being in error is separate: a schedule of a configuration in error fails."""
        return not needs_file(self.source)

    @property
    def not_schedulable_reason(self) -> str | None:
        """Why it cannot be scheduled, in words for the user; None when it can."""
        return None if self.schedulable else UPLOAD_NOT_SCHEDULABLE


UPLOAD_NOT_SCHEDULABLE = NotRunnable(Blocker.UPLOAD).said_of("This configuration")


def take_over(
    session: Session, actor: Actor, configuration: ImportConfiguration, mapping: Mapping
) -> None:
    """The rule for an edit of what a configuration does: the actor holds every permission a
    run with `mapping` uses, and becomes the owner of the configuration's schedules.

    Why both: the rights check gives the editor a clear refusal now rather than a failed run
    tonight; the ownership makes sure no schedule ever runs someone's edit with someone
    else's rights, whatever a run may come to need. Raises PermissionDenied naming what is
    missing.
    """
    held = access.permissions_in(session, actor, configuration.application_id)
    missing = [p for p in run_permissions(mapping) if p not in held]
    if missing:
        labels = " and ".join(p.label for p in missing)
        why = (
            " (its runs clear items of the block first)"
            if Permission.DELETE_ITEM in missing
            else ""
        )
        raise PermissionDenied(
            f"You need the {labels} permission{'s' if len(missing) > 1 else ''} to change "
            f"what {configuration.name!r} imports: its runs use "
            f"{'them' if len(missing) > 1 else 'it'}{why}, and its schedules would run your "
            "change with your rights. Ask an application admin to make the change."
        )
    take_over_schedules(session, configuration.id, actor)


def find(
    session: Session, actor: Actor, configuration_id: uuid.UUID, permission: Permission
) -> ImportConfiguration:
    """The stored configuration, if `actor` has `permission` in its application; as stored
    (not re-checked). Raises NotFound or PermissionDenied."""
    configuration = session.get(ImportConfiguration, configuration_id)
    if configuration is None:
        raise NotFound("This import configuration does not exist.")
    access.require(session, actor, permission, configuration.application_id)
    return configuration


def load(
    session: Session, actor: Actor, configuration_id: uuid.UUID, permission: Permission
) -> ImportConfiguration:
    """`find`, re-checked and the check stored on the row: for the use cases that edit it."""
    return revalidated(session, find(session, actor, configuration_id, permission))


def block_of(session: Session, configuration: ImportConfiguration) -> Block:
    block = session.get(Block, configuration.block_id) if configuration.block_id else None
    if block is None:
        raise Conflict(f"The block {configuration.block_name!r} of this configuration was deleted.")
    return block


def revalidate(session: Session, configuration: ImportConfiguration) -> ImportConfiguration:
    """Re-check the configuration against its block (and source) in the caller's session;
    its `error` then says whether it can run (the scheduler asks before each fire)."""
    return revalidated(session, configuration)


def is_checked(source: SourceSpec, definition_version: int | None, checked_version: int) -> bool:
    """Whether `revalidate` would leave a configuration as it is, so its stored `error` holds:
    its block exists (`definition_version` is None when it was deleted), was not changed
    since the last check, and the source is not a block (re-checked every time). A caller
    reading many configurations as plain columns (a scheduler tick) revalidates only the
    others."""
    return (
        definition_version is not None
        and definition_version == checked_version
        and not isinstance(source, BlockSource)
    )


@dataclass(frozen=True, slots=True)
class CurrentCheck:
    """What re-checking a configuration finds now: its error, its block's name, its mapping
    (generated again for a block copy) and the block version it was checked against."""

    error: str | None
    block_name: str
    mapping: str
    checked_version: int


def current_check(session: Session, configuration: ImportConfiguration) -> CurrentCheck:
    """The configuration re-checked against its block now, without changing its row (reads
    write nothing: on SQLite a page never waits behind an import's write).

    Only when its block changed since the last check, and a block source every time (its
    source block may have changed or gone); a property added to both blocks of a copy is
    copied from then on."""
    stored = CurrentCheck(
        configuration.error,
        configuration.block_name,
        configuration.mapping,
        configuration.checked_version,
    )
    block = session.get(Block, configuration.block_id) if configuration.block_id else None
    if block is None:
        return replace(stored, error=f"The block {configuration.block_name!r} was deleted.")
    spec = spec_of(configuration)
    if is_checked(spec, block.definition_version, configuration.checked_version):
        return stored
    checked = replace(stored, block_name=block.name, checked_version=block.definition_version)
    if isinstance(spec, BlockSource):
        source = session.get(Block, spec.block_id)
        if source is None:
            return replace(checked, error=SOURCE_BLOCK_DELETED)
        try:
            copy = plan_copy(to_def(source), to_def(block))
        except CopyRefused as error:
            return replace(checked, error=error.message)
        return replace(checked, error=None, mapping=copy.mapping.model_dump_json())
    problems = check_mapping(to_def(block), mapping_of(configuration))
    return replace(checked, error=" ".join(problems) if problems else None)


def revalidated(session: Session, configuration: ImportConfiguration) -> ImportConfiguration:
    """The configuration with `current_check` stored on its row (edits, the scheduler)."""
    check = current_check(session, configuration)
    configuration.error = check.error
    configuration.block_name = check.block_name
    configuration.checked_version = check.checked_version
    if configuration.mapping != check.mapping:
        configuration.mapping = check.mapping
    return configuration


def current_view(session: Session, configuration: ImportConfiguration) -> ConfigurationView:
    """The configuration as `current_check` finds it now, its row left as stored."""
    check = current_check(session, configuration)
    return replace(
        view_of(configuration),
        error=check.error,
        block_name=check.block_name,
        mapping=_parsed_mapping(check.mapping),
    )


def block_copy(session: Session, actor: Actor, target: Block, source_id: uuid.UUID) -> BlockCopy:
    """The planned copy of block `source_id` into `target`. Raises Invalid (field `source`),
    or PermissionDenied without Read on the source."""
    if source_id == target.id:
        raise Invalid(
            f"{target.name!r} cannot be copied from itself; choose another block.", field="source"
        )
    try:
        source = load_block(session, actor, source_id, Permission.READ)
    except NotFound:
        raise Invalid("The source block does not exist.", field="source") from None
    try:
        return plan_copy(to_def(source), to_def(target))
    except CopyRefused as error:
        raise Invalid(error.message, field="source") from None


def refuse_duplicate(session: Session, block_id: uuid.UUID, name: str) -> None:
    taken = session.scalar(
        select(ImportConfiguration.id).where(
            ImportConfiguration.block_id == block_id, ImportConfiguration.name_key == name_key(name)
        )
    )
    if taken is not None:
        raise Conflict(
            f"This block already has an import configuration named {name!r}.", field="name"
        )


def mapping_of(configuration: ImportConfiguration) -> Mapping:
    return _parsed_mapping(configuration.mapping)


def _parsed_mapping(stored: str) -> Mapping:
    try:
        return Mapping.model_validate_json(stored)
    except ValidationError:
        return Mapping()


def spec_of(configuration: ImportConfiguration) -> SourceSpec:
    """The stored source; an unreadable one counts as an upload (nothing runs by itself)."""
    try:
        return parse_source(configuration.source)
    except Invalid:
        return UploadSource()


def view_of(configuration: ImportConfiguration) -> ConfigurationView:
    return ConfigurationView(
        id=configuration.id,
        application_id=configuration.application_id,
        block_id=configuration.block_id,
        block_name=configuration.block_name,
        name=configuration.name,
        description=configuration.description,
        file_settings=FileSettings.model_validate_json(configuration.file_settings),
        mapping=mapping_of(configuration),
        error=configuration.error,
        created_by=configuration.created_by,
        created_at=configuration.created_at,
        updated_at=configuration.updated_at,
        source=spec_of(configuration),
    )


def schedules_of(session: Session, configuration_id: uuid.UUID) -> list[ImportSchedule]:
    """The configuration's schedules (used to refuse deleting a configuration in use)."""
    return list(
        session.scalars(
            select(ImportSchedule)
            .where(ImportSchedule.configuration_id == configuration_id)
            .order_by(ImportSchedule.created_at)
        )
    )


def take_over_schedules(session: Session, configuration_id: uuid.UUID, actor: Actor) -> int:
    """Make `actor` the owner of every schedule of the configuration, in the caller's
    transaction; returns how many changed owner.

    Called when someone edits what the configuration does (its source, file settings or
    mapping): the schedules then run what that member chose with that member's rights, never
    with the rights of whoever scheduled it before (a confused deputy).
    """
    changed = 0
    for schedule in schedules_of(session, configuration_id):
        if schedule.owner_id != actor.id:
            schedule.owner_id = actor.id
            changed += 1
    return changed


def others_owning(session: Session, configuration_id: uuid.UUID, actor: Actor) -> int:
    """How many of the configuration's schedules `actor` does not own (an edit of what the
    configuration does would make `actor` their owner)."""
    return sum(1 for s in schedules_of(session, configuration_id) if s.owner_id != actor.id)
