"""Who a command acts as, and how a command fails: shared by the `planport` sub-commands.

A command acts as the member given with `--as EMAIL`; commands about one import configuration
act by default as the member who saved it. Every service call then checks that member's
rights, as a page would.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from planport.domain.errors import PlanportError

if TYPE_CHECKING:
    from planport.domain.members import Actor
    from planport.services import Database

errors = Console(stderr=True, soft_wrap=True)

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this member (default: the configuration's owner)."),
]


def acting_member(
    database: Database, as_email: str | None, configuration_id: uuid.UUID | None = None
) -> Actor:
    """The member given with --as, else the owner of `configuration_id`; exits 1 with one line
    when there is neither or the member does not exist."""
    from planport.services.imports import configurations
    from planport.services.workspace import members

    try:
        if as_email:
            return members.actor_for(database, as_email)
        if configuration_id is not None:
            return configurations.owner_of(database, configuration_id)
    except PlanportError as error:
        fail(error.message)
    fail("Say which member acts: add --as EMAIL.")


def parse_id(raw: str, what: str, where: str) -> uuid.UUID:
    """`raw` as a UUID; exits 1 saying it is not `what`'s ID (copy it from `where`)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        fail(f"{raw!r} is not {what} ID (copy it from {where}).")


def fail(message: str) -> NoReturn:
    errors.print(f"[red]Error:[/] {message}", highlight=False)
    raise typer.Exit(1)
