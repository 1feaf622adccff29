"""Changing PLANPORT_SECRET_KEY: while the old key is given as PLANPORT_SECRET_KEY_PREVIOUS,
secrets of either key read; `planport secrets rotate` re-encrypts every alert webhook and
connection secret under the new key, all or none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from planport.domain.members import Actor
from planport.services.blocks import applications
from planport.services.imports.runs import alerting
from planport.services.workspace import connections
from planport.services.workspace.connections import ConnectionSpec
from planport.services.workspace.secret_box import SecretUnreadable, decrypt
from planport.services.workspace.secret_rotation import rotate_secrets
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import Application, Connection
from tests.integration.test_cli import planport

OLD, NEW, OTHER = "old-key-" + "o" * 40, "new-key-" + "n" * 40, "other-key-" + "x" * 40
HOOK = "http://127.0.0.1:9/hooks/T0/token-1234"
S3_SECRET = "s3-secret-9f8e7d"


def keyed(tmp_path: Path, db: Database, key: str, previous: str | None = None) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=db.url,
        secret_key=SecretStr(key),
        secret_key_previous=SecretStr(previous) if previous else None,
        webhook_allowed_networks="127.0.0.0/8",
    )


def seal_some(db: Database, settings: Settings, admin: Actor, name: str = "Drop") -> None:
    """An application's webhook and a connection's two secrets, sealed under `settings`."""
    app = applications.create_application(db, admin, f"App of {name}")
    alerting.set_alert_webhook(db, settings, admin, app.id, HOOK)
    spec = ConnectionSpec(
        name=name,
        kind="s3",
        settings={"bucket": "finance-exports"},
        secrets={"access_key_id": "AKIDROT", "secret_access_key": S3_SECRET},
    )
    connections.create_connection(db, settings, spec, by=admin)


def readable(db: Database, settings: Settings) -> list[str]:
    """Every stored secret decrypted with `settings`; raises SecretUnreadable otherwise."""
    with db.read() as session:
        hooks = session.scalars(
            select(Application.alert_webhook_encrypted).where(
                Application.alert_webhook_encrypted.is_not(None)
            )
        ).all()
        sealed = session.scalars(select(Connection.secrets)).all()
    values = [decrypt(settings, token) for token in hooks if token]
    for text in sealed:
        values += [decrypt(settings, token) for token in json.loads(text).values()]
    return sorted(values)


def test_rotation_moves_every_secret_to_the_new_key(
    db: Database, admin: Actor, tmp_path: Path
) -> None:
    seal_some(db, keyed(tmp_path, db, OLD), admin)
    changing = keyed(tmp_path, db, NEW, previous=OLD)
    assert readable(db, changing) == sorted([HOOK, "AKIDROT", S3_SECRET])  # both keys read
    with pytest.raises(SecretUnreadable):
        readable(db, keyed(tmp_path, db, NEW))  # the new key alone does not, yet

    done = rotate_secrets(db, changing)

    assert (done.webhooks, done.connections, done.secrets) == (1, 1, 3)
    assert readable(db, keyed(tmp_path, db, NEW)) == sorted([HOOK, "AKIDROT", S3_SECRET])
    with pytest.raises(SecretUnreadable):
        readable(db, keyed(tmp_path, db, OLD))
    assert rotate_secrets(db, keyed(tmp_path, db, NEW)).secrets == 3  # again: harmless


def test_a_secret_neither_key_reads_stops_the_rotation_and_changes_nothing(
    db: Database, admin: Actor, tmp_path: Path
) -> None:
    seal_some(db, keyed(tmp_path, db, OLD), admin, name="Drop")
    seal_some(db, keyed(tmp_path, db, OTHER), admin, name="Stray")

    with pytest.raises(SecretUnreadable) as refused:
        rotate_secrets(db, keyed(tmp_path, db, NEW, previous=OLD))

    assert "the application 'App of Stray'" in refused.value.message
    assert "Nothing was changed" in refused.value.message
    with db.read() as session:
        drop = session.scalars(select(Connection).where(Connection.name == "Drop")).one()
    old_only = keyed(tmp_path, db, OLD)
    assert sorted(decrypt(old_only, t) for t in json.loads(drop.secrets).values()) == sorted(
        ["AKIDROT", S3_SECRET]
    )


def test_the_command_rotates_and_says_what_it_did(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    old = {"PLANPORT_SECRET_KEY": OLD}
    assert planport("db", "upgrade", data_dir=data_dir, env=old).returncode == 0
    made = planport(
        *("connection", "create", "--type", "s3", "--name", "Drop"),
        *("--set", "bucket=finance-exports", "--secret", "access_key_id=AKIDROT"),
        *("--secret", f"secret_access_key={S3_SECRET}"),
        data_dir=data_dir,
        env=old,
    )
    assert made.returncode == 0, made.stderr

    alone = planport("secrets", "rotate", data_dir=data_dir, env={"PLANPORT_SECRET_KEY": NEW})
    assert alone.returncode == 1
    assert "the connection 'Drop'" in alone.stderr
    assert "PLANPORT_SECRET_KEY_PREVIOUS" in alone.stderr

    changing = {"PLANPORT_SECRET_KEY": NEW, "PLANPORT_SECRET_KEY_PREVIOUS": OLD}
    rotated = planport("secrets", "rotate", data_dir=data_dir, env=changing)
    assert rotated.returncode == 0, rotated.stderr
    assert "Re-encrypted 2 secret(s) under PLANPORT_SECRET_KEY: 0 alert webhook(s), 1" in (
        rotated.stdout
    )
    assert "Remove PLANPORT_SECRET_KEY_PREVIOUS" in rotated.stdout
    assert S3_SECRET not in rotated.stdout + rotated.stderr + alone.stderr
    # Everything is under the new key now: it rotates alone.
    again = planport("secrets", "rotate", data_dir=data_dir, env={"PLANPORT_SECRET_KEY": NEW})
    assert again.returncode == 0, again.stderr
    assert "Remove PLANPORT_SECRET_KEY_PREVIOUS" not in again.stdout
