"""Building what integration tests need: roles, members, and looking at the block tables."""

from __future__ import annotations

import uuid

from sqlalchemy import inspect

from planport.domain.members import Actor
from planport.services import access
from planport.store.db import Database

PASSWORD = "correct horse battery"


def role_id(db: Database, admin: Actor, application_id: uuid.UUID, name: str) -> uuid.UUID:
    """The id of the application's role called `name`."""
    roles = {r.name: r.id for r in access.list_roles(db, admin, application_id)}
    return roles[name]


def grant(db: Database, admin: Actor, application_id: uuid.UUID, email: str, role: str) -> None:
    """Give the member with `email` the role called `role` in the application."""
    access.grant_access(db, admin, application_id, email, role_id(db, admin, application_id, role))


def table_names(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def column_names(db: Database, table: str) -> list[str]:
    return [c["name"] for c in inspect(db.engine).get_columns(table)]
