"""Connections: create, list, show, test and delete a workspace's credentials to source
systems (workspace admins; the command line too, as the server's operator).

Secrets are encrypted with `secret_box` (PLANPORT_SECRET_KEY) before they reach the database,
decrypted only to reach the source system, and never returned: a view says which secrets are
set, not what they are. A test talks to the source system outside any database transaction
and then records its answer.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from planport.connectors import SourceUnavailable
from planport.connectors import s3 as s3_connector
from planport.domain.clock import utc_now
from planport.domain.connections import ConnectionKind, checked_fields, kind_of
from planport.domain.errors import Conflict, NotFound, PermissionDenied
from planport.domain.members import Actor
from planport.domain.names import clean_name, name_key
from planport.services.workspace import secret_box
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import Application, Connection, ConnectionApplication

CHECK_TIME_LIMIT_S = 20.0  # the longest "Test connection" waits for the source system
CONNECTION_OK = "Connection successful"


@dataclass(frozen=True, slots=True)
class ConnectionSpec:
    name: str
    kind: str  # a ConnectionKind's value, as typed
    settings: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    applications: Sequence[str] = ()  # names or IDs of the applications allowed to use it


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """A connection as pages and the command line show it: never a secret's value."""

    id: uuid.UUID
    name: str
    kind: ConnectionKind
    settings: dict[str, str]
    secrets_set: tuple[str, ...]  # the names of the secrets it holds
    applications: tuple[str, ...]  # the names of the applications allowed to use it
    created_at: datetime
    tested_at: datetime | None
    test_ok: bool | None
    test_message: str | None


def create_connection(
    db: Database, settings: Settings, spec: ConnectionSpec, *, by: Actor | None
) -> ConnectionView:
    """Create a connection. Raises Invalid (a field), Conflict (the name is taken), NotFound
    (an application), PermissionDenied (not a workspace admin)."""
    _require_admin(by)
    name = clean_name(spec.name, what="connection")
    kind = kind_of(spec.kind)
    clean_settings, clean_secrets = checked_fields(kind, spec.settings, spec.secrets)
    sealed = _seal(settings, clean_secrets)
    with db.write() as session:
        if session.scalar(select(Connection.id).where(Connection.name_key == name_key(name))):
            raise Conflict(f"A connection named {name!r} already exists.")
        allowed = _applications(session, spec.applications)
        row = Connection(
            name=name,
            name_key=name_key(name),
            kind=kind.value,
            settings=json.dumps(clean_settings, sort_keys=True),
            secrets=sealed,
            created_by=by.id if by else None,
        )
        session.add(row)
        session.flush()
        session.add_all(
            ConnectionApplication(connection_id=row.id, application_id=app.id) for app in allowed
        )
        session.flush()
        return _view(session, row)


def list_connections(db: Database, *, by: Actor | None) -> list[ConnectionView]:
    _require_admin(by)
    with db.read() as session:
        rows = session.scalars(select(Connection).order_by(Connection.name_key))
        return [_view(session, row) for row in rows]


def get_connection(db: Database, reference: str, *, by: Actor | None) -> ConnectionView:
    """The connection named `reference` (or with that ID). Raises NotFound."""
    _require_admin(by)
    with db.read() as session:
        return _view(session, _find(session, reference))


def delete_connection(db: Database, reference: str, *, by: Actor | None) -> str:
    """Delete a connection and its secrets; returns its name. Raises NotFound."""
    _require_admin(by)
    with db.write() as session:
        row = _find(session, reference)
        name = row.name
        session.execute(
            delete(ConnectionApplication).where(ConnectionApplication.connection_id == row.id)
        )
        session.delete(row)
        return name


def check_connection(
    db: Database,
    settings: Settings,
    reference: str,
    *,
    by: Actor | None,
    time_limit_s: float = CHECK_TIME_LIMIT_S,
) -> ConnectionView:
    """Try the connection against its source system within `time_limit_s` and record the
    answer: CONNECTION_OK, or the cause in words. Raises NotFound, SecretUnreadable (the
    secrets were sealed under another PLANPORT_SECRET_KEY)."""
    _require_admin(by)
    with db.read() as session:
        row = _find(session, reference)
        connection_id, kind = row.id, ConnectionKind(row.kind)
        stored_settings: dict[str, str] = json.loads(row.settings)
        sealed = row.secrets
    secrets = _unseal(settings, sealed)
    try:
        if kind is ConnectionKind.S3:
            s3_connector.check_bucket(stored_settings, secrets, time_limit_s=time_limit_s)
        ok, message = True, CONNECTION_OK
    except SourceUnavailable as error:
        ok, message = False, error.message
    with db.write() as session:
        tested = session.get(Connection, connection_id)
        if tested is None:
            raise NotFound("This connection was deleted while it was tested.")
        tested.tested_at, tested.test_ok, tested.test_message = utc_now(), ok, message
        session.flush()
        return _view(session, tested)


# ---------------------------------------------------------------- inside a session


def _find(session: Session, reference: str) -> Connection:
    row = _by_name_or_id(session, Connection, reference)
    if row is None:
        raise NotFound(
            f"There is no connection {reference.strip()!r}: `planport connection list` shows them."
        )
    return row


def _applications(session: Session, references: Sequence[str]) -> list[Application]:
    """The applications named (or with the IDs) in `references`. Raises NotFound naming one
    that does not exist."""
    found: dict[uuid.UUID, Application] = {}
    for reference in references:
        app = _by_name_or_id(session, Application, reference)
        if app is None:
            raise NotFound(f"There is no application {reference.strip()!r}.")
        found[app.id] = app
    return list(found.values())


_Named = TypeVar("_Named", Connection, Application)


def _by_name_or_id(session: Session, model: type[_Named], reference: str) -> _Named | None:
    """The row of `model` whose name (compared as names are) or ID is `reference`."""
    wanted = reference.strip()
    condition = model.name_key == name_key(wanted)
    with contextlib.suppress(ValueError):  # not an ID: the name alone
        condition = or_(condition, model.id == uuid.UUID(wanted))
    return session.scalars(select(model).where(condition)).first()


def _view(session: Session, row: Connection) -> ConnectionView:
    names = session.scalars(
        select(Application.name)
        .join(ConnectionApplication, ConnectionApplication.application_id == Application.id)
        .where(ConnectionApplication.connection_id == row.id)
        .order_by(Application.name_key)
    )
    kind = ConnectionKind(row.kind)
    secret_names = tuple(sorted(json.loads(row.secrets)))
    return ConnectionView(
        id=row.id,
        name=row.name,
        kind=kind,
        settings=json.loads(row.settings),
        secrets_set=secret_names,
        applications=tuple(names),
        created_at=row.created_at,
        tested_at=row.tested_at,
        test_ok=row.test_ok,
        test_message=row.test_message,
    )


def _seal(settings: Settings, secrets: dict[str, str]) -> str:
    """The secrets as stored: each name beside its own Fernet token, so that a page can say
    which are set (and one can be replaced) without decrypting any."""
    return json.dumps({k: secret_box.encrypt(settings, v) for k, v in sorted(secrets.items())})


def _unseal(settings: Settings, sealed: str) -> dict[str, str]:
    """Raises SecretUnreadable for secrets sealed under another PLANPORT_SECRET_KEY."""
    return {k: secret_box.decrypt(settings, v) for k, v in json.loads(sealed).items()}


def _require_admin(by: Actor | None) -> None:
    if by is not None and not by.is_admin:
        raise PermissionDenied("Only workspace admins can manage connections.")
