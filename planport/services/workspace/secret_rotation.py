"""Re-encrypt every stored secret under PLANPORT_SECRET_KEY (`planport secrets rotate`).

Secrets live in two places: each application's alert webhook and each connection's secrets.
While the key changes, PLANPORT_SECRET_KEY_PREVIOUS still decrypts what the old key sealed;
the rotation then seals everything under the new key in one transaction — every secret or
none: one that neither key opens stops it, named, with nothing changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select, update

from planport.services.workspace import secret_box
from planport.services.workspace.secret_box import SecretUnreadable
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import Application, Connection


@dataclass(frozen=True, slots=True)
class Rotation:
    webhooks: int  # applications' alert webhooks re-encrypted
    connections: int  # connections whose secrets were re-encrypted
    secrets: int  # secrets in all


def rotate_secrets(db: Database, settings: Settings) -> Rotation:
    """Re-encrypt every secret under PLANPORT_SECRET_KEY. Raises SecretUnreadable naming the
    application or connection whose secret neither key decrypts (then nothing changes)."""
    with db.write() as session:
        hooks = session.execute(
            select(Application.id, Application.name, Application.alert_webhook_encrypted).where(
                Application.alert_webhook_encrypted.is_not(None)
            )
        ).all()
        held = session.execute(select(Connection.id, Connection.name, Connection.secrets)).all()
        new_hooks = []
        for row in hooks:
            where = f"the alert webhook of the application {row.name!r}"
            token = _reseal(settings, row.alert_webhook_encrypted, where)
            new_hooks.append({"id": row.id, "alert_webhook_encrypted": token})
        new_secrets = []
        count = len(new_hooks)
        for row in held:
            sealed = json.loads(row.secrets)
            where = f"the connection {row.name!r}"
            new_secrets.append(
                {
                    "id": row.id,
                    "secrets": json.dumps(
                        {k: _reseal(settings, v, f"{k} of {where}") for k, v in sealed.items()}
                    ),
                }
            )
            count += len(sealed)
        # ORM bulk updates by primary key: one executemany per table.
        if new_hooks:
            session.execute(update(Application), new_hooks)
        if new_secrets:
            session.execute(update(Connection), new_secrets)
    return Rotation(webhooks=len(new_hooks), connections=len(new_secrets), secrets=count)


def _reseal(settings: Settings, token: str, where: str) -> str:
    try:
        return secret_box.reseal(settings, token)
    except SecretUnreadable:
        raise SecretUnreadable(
            f"The secret of {where} cannot be decrypted with PLANPORT_SECRET_KEY nor "
            "PLANPORT_SECRET_KEY_PREVIOUS: give the key it was saved with as "
            "PLANPORT_SECRET_KEY_PREVIOUS, or enter that secret again. Nothing was changed."
        ) from None
