"""Applications: create, rename, list, delete (with their blocks' tables)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planport.domain.enums import Permission
from planport.domain.errors import Conflict, PermissionDenied
from planport.domain.members import Actor
from planport.domain.names import clean_description, clean_name, name_key
from planport.services import access
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
