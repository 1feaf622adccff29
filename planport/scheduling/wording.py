"""Schedules in words: a sentence for the UI, and the start and instants read from text."""

from __future__ import annotations

from datetime import UTC, datetime

from cronsim import CronSim, CronSimError

from planport.domain.errors import Invalid
from planport.scheduling.recurrence import ScheduleTimes
from planport.scheduling.repeats import LAST, RepeatKind

_ANY_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)  # explain() does not depend on the instant


def describe(times: ScheduleTimes) -> str:
    """A sentence saying when `times` fires, such as "Every weekday at 02:30 (Europe/Paris)"."""
    repeat, start = times.repeat, times.start
    at = f"at {start:%H:%M}"
    match repeat.kind:
        case RepeatKind.NONE:
            sentence = f"Once, on {_date(start)} {at}"
        case RepeatKind.HOURLY:
            every = "hour" if repeat.every_hours == 1 else f"{repeat.every_hours} hours"
            sentence = f"Every {every} from {_date(start)} {at}"
        case RepeatKind.DAILY:
            sentence = f"Every day {at}"
        case RepeatKind.WEEKDAYS:
            sentence = f"Every weekday {at}"
        case RepeatKind.WEEKLY:
            sentence = f"Every {_and([day.label for day in sorted(repeat.days)])} {at}"
        case RepeatKind.MONTHLY:
            sentence = _monthly(repeat.month_day, at)
        case RepeatKind.CRON:
            sentence = _cron(repeat.cron or "")
    return f"{sentence} ({times.zone})"


def _date(start: datetime) -> str:
    return f"{start:%A} {start.day} {start:%B %Y}"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _monthly(day: int | str | None, at: str) -> str:
    if day == LAST:
        return f"Monthly on the last day {at}"
    shorter = "; on the last day in shorter months" if isinstance(day, int) and day > 28 else ""
    return f"Monthly on day {day} {at}{shorter}"


def _cron(expression: str) -> str:
    try:
        explained = CronSim(expression, _ANY_INSTANT).explain()
    except (CronSimError, ValueError, KeyError):
        return f"Cron {expression}"
    return explained


def parse_start(text: str, *, field: str = "start") -> datetime:
    """The naive wall-clock start in ISO text such as "2026-03-29T02:30" (or "2026-03-29 02:30").

    Raises Invalid (with `field`) for text that is not such a time, has an offset, or seconds.
    """
    try:
        start = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            f"{text!r} is not a date and time such as 2026-03-29T02:30.", field=field
        ) from None
    if start.tzinfo is not None:
        raise Invalid(
            f"{text!r} has an offset: give the wall-clock time in the schedule's time zone, "
            "such as 2026-03-29T02:30.",
            field=field,
        )
    if start.second or start.microsecond:
        raise Invalid(f"{text!r}: the start is in whole minutes (no seconds).", field=field)
    return start


def parse_instant(text: str, *, field: str = "after") -> datetime:
    """The aware UTC instant in ISO text: "2026-03-29T01:00:00Z", "2026-03-29T03:00+02:00", or
    without an offset, which means UTC ("2026-03-29T01:00").

    Raises Invalid (with `field`) for text that is not an ISO date and time.
    """
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            f"{text!r} is not an instant such as 2026-03-29T01:00:00Z.", field=field
        ) from None
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    try:
        return instant.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first instant there is
        raise Invalid(f"{text!r} is out of range.", field=field) from None


def format_instant(instant: datetime) -> str:
    """`instant` (aware) in UTC as ISO 8601 with a Z: "2026-03-29T01:00:00Z"."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
