"""`planport apikey create|list|revoke`: API keys for scripts and first set-up.

The command line is the server's operator (it holds the database), as for `planport admin
create`: it manages keys without signing in. `create` prints the new key alone on the last
line of standard output, so a script can take it with `tail -n 1`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from planport.cli.common import fail
from planport.domain.api_keys import ApiKeyType
from planport.domain.errors import PlanportError

if TYPE_CHECKING:
    from planport.services import Database
    from planport.services.workspace.api_keys import ApiKeyView

apikey_app = typer.Typer(help="API keys for the Import API.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)

LIST_HEADER = ("ID", "PREFIX", "NAME", "TYPE", "OWNER", "STATE", "EXPIRES ON", "LAST USED")
_TYPES = {"import": ApiKeyType.IMPORT, "export": ApiKeyType.EXPORT, "metadata": ApiKeyType.METADATA}


def key_type(raw: str) -> ApiKeyType:
    try:
        return _TYPES[raw.strip().lower()]
    except KeyError:
        fail(f"{raw!r} is not an API key type: use import, export or metadata.")


def expiration(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        fail(f"{raw!r} is not a date: write it as YYYY-MM-DD.")


def create_command(
    db: Database, owner: str, type_: str, name: str | None, expires: str | None, time_zone: str
) -> None:
    from planport.services.workspace import api_keys

    wanted = key_type(type_)
    spec = api_keys.KeySpec(
        name=name or f"{wanted.label} key",
        key_type=wanted,
        owner_email=owner,
        expires_on=expiration(expires),
    )
    try:
        created = api_keys.create_key(db, spec, by=None, time_zone=time_zone)
    except PlanportError as error:
        fail(error.message)
    view = created.view
    until = "with no expiration date"
    if view.expires_on is not None:
        until = f"until the end of {view.expires_on - timedelta(days=1)} ({time_zone})"
    console.print(
        f"{view.key_type.label} key {view.name!r} (ID {view.id}, prefix {view.prefix}) created "
        f"for {view.owner_email}, valid {until}. It is shown only now: store it in the source "
        "system's settings."
    )
    print(created.secret)


def list_command(db: Database) -> None:
    from planport.domain.clock import utc_now
    from planport.services.workspace import api_keys

    found = api_keys.list_keys(db, None)
    if not found:
        console.print(
            "No API keys yet. Create one: planport apikey create --owner EMAIL --type import"
        )
        return
    now = utc_now()
    print("\t".join(LIST_HEADER))
    for key in found:
        print("\t".join(_row(key, now)))


def _row(key: ApiKeyView, now: datetime) -> tuple[str, ...]:
    from planport.scheduling import format_instant

    used = "never"
    if key.last_used_at is not None:
        used = f"{format_instant(key.last_used_at)} from {key.last_used_address or '?'}"
    return (
        str(key.id),
        key.prefix,
        key.name,
        key.key_type.label,
        key.owner_email,
        key.state(now),
        key.expires_on.isoformat() if key.expires_on else "never",
        used,
    )


def revoke_command(db: Database, reference: str) -> None:
    from planport.services.workspace import api_keys

    try:
        revoked = api_keys.revoke_key(db, reference, by=None)
    except PlanportError as error:
        fail(error.message)
    console.print(
        f"API key {revoked.name!r} ({revoked.prefix}) is revoked: requests presenting it now "
        "get 401."
    )
