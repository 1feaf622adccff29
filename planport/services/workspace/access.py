"""Who may do what in which application. Every permission check in Planport goes through
`may` or `require`.

Rules: a workspace admin may do everything everywhere; any other member may do what the one
role they hold in the application allows, and nothing in applications they have no role in.
Inactive members may do nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from planport.domain.enums import Permission
from planport.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from planport.domain.members import DEFAULT_ROLES, Actor
from planport.domain.names import clean_name, name_key
from planport.store.db import Database
from planport.store.models import (
    Application,
    ApplicationMember,
    Member,
    Role,
    RolePermission,
)


def may(db: Database, actor: Actor, permission: Permission, application_id: uuid.UUID) -> bool:
    """Whether `actor` may do `permission` in the application."""
    with db.read() as session:
        return may_in(session, actor, permission, application_id)


def may_in(
    session: Session,
    actor: Actor,
    permission: Permission,
    application_id: uuid.UUID,
    *,
    known_active: bool = False,
) -> bool:
    """`may`, inside a caller's session. `known_active`: the caller read the actor's member
    row in this same transaction and found it active (an API key's owner), so it is not
    read again."""
    return permission in permissions_in(session, actor, application_id, known_active=known_active)


def permissions_in(
    session: Session, actor: Actor, application_id: uuid.UUID, *, known_active: bool = False
) -> frozenset[Permission]:
    """Every permission `actor` holds in the application (empty when none or inactive)."""
    if not known_active:
        member = session.get(Member, actor.id)
        if member is None or not member.is_active:
            return frozenset()
    if actor.is_admin:
        return frozenset(Permission)
    rows = session.scalars(
        select(RolePermission.permission)
        .join(ApplicationMember, ApplicationMember.role_id == RolePermission.role_id)
        .where(
            ApplicationMember.application_id == application_id,
            ApplicationMember.member_id == actor.id,
        )
    )
    return frozenset(Permission(p) for p in rows)


def require(
    session: Session, actor: Actor, permission: Permission, application_id: uuid.UUID
) -> Application:
    """Return the application if `actor` may do `permission` in it.

    Raises NotFound for an unknown application, and for one where `actor` holds no role (its
    name, even its existence, is none of their business), and PermissionDenied naming the
    missing permission otherwise.
    """
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound("This application does not exist.")
    held = permissions_in(session, actor, application_id)
    if permission not in held:
        if not held:
            raise NotFound("This application does not exist.")
        raise PermissionDenied(
            f"You need the {permission.label} permission in application "
            f"{application.name!r} to do this."
        )
    return application


def seed_default_roles(session: Session, application: Application) -> dict[str, Role]:
    """Create Pigment's default roles in a new application; returns them by name."""
    roles: dict[str, Role] = {}
    for position, default in enumerate(DEFAULT_ROLES):
        role = Role(
            application_id=application.id,
            name=default.name,
            name_key=name_key(default.name),
            is_default=True,
            position=position,
            permissions=[RolePermission(permission=p.value) for p in sorted(default.permissions)],
        )
        session.add(role)
        roles[default.name] = role
    session.flush()
    return roles


def list_roles(db: Database, actor: Actor, application_id: uuid.UUID) -> list[RoleView]:
    with db.read() as session:
        require(session, actor, Permission.READ, application_id)
        roles = session.scalars(
            select(Role).where(Role.application_id == application_id).order_by(Role.position)
        ).all()
        return [_role_view(r) for r in roles]


def set_role_permissions(
    db: Database,
    actor: Actor,
    application_id: uuid.UUID,
    role_id: uuid.UUID,
    permissions: set[Permission],
) -> RoleView:
    """Replace the permissions of one role of the application."""
    with db.write() as session:
        require(session, actor, Permission.MANAGE_APPLICATION, application_id)
        role = _role(session, application_id, role_id)
        if role.name_key == "admin" and role.is_default:
            missing = set(Permission) - permissions
            if missing:
                raise Conflict(
                    "The Admin role always holds every permission, so an application can "
                    "always be managed."
                )
        role.permissions = [RolePermission(permission=p.value) for p in sorted(permissions)]
        session.flush()
        return _role_view(role)


def create_role(
    db: Database, actor: Actor, application_id: uuid.UUID, name: str, permissions: set[Permission]
) -> RoleView:
    with db.write() as session:
        require(session, actor, Permission.MANAGE_APPLICATION, application_id)
        clean = clean_name(name, what="role")
        key = name_key(clean)
        exists = session.scalar(
            select(Role.id).where(Role.application_id == application_id, Role.name_key == key)
        )
        if exists:
            raise Conflict(f"A role named {clean!r} already exists here.", field="name")
        count = len(
            session.scalars(select(Role.id).where(Role.application_id == application_id)).all()
        )
        role = Role(
            application_id=application_id,
            name=clean,
            name_key=key,
            position=count,
            permissions=[RolePermission(permission=p.value) for p in sorted(permissions)],
        )
        session.add(role)
        session.flush()
        return _role_view(role)


def grant_access(
    db: Database,
    actor: Actor,
    application_id: uuid.UUID,
    member_email: str,
    role_id: uuid.UUID,
) -> None:
    """Give a member a role in the application (replacing any role they held)."""
    with db.write() as session:
        require(session, actor, Permission.MANAGE_APPLICATION, application_id)
        role = _role(session, application_id, role_id)
        email = member_email.strip().lower()
        if not email.isprintable():  # PostgreSQL refuses NUL in a text comparison
            raise Invalid(f"{email[:80]!r} is not an e-mail address.", field="email")
        member = session.scalar(select(Member).where(Member.email == email))
        if member is None:
            raise NotFound(f"No member has the e-mail address {member_email.strip()!r}.")
        access = session.get(ApplicationMember, (application_id, member.id))
        if access is None:
            session.add(
                ApplicationMember(
                    application_id=application_id, member_id=member.id, role_id=role.id
                )
            )
        else:
            access.role_id = role.id


def revoke_access(
    db: Database, actor: Actor, application_id: uuid.UUID, member_id: uuid.UUID
) -> None:
    with db.write() as session:
        require(session, actor, Permission.MANAGE_APPLICATION, application_id)
        access = session.get(ApplicationMember, (application_id, member_id))
        if access is None:
            raise NotFound("This member has no role in the application.")
        session.delete(access)


def list_access(db: Database, actor: Actor, application_id: uuid.UUID) -> list[AccessView]:
    """Members with a role in the application, by e-mail."""
    with db.read() as session:
        require(session, actor, Permission.READ, application_id)
        rows = session.execute(
            select(Member, Role)
            .join(ApplicationMember, ApplicationMember.member_id == Member.id)
            .join(Role, Role.id == ApplicationMember.role_id)
            .where(ApplicationMember.application_id == application_id)
            .order_by(Member.email)
        ).all()
        return [
            AccessView(
                member_id=m.id,
                email=m.email,
                display_name=m.display_name,
                role_id=r.id,
                role_name=r.name,
            )
            for m, r in rows
        ]


def _role(session: Session, application_id: uuid.UUID, role_id: uuid.UUID) -> Role:
    role = session.get(Role, role_id)
    if role is None or role.application_id != application_id:
        raise NotFound("This role does not exist in the application.")
    return role


def _role_view(role: Role) -> RoleView:
    return RoleView(
        id=role.id,
        name=role.name,
        is_default=role.is_default,
        permissions=frozenset(Permission(p.permission) for p in role.permissions),
    )


@dataclass(frozen=True, slots=True)
class RoleView:
    id: uuid.UUID
    name: str
    is_default: bool
    permissions: frozenset[Permission]


@dataclass(frozen=True, slots=True)
class AccessView:
    member_id: uuid.UUID
    email: str
    display_name: str
    role_id: uuid.UUID
    role_name: str
