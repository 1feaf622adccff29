"""`planport runs list|show`: import runs as the history shows them, newest first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from planport.cli.common import acting_member, fail, parse_id
from planport.domain.errors import PlanportError
from planport.domain.imports import RunStatus

# Why lazy: the services pull in SQLAlchemy; `planport --help` must not (see cli/app.py).
if TYPE_CHECKING:
    from planport.domain.members import Actor
    from planport.services import Database
    from planport.services.imports.runs import RunView
    from planport.services.scheduling.history import HistoryEntry

runs_app = typer.Typer(help="Import runs: what ran, how it ended.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)

ConfigurationOption = Annotated[
    str | None, typer.Option("--configuration", help="Only this import configuration's runs.")
]
ApplicationOption = Annotated[
    str | None, typer.Option("--application", help="Only runs in this application.")
]
# Runs only: the history also lists fires that did not become runs (missed, skipped).
_RUN_STATUSES = frozenset(s.value for s in RunStatus)
LIST_HEADER = ("RUN", "CONFIGURATION", "BLOCK", "TRIGGER", "STATUS", "STARTED", "ROWS")


def when(instant: datetime | None) -> str:
    """An instant as the command line prints it (ISO 8601 UTC), "—" when there is none."""
    from planport.scheduling import format_instant

    return format_instant(instant) if instant is not None else "—"


def list_command(
    database: Database,
    configuration: str | None,
    application: str | None,
    limit: int,
    as_email: str | None,
) -> None:
    if limit < 1:
        fail(f"--limit must be 1 or more, not {limit}.")
    configuration_id = configuration_option(configuration)
    actor = acting_member(database, as_email, configuration_id)
    try:
        entries = _entries(
            database, actor, configuration_id, application_option(application), limit
        )
    except PlanportError as error:
        fail(error.message)
    if not entries:
        print("No runs.")
        return
    # Plain print: Rich would expand the tabs that scripts split on.
    print("\t".join(LIST_HEADER))
    for entry in entries:
        print("\t".join(_list_line(entry)))


def _entries(
    database: Database,
    actor: Actor,
    configuration_id: uuid.UUID | None,
    application_id: uuid.UUID | None,
    limit: int,
) -> list[HistoryEntry]:
    from planport.services.scheduling import history

    given = history.HistoryFilter(configuration_id=configuration_id, statuses=_RUN_STATUSES)
    found: list[HistoryEntry] = []
    for application in in_applications(database, actor, configuration_id, application_id):
        found += history.list_history(database, actor, application, given, limit=limit)
    found.sort(key=lambda e: e.when, reverse=True)
    return found[:limit]


def in_applications(
    database: Database,
    actor: Actor,
    configuration_id: uuid.UUID | None,
    application_id: uuid.UUID | None,
) -> list[uuid.UUID]:
    """The applications a listing covers: the configuration's, the one given, or every one
    where the actor may import data. Raises what the services raise (unknown ids, rights)."""
    from planport.domain.enums import Permission
    from planport.services.blocks import applications
    from planport.services.imports import configurations

    if configuration_id is not None:
        found = configurations.get_configuration(database, actor, configuration_id)
        if application_id is not None and found.application_id != application_id:
            fail("This import configuration is not in that application.")
        return [found.application_id]
    if application_id is not None:
        return [applications.get_application(database, actor, application_id).id]
    return [
        a.id
        for a in applications.list_applications(database, actor)
        if a.can(Permission.IMPORT_DATA)
    ]


def _list_line(entry: HistoryEntry) -> tuple[str, ...]:
    return (
        str(entry.run_id),
        entry.configuration_name or "—",
        entry.block_name,
        entry.trigger.label,
        entry.status,
        when(entry.started_at),
        str(entry.rows_read),
    )


def show_command(database: Database, run: str, as_email: str | None) -> None:
    from planport.services.imports import runs

    run_id = parse_id(run, "an import run", "the run's page or `planport runs list`")
    actor = acting_member(database, as_email)
    try:
        view = runs.get_run(database, actor, run_id)
    except PlanportError as error:
        fail(error.message)
    _print_run(view)


def _print_run(view: RunView) -> None:
    from planport.cli.imports import print_summary

    console.print(f"Run {view.id}: [bold]{view.status.value}[/]")
    console.print(f"Configuration: {view.configuration_id or '— (no saved configuration)'}")
    console.print(f"Block: {view.block_name}")
    key = f" with the key {view.api_key_name}" if view.api_key_name else ""
    console.print(f"Trigger: {view.trigger.label}{key} · by {view.actor_email or '—'}")
    console.print(
        f"Created {when(view.created_at)} · started {when(view.started_at)} · finished "
        f"{when(view.finished_at)}"
    )
    if view.file_name:
        size = f" · {view.file_size:,} bytes" if view.file_size is not None else ""
        digest = f" · SHA-256 {view.file_sha256}" if view.file_sha256 else ""
        console.print(f"File: {view.file_name}{size}{digest}")
    if view.summary is not None:
        print_summary(view.summary)
    else:
        console.print(
            f"Rows read {view.rows_read:,} · inserted {view.inserted:,} · updated "
            f"{view.updated:,} · deleted {view.deleted:,} · skipped {view.skipped:,}"
        )
    for problem in view.errors:
        console.print(f"[red]{problem.name}:[/] {problem.description}")


def configuration_option(raw: str | None) -> uuid.UUID | None:
    if raw is None:
        return None
    return parse_id(raw, "an import configuration", "the block's settings")


def application_option(raw: str | None) -> uuid.UUID | None:
    if raw is None:
        return None
    return parse_id(raw, "an application", "the application's address")
