"""A schedule's times as stored: the repeat as JSON text, the start as ISO local wall time.

Pure (no database): both the schedule use cases and the scheduler's tick read stored columns
through here, and a value that no longer parses raises Invalid instead of becoming a default.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from planport.domain.errors import Invalid
from planport.scheduling.recurrence import ScheduleTimes
from planport.scheduling.repeats import Repeat, RepeatKind, Weekday


def repeat_json(repeat: Repeat) -> str:
    data: dict[str, object] = {"kind": repeat.kind.value}
    if repeat.every_hours is not None:
        data["every_hours"] = repeat.every_hours
    if repeat.days:
        data["days"] = sorted(int(d) for d in repeat.days)
    if repeat.month_day is not None:
        data["month_day"] = repeat.month_day
    if repeat.cron is not None:
        data["cron"] = repeat.cron
    return json.dumps(data)


def repeat_from_json(text: str) -> Repeat:
    """The stored repeat. Raises Invalid when it no longer validates (e.g. a cron expression
    a newer cronsim refuses) or cannot be read at all (a row edited by hand): the schedule
    then shows the error instead of firing, and the others fire as usual."""
    try:
        return _repeat_of(json.loads(text))
    except Invalid:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        problem = f"{type(error).__name__}: {error}"
        raise Invalid(f"The stored repeat cannot be read ({problem}).") from None


def _repeat_of(data: Any) -> Repeat:
    kind = RepeatKind(data["kind"])
    match kind:
        case RepeatKind.HOURLY:
            return Repeat.hourly(int(data["every_hours"]))
        case RepeatKind.WEEKLY:
            return Repeat.weekly({Weekday(d) for d in data["days"]})
        case RepeatKind.MONTHLY:
            return Repeat.monthly(data["month_day"])
        case RepeatKind.CRON:
            return Repeat.from_cron(data["cron"])
        case _:
            return Repeat(kind)


@functools.lru_cache(maxsize=4096)
def parsed_times(start_local: str, time_zone: str, repeat: str) -> ScheduleTimes:
    """The times of the stored columns, parsed once per distinct text (ScheduleTimes is
    immutable; a burst of a thousand fires shares a few). Raises Invalid when a column
    cannot be read (a failure is not cached: the error is recorded and the schedule stops
    being polled)."""
    try:
        start = datetime.fromisoformat(start_local)
    except (TypeError, ValueError):
        raise Invalid(f"The stored start time {start_local!r} cannot be read.") from None
    return ScheduleTimes(start, time_zone, repeat_from_json(repeat))
