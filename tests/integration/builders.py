"""Building what integration tests need: roles, members, and looking at the block tables."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import inspect
from starlette.testclient import TestClient

from planport.domain.members import Actor
from planport.services.blocks import block_data
from planport.services.workspace import access
from planport.store.db import Database

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def logged_in(client: TestClient, email: str) -> TestClient:
    """`client` signed in as `email` (password PASSWORD), sending its CSRF token."""
    token = CSRF.search(client.get("/login").text)
    assert token
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    page = CSRF.search(client.get("/account").text)
    assert page
    client.headers["X-CSRF-Token"] = page.group(1)
    return client


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


def grid(db: Database, actor: Actor, block_id: uuid.UUID) -> list[dict[str, str]]:
    """Every row of the block as people see it: column label → formatted value."""
    page = block_data.read_page(db, actor, block_id, page_size=100_000)
    labels = [c.label for c in page.columns]
    return [dict(zip(labels, row, strict=True)) for row in page.rows]


def column_of(db: Database, actor: Actor, block_id: uuid.UUID, label: str) -> dict[str, str]:
    """One column of a Dimension List: item code → formatted value."""
    return {row["Code"]: row[label] for row in grid(db, actor, block_id)}


def index_columns(db: Database, table: str, *, unique: bool) -> set[str]:
    """Columns carrying a (unique or plain) single-column index of the table."""
    found = set()
    for index in inspect(db.engine).get_indexes(table):
        if bool(index["unique"]) is unique and len(index["column_names"]) == 1:
            found.add(str(index["column_names"][0]))
    return found
