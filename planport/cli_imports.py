"""`planport import run|preview`: import a file through a saved import configuration."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from planport.domain.errors import PlanportError
from planport.domain.imports import RunStatus, Trigger
from planport.domain.members import Actor
from planport.engine.summary import ImportSummary
from planport.services import configurations, members
from planport.store.db import Database

import_app = typer.Typer(
    help="Import files through saved import configurations.", no_args_is_help=True
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

ConfigurationArg = Annotated[str, typer.Argument(help="The import configuration's ID (Copy ID).")]
FileArg = Annotated[
    Path, typer.Argument(help="The CSV file to import.", exists=True, dir_okay=False)
]
AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this member (default: the configuration's owner)."),
]


def run_command(database: Database, configuration: str, file: Path, as_email: str | None) -> None:
    configuration_id = _configuration_id(configuration)
    actor = _actor(database, configuration_id, as_email)
    try:
        with _progress() as progress:
            task = progress.add_task(f"Importing {file.name}", total=None)
            run = configurations.run_configuration(
                database,
                actor,
                configuration_id,
                file,
                trigger=Trigger.COMMAND_LINE,
                on_progress=lambda rows: progress.update(
                    task, description=f"Importing {file.name}: {rows:,} rows read"
                ),
            )
    except PlanportError as error:
        _exit(error.message)
    console.print(f"Run {run.id}: [bold]{run.status.value}[/] in {run.duration_s or 0:.1f} s")
    if run.summary is not None:
        print_summary(run.summary)
    for problem in run.errors:
        errors.print(f"[red]{problem.name}:[/] {problem.description}")
    if run.status is not RunStatus.COMPLETED:
        raise typer.Exit(1)


def preview_command(
    database: Database, configuration: str, file: Path, rows: int, as_email: str | None
) -> None:
    configuration_id = _configuration_id(configuration)
    actor = _actor(database, configuration_id, as_email)
    try:
        preview = configurations.preview_configuration(
            database, actor, configuration_id, file, rows=rows
        )
    except PlanportError as error:
        _exit(error.message)
    if preview.rows:
        table = Table(*preview.rows[0].keys(), title="First rows as they would be imported")
        for row in preview.rows:
            table.add_row(*(str(v) if v is not None else "" for v in row.values()))
        console.print(table)
    print_summary(preview.summary)
    console.print("Preview only: nothing was written.")


def print_summary(summary: ImportSummary) -> None:
    console.print(
        f"Rows read {summary.rows_read:,} · inserted {summary.inserted:,} · updated "
        f"{summary.updated:,} · deleted {summary.deleted:,} · skipped {summary.skipped:,}"
    )
    for list_name, count in summary.items_created_count.items():
        console.print(f"Items created in {list_name}: {count:,}")
    if not summary.groups:
        return
    if not console.is_terminal:
        # Plain lines for logs and scripts: reason names stay whole and greppable.
        for group in summary.groups:
            examples = ", ".join(f"line {s.line}: {s.value!r}" for s in group.samples[:3])
            console.print(f"{group.reason} · {group.column} · {group.count:,} row(s) · {examples}")
        return
    table = Table()
    for header in ("Reason", "Column", "Rows", "Examples (line: value)"):
        table.add_column(header, overflow="fold")
    for group in summary.groups:
        examples = ", ".join(f"{s.line}: {s.value!r}" for s in group.samples[:3])
        table.add_row(group.reason, group.column, f"{group.count:,}", examples)
    console.print(table)


def _configuration_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        _exit(f"{raw!r} is not an import configuration ID (copy it from the block's settings).")


def _actor(database: Database, configuration_id: uuid.UUID, as_email: str | None) -> Actor:
    try:
        if as_email:
            return members.actor_for(database, as_email)
        return configurations.owner_of(database, configuration_id)
    except PlanportError as error:
        _exit(error.message)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not sys.stderr.isatty(),
    )


def _exit(message: str) -> NoReturn:
    errors.print(f"[red]Error:[/] {message}")
    raise typer.Exit(1)
