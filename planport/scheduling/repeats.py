"""How a schedule repeats: the `Repeat` value, its validation and its parsing from text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Literal

from cronsim import CronSim, CronSimError

from planport.domain.errors import Invalid

MAX_EVERY_HOURS = 168  # a week: anything longer reads better as a weekly or monthly repeat
LAST: Literal["last"] = "last"
MonthDay = int | Literal["last"]
_ANY_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)  # cronsim parses on construction; any will do


class RepeatKind(StrEnum):
    NONE = "none"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKDAYS = "weekdays"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    CRON = "cron"


class Weekday(IntEnum):
    """A day of the week, numbered as `date.weekday()` numbers it (Monday is 0)."""

    MON = 0
    TUE = 1
    WED = 2
    THU = 3
    FRI = 4
    SAT = 5
    SUN = 6

    @property
    def label(self) -> str:
        return _DAY_NAMES[self]

    @property
    def cron(self) -> int:
        """The day's number in cron's day-of-week field (Sunday is 0)."""
        return (self + 1) % 7


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Repeat:
    """How a schedule repeats. Build one with the class methods; each checks its values.

    Only the field of its kind is set: `every_hours` for HOURLY, `days` for WEEKLY, `month_day`
    (1-31 or "last") for MONTHLY, `cron` (a 5-field expression) for CRON.

    Raises Invalid (field "every", "days", "day" or "cron") for a value out of range, and
    ValueError for a field that does not belong to the kind (a programming error).
    """

    kind: RepeatKind
    every_hours: int | None = None
    days: frozenset[Weekday] = frozenset()
    month_day: MonthDay | None = None
    cron: str | None = None

    @classmethod
    def none(cls) -> Repeat:
        return cls(RepeatKind.NONE)

    @classmethod
    def hourly(cls, every: int = 1) -> Repeat:
        return cls(RepeatKind.HOURLY, every_hours=every)

    @classmethod
    def daily(cls) -> Repeat:
        return cls(RepeatKind.DAILY)

    @classmethod
    def weekdays(cls) -> Repeat:
        """Monday to Friday."""
        return cls(RepeatKind.WEEKDAYS)

    @classmethod
    def weekly(cls, days: Iterable[Weekday | int]) -> Repeat:
        """On each of `days` (Weekday or its number, Monday 0)."""
        try:
            chosen = frozenset(Weekday(day) for day in days)
        except ValueError:
            raise Invalid("Days of the week are numbered 0 (Monday) to 6.", field="days") from None
        return cls(RepeatKind.WEEKLY, days=chosen)

    @classmethod
    def monthly(cls, day: MonthDay) -> Repeat:
        """On `day` of each month; months shorter than `day` fire on their last day."""
        return cls(RepeatKind.MONTHLY, month_day=day)

    @classmethod
    def from_cron(cls, expression: str) -> Repeat:
        return cls(RepeatKind.CRON, cron=" ".join(expression.split()))

    def __post_init__(self) -> None:
        given = {
            RepeatKind.HOURLY: self.every_hours is not None,
            RepeatKind.WEEKLY: bool(self.days),
            RepeatKind.MONTHLY: self.month_day is not None,
            RepeatKind.CRON: self.cron is not None,
        }
        if any(is_set for kind, is_set in given.items() if kind is not self.kind):
            raise ValueError(f"A {self.kind.value} repeat takes only its own field: {self!r}")
        _CHECKS.get(self.kind, _check_nothing)(self)


def _check_nothing(repeat: Repeat) -> None:
    pass


def _check_hourly(repeat: Repeat) -> None:
    every = repeat.every_hours
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= MAX_EVERY_HOURS:
        raise Invalid(f"Repeat every 1 to {MAX_EVERY_HOURS} hours, not {every!r}.", field="every")


def _check_weekly(repeat: Repeat) -> None:
    if not repeat.days:
        raise Invalid("Choose at least one day of the week.", field="days")


def _check_monthly(repeat: Repeat) -> None:
    day = repeat.month_day
    if day == LAST:
        return
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
        raise Invalid(f'The day of the month is 1 to 31 or "last", not {day!r}.', field="day")


def _check_cron(repeat: Repeat) -> None:
    expression = repeat.cron or ""
    if len(expression.split()) != 5:
        raise Invalid(
            "A cron expression has 5 fields: minute hour day-of-month month day-of-week, "
            f"such as '0 6 * * 1-5' (got {expression!r}).",
            field="cron",
        )
    try:
        CronSim(expression, _ANY_INSTANT)
    except CronSimError as error:
        raise Invalid(f"Invalid cron expression {expression!r}: {error}.", field="cron") from None


_CHECKS = {
    RepeatKind.HOURLY: _check_hourly,
    RepeatKind.WEEKLY: _check_weekly,
    RepeatKind.MONTHLY: _check_monthly,
    RepeatKind.CRON: _check_cron,
}


def parse_repeat(
    kind: str,
    *,
    every: str | None = None,
    days: str | None = None,
    day: str | None = None,
    cron: str | None = None,
) -> Repeat:
    """The Repeat that text values describe, as the command line and forms give them.

    `kind` is a RepeatKind value ("none", "hourly", "daily", "weekdays", "weekly", "monthly",
    "cron"); `every` (hourly, default 1), `days` (weekly: "mon,thu"), `day` (monthly: "31" or
    "last") and `cron` (cron: "0 6 * * 1-5") are read only for their kind and must not be given
    for another.

    Raises Invalid with field "repeat", "every", "days", "day" or "cron".
    """
    try:
        repeat_kind = RepeatKind(kind.strip().lower())
    except ValueError:
        choices = ", ".join(k.value for k in RepeatKind)
        raise Invalid(f"Unknown repeat {kind!r}: choose {choices}.", field="repeat") from None
    extras = {"every": every, "days": days, "day": day, "cron": cron}
    own = _OWN_FIELD.get(repeat_kind)
    for name, value in extras.items():
        if value is not None and name != own:
            raise Invalid(f"A {repeat_kind.value} repeat takes no {name}.", field=name)
    return _build(repeat_kind, extras)


_OWN_FIELD = {
    RepeatKind.HOURLY: "every",
    RepeatKind.WEEKLY: "days",
    RepeatKind.MONTHLY: "day",
    RepeatKind.CRON: "cron",
}


def _build(kind: RepeatKind, extras: dict[str, str | None]) -> Repeat:
    match kind:
        case RepeatKind.HOURLY:
            return Repeat.hourly(_parse_every(extras["every"]))
        case RepeatKind.WEEKLY:
            return Repeat.weekly(parse_weekdays(_required(extras["days"], "days", "mon,thu")))
        case RepeatKind.MONTHLY:
            return Repeat.monthly(parse_month_day(_required(extras["day"], "day", "31 or last")))
        case RepeatKind.CRON:
            return Repeat.from_cron(_required(extras["cron"], "cron", "'0 6 * * 1-5'"))
    return Repeat(kind)


def _required(value: str | None, field: str, example: str) -> str:
    if value is None or not value.strip():
        raise Invalid(f"Give the {field} (for example {example}).", field=field)
    return value


def _parse_every(text: str | None) -> int:
    if text is None:
        return 1
    try:
        return int(text.strip())
    except ValueError:
        raise Invalid(
            f"Repeat every N hours: {text!r} is not a whole number.", field="every"
        ) from None


def parse_weekdays(text: str) -> frozenset[Weekday]:
    """The days in a comma-separated list such as "mon,thu" (names or their first three letters,
    any case).

    Raises Invalid (field "days") for an unknown or missing day.
    """
    found: set[Weekday] = set()
    for part in text.split(","):
        word = part.strip().lower()
        matches = [d for d in Weekday if len(word) >= 3 and d.label.lower().startswith(word)]
        if len(matches) != 1:
            raise Invalid(
                f"Unknown day {part.strip()!r}: use mon, tue, wed, thu, fri, sat, sun.",
                field="days",
            )
        found.add(matches[0])
    return frozenset(found)


def format_weekdays(days: Iterable[Weekday]) -> str:
    """The days as `parse_weekdays` reads them, in week order: "mon,thu"."""
    return ",".join(day.name.lower() for day in sorted(days))


def parse_month_day(text: str) -> MonthDay:
    """The day of the month in "1" to "31" or "last" (any case).

    Raises Invalid (field "day") for anything else.
    """
    word = text.strip().lower()
    if word == LAST:
        return LAST
    if word.isdigit() and 1 <= int(word) <= 31:
        return int(word)
    raise Invalid(f'The day of the month is 1 to 31 or "last", not {text!r}.', field="day")
