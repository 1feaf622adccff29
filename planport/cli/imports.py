"""`planport import run|preview`: import a file, or a configuration's own source, through a saved
import configuration."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from planport.cli.common import AsOption, acting_member, fail, parse_id
from planport.domain.cells import cell_text
from planport.domain.errors import PlanportError

# Why lazy: the services pull in SQLAlchemy, pyarrow and argon2; `planport --help` must not.
if TYPE_CHECKING:
    from rich.progress import Progress

    from planport.domain.members import Actor
    from planport.domain.summary import ImportSummary
    from planport.services import Database
    from planport.services.imports.runs import RunView

__all__ = ["AsOption", "import_app", "preview_command", "print_summary", "run_command"]

import_app = typer.Typer(
    help="Import files through saved import configurations.", no_args_is_help=True
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

ConfigurationArg = Annotated[str, typer.Argument(help="The import configuration's ID (Copy ID).")]
FileArg = Annotated[
    Path, typer.Argument(help="The CSV file to import.", exists=True, dir_okay=False)
]
OptionalFileArg = Annotated[
    Path | None,
    typer.Argument(
        help="The CSV file to import. Leave it out for a configuration that reads its own "
        "source (a server folder or another block).",
        exists=True,
        dir_okay=False,
    ),
]
# While another run of the configuration runs, ours waits queued; how often to look again.
_WAIT_SECONDS = 0.5


def run_command(
    database: Database, configuration: str, file: Path | None, as_email: str | None
) -> None:
    from planport.domain.imports import RunStatus

    configuration_id = _configuration_id(configuration)
    actor = acting_member(database, as_email, configuration_id)
    try:
        if file is None:
            run = _run_own_source(database, actor, configuration_id)
        else:
            run = _run_file(database, actor, configuration_id, file)
    except PlanportError as error:
        fail(error.message)
    console.print(f"Run {run.id}: [bold]{run.status.value}[/] in {run.duration_s or 0:.1f} s")
    if run.summary is not None:
        print_summary(run.summary)
    for problem in run.errors:
        errors.print(f"[red]{problem.name}:[/] {problem.description}")
    if run.status is not RunStatus.COMPLETED:
        raise typer.Exit(1)


def _run_file(database: Database, actor: Actor, configuration_id: uuid.UUID, file: Path) -> RunView:
    from planport.domain.imports import Trigger
    from planport.services.imports import configurations

    with _progress() as progress:
        task = progress.add_task(f"Importing {file.name}", total=None)
        return configurations.run_configuration(
            database,
            actor,
            configuration_id,
            file,
            trigger=Trigger.COMMAND_LINE,
            on_progress=lambda rows: progress.update(
                task, description=f"Importing {file.name}: {rows:,} rows read"
            ),
        )


def _run_own_source(database: Database, actor: Actor, configuration_id: uuid.UUID) -> RunView:
    """Queue a run of the configuration's own source, as "Start an import right now" and the
    scheduler do, and execute it in this process (the command is its own executor)."""
    from planport.domain.imports import Trigger
    from planport.domain.runnable import Blocker
    from planport.services.imports import configurations, runs

    found = configurations.get_configuration(database, actor, configuration_id)
    not_runnable = found.not_runnable()
    if not_runnable is not None and not_runnable.blocker is Blocker.UPLOAD:
        fix = f"Pass the file: planport import run {configuration_id} FILE"
        fail(not_runnable.message(found.name, fix))
    run_id = runs.start_configuration_run(
        database, actor, configuration_id, trigger=Trigger.COMMAND_LINE
    )
    me = runs.worker_id()
    with _progress() as progress:
        task = progress.add_task(f"Importing {found.name}", total=None)
        while not runs.claim_run(database, run_id, me):
            waiting = runs.get_run(database, actor, run_id)
            if waiting.finished:
                return waiting  # cancelled, or another executor got there first
            progress.update(task, description=f"{found.name}: waiting for its running run")
            time.sleep(_WAIT_SECONDS)
        return runs.execute_run(
            database,
            run_id,
            me,
            lambda rows: progress.update(
                task, description=f"Importing {found.name}: {rows:,} rows read"
            ),
        )


def preview_command(
    database: Database, configuration: str, file: Path, rows: int, as_email: str | None
) -> None:
    from rich.table import Table

    from planport.services.imports import configurations

    configuration_id = _configuration_id(configuration)
    actor = acting_member(database, as_email, configuration_id)
    try:
        preview = configurations.preview_configuration(
            database, actor, configuration_id, file, rows=rows
        )
    except PlanportError as error:
        fail(error.message)
    if preview.rows:
        table = Table(*preview.rows[0].keys(), title="First rows as they would be imported")
        for row in preview.rows:
            table.add_row(*(cell_text(v) for v in row.values()))
        console.print(table)
    print_summary(preview.summary)
    console.print("Preview only: nothing was written.")


def print_summary(summary: ImportSummary) -> None:
    from rich.table import Table

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
    return parse_id(raw, "an import configuration", "the block's settings")


def _progress() -> Progress:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not sys.stderr.isatty(),
    )
