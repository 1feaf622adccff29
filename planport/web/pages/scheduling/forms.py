"""Reading the schedule form: its text values to a `ScheduleInput`, and back for re-display.

The form always sends every input (a person may switch the repeat back and forth), so only
the field of the chosen repeat is read. Checkboxes that are not ticked send nothing: a form
without `enabled` means "disabled".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from planport.domain.errors import Invalid, PlanportError
from planport.scheduling import (
    LAST,
    Repeat,
    Weekday,
    check_zone,
    parse_repeat,
    parse_start,
)
from planport.services.scheduling.schedules import (
    DEFAULT_GRACE,
    ScheduleInput,
    check_grace,
    check_pause_after,
    check_start,
    clean_recipients,
    grace_of_minutes,
)

REPEATS = {
    "none": "Does not repeat",
    "hourly": "Every N hours",
    "daily": "Every day",
    "weekdays": "Every weekday (Monday to Friday)",
    "weekly": "Weekly, on chosen days",
    "monthly": "Monthly, on a day",
    "cron": "Advanced: a cron expression",
}
DAYS = [(d.label[:3].lower(), d.label) for d in Weekday]
MONTH_DAYS = [(str(n), str(n)) for n in range(1, 32)] + [(LAST, "Last day of the month")]
_OWN_FIELD = {"hourly": "every", "weekly": "days", "monthly": "day", "cron": "cron"}
# The service's field names, as the form names its inputs.
_FORM_FIELD = {"zone": "time_zone", "grace": "grace_minutes", "minutes": "stagger_minutes"}
FIELDS = (
    "configuration",
    "start",
    "time_zone",
    "repeat",
    "every",
    "days",
    "day",
    "cron",
    "grace_minutes",
    "alert_recipients",
    "pause_after_failures",
)


@dataclass(frozen=True, slots=True)
class FormValues:
    """The form's values as text, as they are shown again (also after an error)."""

    configuration: str = ""
    start: str = ""
    time_zone: str = "UTC"
    repeat: str = "daily"
    every: str = "1"
    days: tuple[str, ...] = ()
    day: str = "1"
    cron: str = ""
    enabled: bool = True
    alerts_enabled: bool = True
    alert_recipients: str = ""
    grace_minutes: str = "60"
    pause_after_failures: str = ""


def values_of(form: Mapping[str, Any], days: list[str]) -> FormValues:
    """The submitted values (`days` are the ticked weekday boxes)."""

    def text(name: str, default: str = "") -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else default

    return FormValues(
        configuration=text("configuration"),
        start=text("start"),
        time_zone=text("time_zone"),
        repeat=text("repeat", "daily"),
        every=text("every", "1"),
        days=tuple(days),
        day=text("day", "1"),
        cron=text("cron"),
        enabled=bool(form.get("enabled")),
        alerts_enabled=bool(form.get("alerts_enabled")),
        alert_recipients=text("alert_recipients"),
        grace_minutes=text("grace_minutes", "60"),
        pause_after_failures=text("pause_after_failures"),
    )


def values_from(given: ScheduleInput, configuration: str = "") -> FormValues:
    """A stored schedule as the form shows it."""
    repeat = given.repeat
    return FormValues(
        configuration=configuration,
        start=given.start.strftime("%Y-%m-%dT%H:%M"),
        time_zone=given.time_zone,
        repeat=repeat.kind.value,
        every=str(repeat.every_hours or 1),
        days=tuple(DAYS[d][0] for d in sorted(repeat.days)),
        day=str(repeat.month_day or 1),
        cron=repeat.cron or "",
        enabled=given.enabled,
        alerts_enabled=given.alerts_enabled,
        alert_recipients=", ".join(given.alert_recipients),
        grace_minutes=str(int(given.grace.total_seconds() // 60)),
        pause_after_failures=str(given.pause_after_failures or ""),
    )


def schedule_input(values: FormValues) -> ScheduleInput:
    """The ScheduleInput the values describe. Raises Invalid naming the form's field."""
    return ScheduleInput(
        start=_start(values),
        time_zone=_zone(values),
        repeat=_repeat(values),
        enabled=values.enabled,
        grace=_grace(values),
        alerts_enabled=values.alerts_enabled,
        alert_recipients=_recipients(values),
        pause_after_failures=_pause_after(values),
    )


def form_errors(values: FormValues) -> dict[str, str]:
    """Every field's own mistake, keyed by its input, so the form shows them all at once
    (the service stops at the first one)."""
    checks: tuple[Callable[[FormValues], object], ...] = (
        _start,
        _zone,
        _repeat,
        lambda v: check_grace(_grace(v)),
        lambda v: check_pause_after(_pause_after(v)),
        lambda v: clean_recipients(_recipients(v)),
    )
    found: dict[str, str] = {}
    for check in checks:
        try:
            check(values)
        except Invalid as error:
            found |= field_errors(error)
    return found


def all_errors(values: FormValues, error: PlanportError) -> dict[str, str]:
    """The refusal and every other mistake of the form, each beside its field."""
    return form_errors(values) | field_errors(error)


def _start(values: FormValues) -> datetime:
    if not values.start:
        raise Invalid("Give the date and time of the first run.", field="start")
    start = parse_start(values.start, field="start")
    check_start(start)
    return start


def _zone(values: FormValues) -> str:
    check_zone(values.time_zone, field="time_zone")
    return values.time_zone


def _grace(values: FormValues) -> timedelta:
    return grace_of_minutes(_whole(values.grace_minutes, "grace_minutes", "The grace period"))


def _pause_after(values: FormValues) -> int | None:
    if not values.pause_after_failures:
        return None
    return _whole(values.pause_after_failures, "pause_after_failures", "Pause after")


def _recipients(values: FormValues) -> tuple[str, ...]:
    return tuple(r for r in re.split(r"[\s,;]+", values.alert_recipients) if r)


def _repeat(values: FormValues) -> Repeat:
    own = _OWN_FIELD.get(values.repeat)
    given = {
        "every": values.every,
        "days": ",".join(values.days),
        "day": values.day,
        "cron": values.cron,
    }
    if own == "days" and not values.days:
        raise Invalid("Choose at least one day of the week.", field="days")
    extra = {own: given[own]} if own else {}
    return parse_repeat(values.repeat, **extra)


def _whole(text: str, field: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise Invalid(f"{what}: {text!r} is not a whole number.", field=field) from None


def field_errors(error: PlanportError) -> dict[str, str]:
    """The error keyed by the form input it belongs to ("" when it names none of them)."""
    named = getattr(error, "field", None) or ""
    named = _FORM_FIELD.get(named, named)
    return {named if named in FIELDS else "": error.message}


def default_values(zone: str, configuration: str, start: str) -> FormValues:
    """A new schedule: daily, in the member's zone (UTC when theirs is not a known one),
    alerts on, the default grace period."""
    try:
        check_zone(zone)
    except Invalid:
        zone = "UTC"
    grace = str(int(DEFAULT_GRACE.total_seconds() // 60))
    return FormValues(configuration=configuration, start=start, time_zone=zone, grace_minutes=grace)
