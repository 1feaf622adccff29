"""Time zones for schedules: the picker's list, validation, and local wall time to UTC.

A schedule's times are wall-clock times in an IANA zone. This module is the one place that turns
a wall time of a schedule into an instant: the rest of Planport only sees aware UTC datetimes.
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from planport.domain.errors import Invalid

# The regions of the IANA database whose zones a person picks from. Legacy aliases (US/Eastern,
# GB, EST5EDT...) stay valid when given, but the picker lists each place once, by its region.
_PICKER_REGIONS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
# Names that are files of the zone database but not places: "localtime" is the server's own
# zone, which would make a schedule depend on the machine it runs on.
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
# Gaps in the tz database are at most a day long (Pacific/Apia skipped 30 December 2011).
_LONGEST_GAP = timedelta(hours=26)


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones() - _NOT_ZONES)


@cache
def time_zones() -> tuple[str, ...]:
    """The zone names a time zone picker offers, sorted: "UTC" and every Region/Place name."""
    listed = {name for name in _known_zones() if name.split("/", 1)[0] in _PICKER_REGIONS}
    return tuple(sorted(listed | {"UTC"}))


def check_zone(name: str, *, field: str = "zone") -> ZoneInfo:
    """The zone called `name` (an IANA name such as "Europe/Paris", spelt exactly).

    Raises Invalid (with `field`) for an unknown name, suggesting the closest known names.
    """
    if name in _known_zones():
        return ZoneInfo(name)
    raise Invalid(_unknown_zone_message(name), field=field)


def _unknown_zone_message(name: str) -> str:
    if not name.strip():
        return "Choose a time zone, such as Europe/Paris."
    by_folded = {zone.casefold(): zone for zone in time_zones()}
    matches = [by_folded[name.strip().casefold()]] if name.strip().casefold() in by_folded else []
    matches = matches or difflib.get_close_matches(name, time_zones(), n=3, cutoff=0.6)
    hint = f" Did you mean {_or(matches)}?" if matches else ""
    return f"Unknown time zone {name!r}: use an IANA name such as Europe/Paris.{hint}"


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (aware, UTC) at which the wall-clock time `wall` (naive) happens in `zone`.

    A wall time that occurs twice (clocks set back) gives its first occurrence. A wall time that
    does not exist (clocks set forward) gives the first instant after the gap: 02:30 on a night
    when 02:00 jumps to 03:00 gives the instant of 03:00. This is cronsim's rule for fixed-time
    cron expressions, so schedules of every kind resolve a wall time the same way.

    Raises ValueError if `wall` is aware.
    """
    if wall.tzinfo is not None:
        raise ValueError("wall_to_utc takes a naive wall-clock time")
    candidate = wall
    while _is_imaginary(candidate, zone):
        # Gaps start and end on whole minutes, so the first existing minute is the gap's end.
        candidate += timedelta(minutes=1)
        if candidate - wall > _LONGEST_GAP:
            raise ValueError(f"{wall} never happens in {zone.key}")
    return candidate.replace(tzinfo=zone, fold=0).astimezone(UTC)


def wall_instants(wall: datetime, zone: ZoneInfo) -> tuple[datetime, ...]:
    """Every instant (aware, UTC, in order) at which the clock in `zone` shows the naive `wall`:
    none in a gap, two in an overlap, else one.

    Raises ValueError if `wall` is aware.
    """
    if wall.tzinfo is not None:
        raise ValueError("wall_instants takes a naive wall-clock time")
    if _is_imaginary(wall, zone):
        return ()
    first, second = (wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    return (first,) if first == second else (first, second)


def utc_to_wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock time in `zone` at the aware `instant` (the fold is dropped).

    Raises ValueError if `instant` is naive.
    """
    if instant.tzinfo is None:
        raise ValueError("utc_to_wall takes an aware datetime")
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _is_imaginary(wall: datetime, zone: ZoneInfo) -> bool:
    local = wall.replace(tzinfo=zone, fold=0)
    return local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall
