"""`planport schedule preview`: when a schedule would fire, computed by the scheduler's own code.

Needs no database and no settings: it only evaluates a recurrence. Bad input exits with status 2
and one line naming the option, as other usage errors do.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console

from planport.domain.errors import Invalid
from planport.scheduling import (
    ScheduleTimes,
    fires,
    format_instant,
    parse_instant,
    parse_repeat,
    parse_start,
)

schedule_app = typer.Typer(help="Schedules: when import configurations run.", no_args_is_help=True)
errors = Console(stderr=True, soft_wrap=True)

MAX_COUNT = 1000
# The option each input field comes from, so a message names what the user typed.
_OPTIONS = {
    "start": "--start",
    "zone": "--tz",
    "repeat": "--repeat",
    "every": "--every",
    "days": "--days",
    "day": "--day",
    "cron": "EXPR",
    "after": "--after",
    "count": "-n",
}


@schedule_app.command("preview")
def preview(
    start: Annotated[
        str, typer.Option(help="Start: a wall-clock time in --tz, such as 2026-03-29T02:30.")
    ],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone, such as Europe/Paris.")],
    repeat: Annotated[
        str,
        typer.Option(help="none, hourly, daily, weekdays, weekly, monthly or cron."),
    ] = "none",
    expression: Annotated[
        str | None,
        typer.Argument(metavar="[EXPR]", help="The cron expression, with --repeat cron."),
    ] = None,
    every: Annotated[
        str | None, typer.Option(help="With --repeat hourly: every N hours, 1 to 168.")
    ] = None,
    days: Annotated[
        str | None, typer.Option(help="With --repeat weekly: days such as mon,thu.")
    ] = None,
    day: Annotated[
        str | None, typer.Option(help="With --repeat monthly: 1 to 31, or last.")
    ] = None,
    count: Annotated[int, typer.Option("-n", "--count", help="How many fires to print.")] = 10,
    after: Annotated[
        str | None,
        typer.Option(help="Print fires strictly after this instant (ISO; no offset means UTC)."),
    ] = None,
) -> None:
    """Print the first N fire instants of a schedule, one ISO-8601 UTC time per line.

    They are at or after the start, or strictly after --after.
    """
    try:
        if not 1 <= count <= MAX_COUNT:
            raise Invalid(f"Print 1 to {MAX_COUNT} fires, not {count}.", field="count")
        times = ScheduleTimes(
            parse_start(start),
            tz,
            parse_repeat(repeat, every=every, days=days, day=day, cron=expression),
        )
        found = fires(times, count, after=parse_instant(after) if after is not None else None)
    except Invalid as error:
        _usage_error(error)
    for instant in found:
        print(format_instant(instant))


def _usage_error(error: Invalid) -> NoReturn:
    option = _OPTIONS.get(error.field or "", error.field or "input")
    errors.print(f"[red]Error:[/] {option}: {error.message}", highlight=False)
    raise typer.Exit(2)
