"""`planport schedule preview|list|enable|disable`: when schedules fire, and switching them.

`preview` needs no database and no settings: it only evaluates a recurrence, with the
scheduler's own code. Its bad input exits with status 2 and one line naming the option, as other
usage errors do. `list`, `enable` and `disable` act as a member (`--as`), through the schedule
services, with that member's rights; their errors exit with status 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from planport.cli.common import acting_member, fail, parse_id
from planport.domain.errors import Invalid, PlanportError
from planport.scheduling import (
    ScheduleTimes,
    fires,
    format_instant,
    parse_instant,
    parse_repeat,
    parse_start,
)

# Why lazy: the services pull in SQLAlchemy and argon2; `planport --help` must not (see cli/app.py).
if TYPE_CHECKING:
    from planport.services import Database
    from planport.services.scheduling.schedules import ScheduleView

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


# ---------------------------------------------------------------- saved schedules (need a database)

LIST_HEADER = ("SCHEDULE", "CONFIGURATION", "BLOCK", "REPEAT", "STATE", "NEXT FIRE")


def list_command(
    database: Database,
    configuration: str | None,
    application: str | None,
    as_email: str | None,
) -> None:
    from planport.cli.runs import application_option, configuration_option, in_applications
    from planport.services.scheduling import schedules

    configuration_id = configuration_option(configuration)
    actor = acting_member(database, as_email, configuration_id)
    try:
        found = [
            view
            for application_id in in_applications(
                database, actor, configuration_id, application_option(application)
            )
            for view in schedules.list_schedules(database, actor, application_id)
            if configuration_id is None or view.configuration_id == configuration_id
        ]
    except PlanportError as error:
        fail(error.message)
    if not found:
        print("No schedules.")
        return
    print("\t".join(LIST_HEADER))
    for view in found:
        print("\t".join(_list_line(view)))


def state(view: ScheduleView) -> str:
    """enabled, disabled, or paused with the reason (a schedule paused after failures)."""
    if view.enabled:
        return "enabled" if view.error is None else f"enabled, in error: {view.error}"
    return f"paused: {view.paused_reason}" if view.paused_reason else "disabled"


def _list_line(view: ScheduleView) -> tuple[str, ...]:
    from planport.cli.runs import when

    return (
        str(view.id),
        view.configuration_name,
        view.block_name,
        view.description,
        state(view),
        when(view.next_fire_at) if view.enabled else "—",
    )


def set_enabled_command(
    database: Database, schedule: str, enabled: bool, as_email: str | None
) -> None:
    """Enable or disable a schedule; the acting member becomes its owner, as on the page."""
    from planport.cli.runs import when
    from planport.services.scheduling import schedules

    schedule_id = parse_id(schedule, "a schedule", "`planport schedule list`")
    actor = acting_member(database, as_email)
    try:
        view = schedules.set_enabled(database, actor, schedule_id, enabled)
    except PlanportError as error:
        fail(error.message)
    line = f"Schedule {view.id} of {view.configuration_name!r}: {state(view)}"
    if view.enabled and view.next_fire_at is not None:
        line += f"; next fire {when(view.next_fire_at)}"
    print(line)
