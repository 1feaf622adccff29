"""Scheduling: when import configurations run by themselves.

The recurrence core is pure (no database, no clock, no network) and works in aware UTC
datetimes; a schedule's zone is used only to evaluate its repeat. See docs/scheduling.md for the
behaviour users see, and `recurrence` for the contract.
"""

from planport.scheduling.recurrence import (
    DEFAULT_MISSED_LIMIT,
    DueFires,
    ScheduleTimes,
    due_fires,
    fires,
    first_fire,
    iter_fires,
    next_fire,
)
from planport.scheduling.repeats import (
    LAST,
    MAX_EVERY_HOURS,
    MonthDay,
    Repeat,
    RepeatKind,
    Weekday,
    format_weekdays,
    parse_month_day,
    parse_repeat,
    parse_weekdays,
)
from planport.scheduling.stored import parsed_times, repeat_from_json, repeat_json
from planport.scheduling.wording import describe, format_instant, parse_instant, parse_start
from planport.scheduling.zones import (
    check_zone,
    time_zones,
    utc_to_wall,
    wall_instants,
    wall_to_utc,
)

__all__ = [
    "DEFAULT_MISSED_LIMIT",
    "LAST",
    "MAX_EVERY_HOURS",
    "DueFires",
    "MonthDay",
    "Repeat",
    "RepeatKind",
    "ScheduleTimes",
    "Weekday",
    "check_zone",
    "describe",
    "due_fires",
    "fires",
    "first_fire",
    "format_instant",
    "format_weekdays",
    "iter_fires",
    "next_fire",
    "parse_instant",
    "parse_month_day",
    "parse_repeat",
    "parse_start",
    "parse_weekdays",
    "parsed_times",
    "repeat_from_json",
    "repeat_json",
    "time_zones",
    "utc_to_wall",
    "wall_instants",
    "wall_to_utc",
]
