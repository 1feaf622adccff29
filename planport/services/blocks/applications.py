"""Applications: create, rename, list, delete (with their blocks' tables), and each one's
server folder under the import root (where its configurations' folder sources read)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planport.connectors.folder import (
    application_root,
    check_application_folder,
    create_application_folder,
    folder_slug,
    folders_overlap,
)
from planport.domain.enums import Permission
from planport.domain.errors import Conflict, NotFound, PermissionDenied
from planport.domain.members import Actor
from planport.domain.names import clean_description, clean_name, name_key
from planport.services.workspace import access
from planport.settings import Settings
from planport.store import block_tables
from planport.store.db import Database
from planport.store.models import Application, ApplicationMember, Block


@dataclass(frozen=True, slots=True)
class ApplicationView:
    id: uuid.UUID
    name: str
    description: str
    created_at: datetime
    block_count: int
    permissions: frozenset[Permission]

    def can(self, permission: Permission | str) -> bool:
        return Permission(permission) in self.permissions


def create_application(
    db: Database, actor: Actor, name: str, description: str = ""
) -> ApplicationView:
    """Create an application; its creator gets the Admin role in it.

    Only workspace admins create applications (as in Pigment). Raises Conflict on a duplicate
    name (names compare case-insensitively).
    """
    if not actor.is_admin:
        raise PermissionDenied("Only workspace admins can create applications.")
    clean = clean_name(name, what="application")
    with db.write() as session:
        _refuse_duplicate(session, clean)
        application = Application(
            name=clean,
            name_key=name_key(clean),
            description=clean_description(description, what="application"),
            created_by=actor.id,
            import_folder=free_import_folder(session, clean),
        )
        session.add(application)
        session.flush()
        roles = access.seed_default_roles(session, application)
        session.add(
            ApplicationMember(
                application_id=application.id, member_id=actor.id, role_id=roles["Admin"].id
            )
        )
        session.flush()
        return _view(session, actor, application)


def rename_application(
    db: Database, actor: Actor, application_id: uuid.UUID, name: str, description: str | None = None
) -> ApplicationView:
    clean = clean_name(name, what="application")
    with db.write() as session:
        application = access.require(session, actor, Permission.MANAGE_APPLICATION, application_id)
        if application.name_key != name_key(clean):
            _refuse_duplicate(session, clean)
        application.name, application.name_key = clean, name_key(clean)
        if description is not None:
            application.description = clean_description(description, what="application")
        session.flush()
        return _view(session, actor, application)


def delete_application(
    db: Database, actor: Actor, application_id: uuid.UUID, *, confirm_name: str | None = None
) -> None:
    """Delete an application, its blocks and their data tables, in one transaction.

    An application that holds blocks is deleted only when `confirm_name` repeats its name:
    the data cannot be recovered. Raises Conflict otherwise, saying what would be lost.
    """
    with db.write() as session:
        application = access.require(session, actor, Permission.MANAGE_APPLICATION, application_id)
        blocks = session.scalars(select(Block).where(Block.application_id == application_id)).all()
        if blocks and (confirm_name or "").strip() != application.name:
            raise Conflict(
                f"Application {application.name!r} holds {len(blocks)} block(s) and their data. "
                "Type its name to confirm the deletion.",
                field="confirm_name",
            )
        connection = session.connection()
        for block in blocks:
            block_tables.drop_block_table(connection, block.table_name)
        # Properties and metric dimensions reference blocks with RESTRICT; remove the blocks'
        # definitions before the application so the cascade has nothing in its way.
        for block in blocks:
            block.properties.clear()
            block.dimensions.clear()
        session.flush()
        for block in blocks:
            session.delete(block)
        session.flush()
        session.delete(application)


def list_applications(db: Database, actor: Actor) -> list[ApplicationView]:
    """Applications the actor can read, by name."""
    with db.read() as session:
        query = select(Application).order_by(Application.name_key)
        if not actor.is_admin:
            query = query.join(
                ApplicationMember, ApplicationMember.application_id == Application.id
            ).where(ApplicationMember.member_id == actor.id)
        views = [_view(session, actor, a) for a in session.scalars(query)]
        return [v for v in views if v.can(Permission.READ)]


def get_application(db: Database, actor: Actor, application_id: uuid.UUID) -> ApplicationView:
    """Raises NotFound or PermissionDenied (no Read permission)."""
    with db.read() as session:
        application = access.require(session, actor, Permission.READ, application_id)
        return _view(session, actor, application)


def _refuse_duplicate(session: Session, name: str) -> None:
    if session.scalar(select(Application.id).where(Application.name_key == name_key(name))):
        raise Conflict(f"An application named {name!r} already exists.", field="name")


def _view(session: Session, actor: Actor, application: Application) -> ApplicationView:
    count = session.scalar(
        select(func.count()).select_from(Block).where(Block.application_id == application.id)
    )
    return ApplicationView(
        id=application.id,
        name=application.name,
        description=application.description,
        created_at=application.created_at,
        block_count=count or 0,
        permissions=access.permissions_in(session, actor, application.id),
    )


# ---------------------------------------------------------------- the application's folder


@dataclass(frozen=True, slots=True)
class ImportFolderView:
    """An application's server folder as its settings and Source pages show it.

    `folder` is relative to the import root ("" is the whole root: an application made
    before folders were per application). `path`, the absolute path on the server, is set for
    workspace admins only: the layout of the server is theirs to know. `overlapping` names the
    other applications whose folders hold or lie in this one (workspace admins only).
    """

    folder: str
    path: Path | None = None
    overlapping: tuple[str, ...] = ()

    @property
    def whole_root(self) -> bool:
        return not self.folder

    @property
    def shown(self) -> str:
        """The folder in words for anyone: relative to the import root."""
        return f"{self.folder}/" if self.folder else "the whole import root"


def free_import_folder(session: Session, name: str) -> str:
    """The folder a new application called `name` gets: its name as a folder name
    (`folder_slug`), numbered (`-2`, `-3`…) until no other application's own folder holds or
    lies in it. Applications still reading the whole root are left out: they overlap every
    folder, and their settings page already warns of it."""
    base = folder_slug(name) or "application"
    taken = [f for f in session.scalars(select(Application.import_folder)) if f]
    candidate, number = base, 2
    while any(folders_overlap(candidate, other) for other in taken):
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def import_folder(
    db: Database, actor: Actor, application_id: uuid.UUID, settings: Settings
) -> ImportFolderView:
    """The application's folder (see ImportFolderView). Raises NotFound or PermissionDenied
    (no Read)."""
    with db.read() as session:
        application = access.require(session, actor, Permission.READ, application_id)
        return _folder_view(session, actor, application, settings)


def import_folder_path(db: Database, application_id: uuid.UUID, import_root: Path) -> Path:
    """The absolute folder the application's folder sources resolve under (`import_root`
    is the effective PLANPORT_IMPORT_ROOT), for services: no access check, callers have made
    theirs. Raises NotFound for an unknown application, Invalid for a stored folder that is
    not one Planport accepts."""
    with db.read() as session:
        application = session.get(Application, application_id)
        if application is None:
            raise NotFound("This application does not exist.")
        folder = application.import_folder
    return application_root(import_root, check_application_folder(folder))


def set_import_folder(
    db: Database,
    actor: Actor,
    application_id: uuid.UUID,
    folder: str,
    settings: Settings,
    *,
    share: bool = False,
) -> ImportFolderView:
    """Choose the application's folder under the import root, and create it if the root
    exists. Its configurations' paths and patterns then resolve under the new folder (move
    their files there first).

    Only workspace admins choose folders: the server's layout is theirs. Raises
    PermissionDenied for others, Invalid (field `import_folder`) for a path that is not a
    clean relative folder, and Conflict (field `import_folder`) when the folder holds, lies in
    or is another application's own folder, unless `share` says the admin means it.
    """
    if not actor.is_admin:
        raise PermissionDenied("Only workspace admins choose an application's import folder.")
    clean = check_application_folder(folder)
    with db.write() as session:
        application = access.require(session, actor, Permission.READ, application_id)
        if not share:
            _refuse_shared_folder(session, application, clean)
        application.import_folder = clean
        session.flush()
        view = _folder_view(session, actor, application, settings)
    create_folder(settings, clean)
    return view


def create_folder(settings: Settings, folder: str) -> None:
    """Create the application folder `folder` under the import root, when the root exists
    (see `connectors.folder.create_application_folder`)."""
    create_application_folder(settings.effective_import_root, folder)


def _refuse_shared_folder(session: Session, application: Application, folder: str) -> None:
    others = session.execute(
        select(Application.name, Application.import_folder).where(Application.id != application.id)
    ).all()
    # Applications still on the whole root overlap everything; refusing because of them would
    # block the very move away from the root that their warning asks for.
    clashing = sorted(
        name for name, other in others if (other or not folder) and folders_overlap(folder, other)
    )
    if clashing:
        where = f"the folder {folder!r}" if folder else "the whole import root"
        raise Conflict(
            f"{where[0].upper()}{where[1:]} would let this application read the files of "
            f"{', '.join(repr(n) for n in clashing)} (or they its files). Choose a folder of "
            "its own, or tick “Share on purpose” to allow it.",
            field="import_folder",
        )


def _folder_view(
    session: Session, actor: Actor, application: Application, settings: Settings
) -> ImportFolderView:
    folder = application.import_folder
    if not actor.is_admin:
        return ImportFolderView(folder)
    others = session.execute(
        select(Application.name, Application.import_folder).where(Application.id != application.id)
    ).all()
    overlapping = tuple(sorted(n for n, f in others if folders_overlap(folder, f)))
    path = application_root(settings.effective_import_root, folder)
    return ImportFolderView(folder, path, overlapping)
