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

import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from planport.connectors import (
    BlockSource,
    FolderSource,
    GivenFile,
    SourceSpec,
    SourceUnavailable,
    UploadSource,
    needs_file,
    parse_source,
    source_json,
)
from planport.connectors.block import COPY_FILE_SETTINGS, BlockCopy, CopyRefused, plan_copy
from planport.connectors.folder import (
    application_root,
    check_folder_source,
    describe,
    locate,
    where,
)
from planport.domain.clock import utc_now
from planport.domain.enums import BlockKind, Permission
from planport.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from planport.domain.imports import Trigger
from planport.domain.members import Actor
from planport.domain.names import clean_description, clean_name, name_key
from planport.engine.file_settings import FileSettings
from planport.engine.mapping import Mapping, check_mapping, with_target_names
from planport.scheduling import describe as describe_times
from planport.services import access, applications, imports, members, runs, schedules
from planport.services.applications import ImportFolderView
from planport.services.definitions import load_block, to_def
from planport.services.schedules import stored_times
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import Block, ImportConfiguration, ImportSchedule, Member


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

    @property
    def schedulable(self) -> bool:
        """Whether it can run by itself (a schedule): its source needs no file given at run
        time. Being in error is separate: a schedule of a configuration in error fails."""
        return not needs_file(self.source)

    @property
    def not_schedulable_reason(self) -> str | None:
        """Why it cannot be scheduled, in words for the user; None when it can."""
        return None if self.schedulable else UPLOAD_NOT_SCHEDULABLE


UPLOAD_NOT_SCHEDULABLE = (
    "This configuration imports a file given with each run (an upload); it cannot run by "
    "itself. Change its source to a server folder or another block to schedule it."
)
SOURCE_BLOCK_DELETED = "The source block of this configuration was deleted; choose another source."


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
            description=clean_description(description, what="import configuration"),
            file_settings=file_settings.model_dump_json(),
            mapping=with_target_names(to_def(block), mapping).model_dump_json(),
            checked_version=block.definition_version,
            created_by=actor.id,
        )
        session.add(configuration)
        session.flush()
        return _view(configuration)


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
        copy = _block_copy(session, actor, block, source_block_id)
        _refuse_duplicate(session, block.id, clean)
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
        return _view(configuration)


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
        configuration = _load(session, actor, configuration_id, Permission.IMPORT_DATA)
        block = _block(session, configuration)
        mapping = _mapping(configuration)
        if isinstance(spec, GivenFile):
            raise Invalid(
                "A configuration reads from an upload, a server folder or another block; a "
                "given file belongs to one run.",
                field="source",
            )
        if isinstance(spec, FolderSource):
            spec = check_folder_source(spec)
        if isinstance(spec, BlockSource):
            copy = _block_copy(session, actor, block, spec.block_id)
            mapping = copy.mapping
            configuration.file_settings = COPY_FILE_SETTINGS.model_dump_json()
            configuration.mapping = copy.mapping.model_dump_json()
        _take_over(session, actor, configuration, mapping)
        configuration.source = source_json(spec)
        configuration.updated_at = utc_now()
        configuration.checked_version = -1  # re-check now against the (new) source
        _revalidated(session, configuration)
        session.flush()
        return _view(configuration)


def source_status(
    db: Database,
    actor: Actor,
    configuration_id: uuid.UUID,
    settings: Settings,
    *,
    now: float | None = None,
) -> SourceStatus:
    """The configuration's source in words and what a run would read now (see SourceStatus).

    Reads the listing of the application's folder for a folder source (creating the folder
    if it is missing and the import root exists); never reads a file's content. Raises
    NotFound or PermissionDenied (no Read).
    """
    view = get_configuration(db, actor, configuration_id)
    spec = view.source
    if isinstance(spec, FolderSource):
        folder = applications.import_folder(db, actor, view.application_id, settings)
        return _folder_status(spec, settings, folder, time.time() if now is None else now)
    if isinstance(spec, BlockSource):
        with db.read() as session:
            return _block_status(session, view, spec)
    return SourceStatus("upload", "A file given with each run (upload)")


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
        configuration = _load(session, actor, configuration_id, Permission.IMPORT_DATA)
        application_id = configuration.application_id
    folder = applications.import_folder(db, actor, application_id, settings)
    try:
        spec = check_folder_source(spec)
    except Invalid as error:
        return SourceStatus("folder", "Server folder", folder=folder, problem=error.message)
    return _folder_status(spec, settings, folder, time.time() if now is None else now)


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
        configuration = _load(session, actor, configuration_id, Permission.IMPORT_DATA)
        spec, application_id = _spec(configuration), configuration.application_id
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


def get_configuration(db: Database, actor: Actor, configuration_id: uuid.UUID) -> ConfigurationView:
    """The configuration, re-checked against its block if that changed.

    A read: the re-check is shown, not stored (the scheduler's tick and every edit store it),
    so opening a page never waits for a write, such as an import's, on SQLite."""
    with db.read() as session, session.no_autoflush:
        view = _view(_load(session, actor, configuration_id, Permission.READ))
        return replace(
            view,
            schedule_count=len(schedules.schedules_of(session, configuration_id)),
            schedules_taken_over=schedules.others_owning(session, configuration_id, actor),
        )


def list_configurations(db: Database, actor: Actor, block_id: uuid.UUID) -> list[ConfigurationView]:
    """The block's configurations by name, each re-checked if the block changed (shown, not
    stored: see `get_configuration`)."""
    with db.read() as session, session.no_autoflush:
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
    """Rename it (and change its description). It does the same as before, so this needs
    Import Data only and its schedules keep their owner. Raises Conflict on a duplicate name."""
    clean = clean_name(name, what="import configuration")
    with db.write() as session:
        configuration = _load(session, actor, configuration_id, Permission.IMPORT_DATA)
        if name_key(clean) != configuration.name_key and configuration.block_id is not None:
            _refuse_duplicate(session, configuration.block_id, clean)
        configuration.name, configuration.name_key = clean, name_key(clean)
        if description is not None:
            configuration.description = clean_description(description, what="import configuration")
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
    """Replace the file settings and mapping (the wizard re-opened on a new sample file).

    An edit of what the configuration does: the actor needs every permission its runs use and
    becomes the owner of its schedules (see the module's docstring).

    Raises NotFound, PermissionDenied (Import Data, Write, Delete Item when `mapping` clears),
    Conflict when its block was deleted and Invalid (field `mapping`) when it does not fit.
    """
    with db.write() as session:
        configuration = _load(session, actor, configuration_id, Permission.IMPORT_DATA)
        block = _block(session, configuration)
        problems = check_mapping(to_def(block), mapping)
        if problems:
            raise Invalid(" ".join(problems), field="mapping")
        _take_over(session, actor, configuration, mapping)
        configuration.file_settings = file_settings.model_dump_json()
        configuration.mapping = with_target_names(to_def(block), mapping).model_dump_json()
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
    """Delete a configuration. Raises Conflict, naming the schedules, while any uses it (a
    deleted configuration would silently stop imports people rely on)."""
    with db.write() as session:
        configuration = _load(session, actor, configuration_id, Permission.IMPORT_DATA)
        _refuse_if_scheduled(session, configuration)
        session.delete(configuration)


def _take_over(
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
    missing = [p for p in imports.run_permissions(mapping) if p not in held]
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
    schedules.take_over(session, configuration.id, actor)


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
        words = describe_times(stored_times(schedule))
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
            f"{configuration.error} Use Edit on its page to fit it to its block again; it "
            "keeps its ID."
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


def revalidate(session: Session, configuration: ImportConfiguration) -> ImportConfiguration:
    """Re-check the configuration against its block (and source) in the caller's session;
    its `error` then says whether it can run (the scheduler asks before each fire)."""
    return _revalidated(session, configuration)


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


def _revalidated(session: Session, configuration: ImportConfiguration) -> ImportConfiguration:
    """Re-check the configuration when its block changed since the last check; a block
    source every time (its source block may have changed or gone)."""
    block = session.get(Block, configuration.block_id) if configuration.block_id else None
    if block is None:
        configuration.error = f"The block {configuration.block_name!r} was deleted."
        return configuration
    spec = _spec(configuration)
    if is_checked(spec, block.definition_version, configuration.checked_version):
        return configuration
    if isinstance(spec, BlockSource):
        _recheck_copy(session, configuration, block, spec)
        return configuration
    configuration.block_name = block.name
    problems = check_mapping(to_def(block), _mapping(configuration))
    configuration.error = " ".join(problems) if problems else None
    configuration.checked_version = block.definition_version
    return configuration


def _recheck_copy(
    session: Session, configuration: ImportConfiguration, block: Block, spec: BlockSource
) -> None:
    """A block source fits while the copy can be planned; the generated mapping follows both
    definitions (a property added to both is copied from then on)."""
    configuration.block_name = block.name
    configuration.checked_version = block.definition_version
    source = session.get(Block, spec.block_id)
    if source is None:
        configuration.error = SOURCE_BLOCK_DELETED
        return
    try:
        copy = plan_copy(to_def(source), to_def(block))
    except CopyRefused as error:
        configuration.error = error.message
        return
    generated = copy.mapping.model_dump_json()
    if configuration.mapping != generated:
        configuration.mapping = generated
    configuration.error = None


def _block_copy(session: Session, actor: Actor, target: Block, source_id: uuid.UUID) -> BlockCopy:
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


def _folder_status(
    spec: FolderSource, settings: Settings, folder: ImportFolderView, now: float
) -> SourceStatus:
    # Created on demand: a new application's folder exists once someone looks for files in it.
    applications.create_folder(settings, folder.folder)
    root = application_root(settings.effective_import_root, folder.folder)
    description = f"Server folder: {describe(spec)}"
    try:
        found = locate(
            spec,
            root,
            now=now,
            settle_seconds=settings.import_settle_seconds,
            folder_words=where(folder.folder),
        )
    except SourceUnavailable as error:
        return SourceStatus("folder", description, folder=folder, problem=error.message)
    modified = datetime.fromtimestamp(found.modified, UTC)
    return SourceStatus(
        "folder", description, folder=folder, picked=found.name, picked_modified=modified
    )


def _block_status(session: Session, view: ConfigurationView, spec: BlockSource) -> SourceStatus:
    source = session.get(Block, spec.block_id)
    target = session.get(Block, view.block_id) if view.block_id else None
    if source is None or target is None:
        return SourceStatus(
            "block", "Another block (deleted)", problem=view.error or SOURCE_BLOCK_DELETED
        )
    description = f"Another block: {source.name}"
    try:
        copy = plan_copy(to_def(source), to_def(target))
    except CopyRefused as error:
        return SourceStatus(
            "block",
            description,
            source_block_id=source.id,
            source_block_name=source.name,
            problem=error.message,
        )
    return SourceStatus(
        "block",
        description,
        source_block_id=source.id,
        source_block_name=source.name,
        copied=copy.copied,
        not_copied=copy.not_copied,
    )


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


def _spec(configuration: ImportConfiguration) -> SourceSpec:
    """The stored source; an unreadable one counts as an upload (nothing runs by itself)."""
    try:
        return parse_source(configuration.source)
    except Invalid:
        return UploadSource()


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
        source=_spec(configuration),
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
