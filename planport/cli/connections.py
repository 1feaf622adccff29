"""`planport connection create|list|show|test|delete`: connections for scripts and first set-up.

The command line is the server's operator (it holds the database and PLANPORT_SECRET_KEY),
as for `planport apikey`. A secret is given as `--secret KEY=VALUE`, or, to keep it out of
the shell's history and the process list, `--secret KEY=@PATH` (the file's content, one
trailing line break dropped) or `--secret KEY=-` (standard input). No command prints one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from planport.cli.common import fail
from planport.domain.errors import PlanportError

if TYPE_CHECKING:
    from planport.services import Database
    from planport.services.workspace.connections import ConnectionView
    from planport.settings import Settings

console = Console(soft_wrap=True, highlight=False)
LIST_HEADER = ("ID", "NAME", "TYPE", "APPLICATIONS", "LAST TEST")


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """The repeated options of `connection create`, as typed."""

    applications: list[str]
    settings: list[str]  # --set KEY=VALUE
    secrets: list[str]  # --secret KEY=VALUE | KEY=@FILE | KEY=-


def pairs(raw: list[str], what: str) -> dict[str, str]:
    """KEY=VALUE options as a dict. Fails naming the option that has no '='."""
    found: dict[str, str] = {}
    for item in raw:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            fail(f"--{what} takes KEY=VALUE, not {item.split('=')[0]!r}.")
        found[key.strip()] = value
    return found


def secret_values(raw: list[str]) -> dict[str, str]:
    """--secret options with their values read: @PATH from the file, - from standard input.
    A failure names the key and the file, never a value."""
    given = pairs(raw, "secret")
    if sum(1 for value in given.values() if value == "-") > 1:
        fail("Only one secret can be read from standard input (KEY=-).")
    secrets = {}
    for key, value in given.items():
        if value == "-":
            secrets[key] = sys.stdin.readline().rstrip("\r\n")
        elif value.startswith("@"):
            path = Path(value[1:]).expanduser()
            try:
                secrets[key] = path.read_text(encoding="utf-8").removesuffix("\n")
            except (OSError, UnicodeDecodeError) as error:
                fail(f"The secret {key} cannot be read from {path}: {type(error).__name__}.")
        else:
            secrets[key] = value
    return secrets


def create_command(
    db: Database, settings: Settings, kind: str, name: str, options: ConnectionOptions
) -> None:
    from planport.services.workspace import connections

    spec = connections.ConnectionSpec(
        name=name,
        kind=kind,
        settings=pairs(options.settings, "set"),
        secrets=secret_values(options.secrets),
        applications=options.applications,
    )
    try:
        created = connections.create_connection(db, settings, spec, by=None)
    except PlanportError as error:
        fail(error.message)
    allowed = ", ".join(created.applications) or "no application yet"
    console.print(
        f"{created.kind.label} connection {created.name!r} (ID {created.id}) created, for "
        f"{allowed}. Test it: planport connection test {_quoted(created.name)}"
    )


def list_command(db: Database) -> None:
    from planport.services.workspace import connections

    found = connections.list_connections(db, by=None)
    if not found:
        console.print(
            "No connections yet. Create one: planport connection create --type s3 --name NAME "
            "--set bucket=… --secret access_key_id=… --secret secret_access_key=-"
        )
        return
    print("\t".join(LIST_HEADER))
    for view in found:
        print(
            "\t".join(
                (
                    str(view.id),
                    view.name,
                    view.kind.value,
                    ", ".join(view.applications) or "-",
                    _last_test(view),
                )
            )
        )


def show_command(db: Database, reference: str) -> None:
    from planport.services.workspace import connections

    try:
        view = connections.get_connection(db, reference, by=None)
    except PlanportError as error:
        fail(error.message)
    print(f"Connection: {view.name}")
    print(f"ID: {view.id}")
    print(f"Type: {view.kind.label} ({view.kind.value})")
    print(f"Applications: {', '.join(view.applications) or 'none'}")
    for key, value in sorted(view.settings.items()):
        print(f"{key}: {value}")
    for key in view.secrets_set:
        print(f"{key}: (set)")
    print(f"Last test: {_last_test(view)}")


def test_command(db: Database, settings: Settings, reference: str) -> None:
    from planport.services.workspace import connections

    try:
        view = connections.check_connection(db, settings, reference, by=None)
    except PlanportError as error:
        fail(error.message)
    if not view.test_ok:
        fail(f"{view.name}: {view.test_message}")
    console.print(f"{view.name}: {view.test_message}.")


def delete_command(db: Database, reference: str) -> None:
    from planport.services.workspace import connections

    try:
        name = connections.delete_connection(db, reference, by=None)
    except PlanportError as error:
        fail(error.message)
    console.print(f"Connection {name!r} deleted, with its secrets.")


def _last_test(view: ConnectionView) -> str:
    from planport.scheduling import format_instant

    if view.tested_at is None:
        return "never tested"
    verdict = "ok" if view.test_ok else f"failed: {view.test_message}"
    return f"{format_instant(view.tested_at)} {verdict}"


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else f"'{name}'"
