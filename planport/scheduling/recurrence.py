"""When a schedule fires: pure functions over `ScheduleTimes`, aware UTC datetimes in and out.

No database, no clock, no network: the caller passes "now". Each zone is used only to evaluate a
repeat, and every result is converted straight back to UTC.

The contract (DESIGN.md, "Scheduling semantics"):

- Day-based repeats (daily, weekdays, weekly, monthly) fire at the start's wall-clock time, once
  per local date. A time that does not exist that day (clocks set forward) fires at the first
  instant after the gap; a time that occurs twice (clocks set back) fires at its first occurrence.
- "Every N hours" counts elapsed time from the start instant, so it fires in both repeated hours
  and never stalls across a gap.
- Cron expressions keep cronsim's (Debian cron's) split. A fixed-time expression (its minute and
  hour fields do not start with "*", such as "30 2 * * 1-5") names wall-clock times and follows
  the rule above. An expression whose minute or hour field starts with "*" ("*/15 * * * *",
  "0 */2 * * *") fires at every instant whose wall-clock time matches: in both repeated hours,
  and not at wall times that do not exist. cronsim enumerates the wall times; zoneinfo maps them.
- No fire is ever before the start.
"""

from __future__ import annotations

import functools
import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from cronsim import CronSim

from planport.domain.errors import Invalid
from planport.scheduling.repeats import LAST, Repeat, RepeatKind
from planport.scheduling.zones import check_zone, utc_to_wall, wall_instants, wall_to_utc

_TICK = timedelta(microseconds=1)
# Clocks set back by more than this since 1970 would be missed in their second pass: none are.
_LONGEST_OVERLAP = timedelta(hours=3)
DEFAULT_MISSED_LIMIT = 100


@dataclass(frozen=True)
class ScheduleTimes:
    """When a schedule fires: its start, its IANA time zone and how it repeats.

    `start` is a naive wall-clock time in `zone`, in whole minutes. Day-based repeats fire at its
    time of day; "every N hours" counts from it; no repeat fires before it.

    Raises Invalid (field "start" or "zone") for an aware or not whole-minute start, or an
    unknown zone.
    """

    start: datetime
    zone: str
    repeat: Repeat

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None:
            raise Invalid(
                "The start is a wall-clock time in the schedule's time zone, without an offset.",
                field="start",
            )
        if self.start.second or self.start.microsecond:
            raise Invalid("The start is in whole minutes (no seconds).", field="start")
        check_zone(self.zone)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @functools.cached_property
    def start_instant(self) -> datetime:
        """The start as an aware UTC instant (see `zones.wall_to_utc` for gaps and overlaps).
        Computed once: a scheduler keeps parsed times and evaluates them for every fire."""
        return wall_to_utc(self.start, self.tz)


def iter_fires(times: ScheduleTimes, *, after: datetime | None = None) -> Iterator[datetime]:
    """The fire instants of `times` in increasing order, as aware UTC datetimes.

    Without `after`, the first fire is at or after the start (the start itself when it matches).
    With `after` (aware, any zone), every fire is strictly after it, and still not before the
    start. The iterator ends after the last fire, or never for a repeat without an end.

    Raises ValueError for a naive `after`.
    """
    floor = times.start_instant - _TICK
    if after is not None:
        floor = max(floor, _as_utc(after, "after"))
    if times.repeat.kind is RepeatKind.NONE:
        return iter([times.start_instant] if times.start_instant > floor else [])
    if times.repeat.kind is RepeatKind.HOURLY:
        return _hourly(times, floor)
    return _merged(_cron_fires(expression, times.tz, floor) for expression in _expressions(times))


def next_fire(times: ScheduleTimes, after: datetime) -> datetime | None:
    """The first fire strictly after `after` (aware) and not before the start, or None if there
    is none (a one-off schedule that has fired, a cron expression that never matches again).

    To plan a new or edited schedule, pass "now": a start in the future gives the start's fire.
    Raises ValueError for a naive `after`.
    """
    return next(iter_fires(times, after=after), None)


def first_fire(times: ScheduleTimes) -> datetime | None:
    """The first fire at or after the start, or None if there is none."""
    return next(iter_fires(times), None)


def fires(times: ScheduleTimes, count: int, *, after: datetime | None = None) -> list[datetime]:
    """The first `count` fires of `iter_fires(times, after=after)` (fewer if it ends)."""
    return list(islice(iter_fires(times, after=after), max(count, 0)))


@dataclass(frozen=True)
class DueFires:
    """What a scheduler does with the fires that came due, from `due_fires`.

    `run` is the fire to run now (on time or late), or None. `missed` are fires to record as
    missed, oldest first: the most recent `limit` of them; `earlier_missed` counts older missed
    fires left out of the list. `next_fire` is the first fire strictly after "now" (the new
    next_fire_at), or None when the schedule has no more fires.
    """

    run: datetime | None
    missed: tuple[datetime, ...]
    earlier_missed: int
    next_fire: datetime | None


def due_fires(
    times: ScheduleTimes,
    planned: datetime,
    now: datetime,
    grace: timedelta,
    *,
    limit: int = DEFAULT_MISSED_LIMIT,
) -> DueFires:
    """Sort the fires from `planned` (the stored next fire, included) to `now` (included).

    The latest of them runs if it is at most `grace` old (`now - fire <= grace`): one run,
    however many fires came due during a downtime. Every other due fire is missed. A `planned`
    after `now` means nothing is due yet. Costs one cronsim step per due fire (about 10 µs).

    Raises ValueError for naive datetimes, a negative grace or a negative limit.
    """
    planned, now = _as_utc(planned, "planned"), _as_utc(now, "now")
    if grace < timedelta(0) or limit < 0:
        raise ValueError("grace and limit must not be negative")
    # One more than listed is kept: the latest may run rather than be missed.
    recent: deque[datetime] = deque(maxlen=limit + 1)
    due_count = 0
    upcoming = iter_fires(times, after=planned - _TICK)
    following = next(upcoming, None)
    while following is not None and following <= now:
        recent.append(following)
        due_count += 1
        following = next(upcoming, None)
    run = recent[-1] if recent and now - recent[-1] <= grace else None
    if run is not None:
        recent.pop()
        due_count -= 1
    listed = tuple(recent)[-limit:] if limit else ()
    return DueFires(run, listed, due_count - len(listed), following)


def _as_utc(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {instant!r}")
    return instant.astimezone(UTC)


def _hourly(times: ScheduleTimes, floor: datetime) -> Iterator[datetime]:
    # Elapsed time, in UTC: never wall-clock arithmetic, so gaps and overlaps play no part.
    start = times.start_instant
    step = timedelta(hours=times.repeat.every_hours or 1)
    fire = start if floor < start else start + ((floor - start) // step + 1) * step
    while True:
        yield fire
        fire += step


def _expressions(times: ScheduleTimes) -> tuple[str, ...]:
    """The cron expressions whose union is a repeat. Day-based repeats become fixed-time
    expressions, so they follow the wall-clock rules of the contract."""
    at = f"{times.start.minute} {times.start.hour}"
    repeat = times.repeat
    match repeat.kind:
        case RepeatKind.DAILY:
            return (f"{at} * * *",)
        case RepeatKind.WEEKDAYS:
            return (f"{at} * * 1-5",)
        case RepeatKind.WEEKLY:
            days = ",".join(str(number) for number in sorted(day.cron for day in repeat.days))
            return (f"{at} * * {days}",)
        case RepeatKind.MONTHLY:
            return _monthly_expressions(at, repeat)
        case RepeatKind.CRON:
            assert repeat.cron is not None
            return (repeat.cron,)
    raise ValueError(f"{repeat.kind} has no cron expression")


def _monthly_expressions(at: str, repeat: Repeat) -> tuple[str, ...]:
    day = repeat.month_day
    if day == LAST or day == 31:
        return (f"{at} L * *",)
    assert isinstance(day, int)
    if day <= 28:
        return (f"{at} {day} * *",)
    # Day 29 or 30: every month has it but February, which fires on its last day instead. In a
    # leap year both expressions give 29 February once; the merge drops the duplicate.
    return (f"{at} {day} * *", f"{at} L 2 *")


def _cron_fires(expression: str, zone: ZoneInfo, floor: datetime) -> Iterator[datetime]:
    """The fires of a cron expression in `zone` strictly after `floor`, in order.

    cronsim only enumerates wall-clock times here: given UTC it applies no DST rule, so UTC
    stands in for the zone's wall clock. zoneinfo then maps each wall time to instants: with
    cronsim's own rule (Debian cron's), a fixed-time expression takes `wall_to_utc` (a gap gives
    its end, an overlap its first occurrence), any other takes every instant that shows the wall
    time. cronsim's DST handling is not used because it drops fires in zones whose clocks move
    by 30 minutes (Australia/Lord_Howe) for expressions such as "0 */2 * * *".
    """
    fixed_time = _is_fixed_time(expression)
    # Instants after the floor can show earlier wall times than the floor's only in the second
    # pass of an overlap, which a fixed-time expression never fires in.
    begin = utc_to_wall(floor, zone) - (timedelta(0) if fixed_time else _LONGEST_OVERLAP)
    pending: list[datetime] = []
    previous: datetime | None = None
    for stand_in in CronSim(expression, begin.replace(tzinfo=UTC)):
        wall = stand_in.replace(tzinfo=None)
        # Every later wall time maps at or after this bound, so what is pending up to it is final.
        bound = wall_to_utc(wall, zone)
        for instant in (bound,) if fixed_time else wall_instants(wall, zone):
            heapq.heappush(pending, instant)
        while pending and pending[0] <= bound:
            instant = heapq.heappop(pending)
            if instant > floor and instant != previous:
                yield instant
            previous = instant
    yield from (i for i in sorted(pending) if i > floor and i != previous)


def _is_fixed_time(expression: str) -> bool:
    """cronsim's (and Debian cron's) test: the minute and hour fields do not start with "*"."""
    minute, hour, *_ = expression.split()
    return not minute.startswith("*") and not hour.startswith("*")


def _merged(streams: Iterator[Iterator[datetime]]) -> Iterator[datetime]:
    previous: datetime | None = None
    for instant in heapq.merge(*streams):
        if instant != previous:
            yield instant
        previous = instant
