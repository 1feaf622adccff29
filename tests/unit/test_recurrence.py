"""When schedules fire: every repeat kind, month ends, the 2026 DST transitions of a dozen zones
(pinned to the real instants and checked against an independent minute-by-minute walk), and
hypothesis properties."""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planport.scheduling import (
    LAST,
    Repeat,
    RepeatKind,
    ScheduleTimes,
    Weekday,
    due_fires,
    fires,
    first_fire,
    iter_fires,
    next_fire,
    wall_to_utc,
)

MON, TUE, WED, THU, FRI, SAT, SUN = Weekday


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def times(start: str, zone: str, repeat: Repeat) -> ScheduleTimes:
    return ScheduleTimes(datetime.fromisoformat(start), zone, repeat)


def iso(instants: list[datetime]) -> list[str]:
    return [i.strftime("%Y-%m-%dT%H:%M") for i in instants]


def local(instants: list[datetime], zone: str) -> list[str]:
    return [i.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M%z") for i in instants]


def walk_to_wall_time(zone: str, day: date, wall: time) -> datetime:
    """The oracle, independent of the production code: walk UTC minute by minute and return the
    first instant whose local date is `day` and whose local wall time is at least `wall`."""
    tz = ZoneInfo(zone)
    naive = datetime.combine(day, wall)
    # Begin three hours before the wall time read with that day's usual offset, and check that
    # the walk begins before the answer (offsets change by at most an hour or so).
    instant = naive.replace(tzinfo=UTC) - (tz.utcoffset(naive) or timedelta(0)) - timedelta(hours=3)
    begin = instant.astimezone(tz).replace(tzinfo=None)
    assert begin < naive - timedelta(hours=1), (zone, day, wall)
    for _ in range(8 * 60):
        seen = instant.astimezone(tz)
        if seen.date() == day and seen.time() >= wall:
            return instant
        instant += timedelta(minutes=1)
    raise AssertionError(f"{wall} never reached on {day} in {zone}")


# --- every repeat kind --------------------------------------------------------------------------


def test_a_schedule_that_does_not_repeat_fires_once_at_its_start() -> None:
    once = times("2026-06-15T09:00", "Europe/Paris", Repeat.none())
    assert iso(fires(once, 5)) == ["2026-06-15T07:00"]
    assert next_fire(once, utc("2026-06-15T07:00")) is None
    assert next_fire(once, utc("2026-06-15T06:59")) == utc("2026-06-15T07:00")


def test_every_n_hours_counts_from_the_start() -> None:
    every_5 = times("2026-06-15T22:10", "Asia/Kolkata", Repeat.hourly(5))
    assert local(fires(every_5, 4), "Asia/Kolkata") == [
        "2026-06-15 22:10+0530",
        "2026-06-16 03:10+0530",
        "2026-06-16 08:10+0530",
        "2026-06-16 13:10+0530",
    ]


def test_every_day_fires_at_the_start_time_from_the_start_date() -> None:
    daily = times("2026-06-15T06:00", "America/New_York", Repeat.daily())
    assert iso(fires(daily, 3)) == ["2026-06-15T10:00", "2026-06-16T10:00", "2026-06-17T10:00"]


def test_a_daily_start_later_than_today_s_time_fires_first_on_the_start_date() -> None:
    daily = times("2026-06-15T06:00", "UTC", Repeat.daily())
    assert first_fire(daily) == utc("2026-06-15T06:00")
    assert next_fire(daily, utc("2026-01-01T00:00")) == utc("2026-06-15T06:00")


def test_every_weekday_skips_saturday_and_sunday() -> None:
    weekdays = times("2026-06-12T07:30", "Europe/London", Repeat.weekdays())  # a Friday
    assert local(fires(weekdays, 3), "Europe/London") == [
        "2026-06-12 07:30+0100",
        "2026-06-15 07:30+0100",
        "2026-06-16 07:30+0100",
    ]


def test_weekly_fires_on_each_chosen_day_from_the_start() -> None:
    weekly = times("2026-06-16T08:00", "UTC", Repeat.weekly({MON, THU}))  # a Tuesday
    assert iso(fires(weekly, 4)) == [
        "2026-06-18T08:00",
        "2026-06-22T08:00",
        "2026-06-25T08:00",
        "2026-06-29T08:00",
    ]


def test_sunday_is_a_weekly_day_like_the_others() -> None:
    weekly = times("2026-06-15T08:00", "UTC", Repeat.weekly({SUN}))
    assert iso(fires(weekly, 2)) == ["2026-06-21T08:00", "2026-06-28T08:00"]


def test_a_cron_expression_fires_at_its_times_in_the_zone_not_before_the_start() -> None:
    cron = times("2026-06-17T00:00", "Europe/Paris", Repeat.from_cron("0 6 * * 1-5"))
    assert iso(fires(cron, 3)) == ["2026-06-17T04:00", "2026-06-18T04:00", "2026-06-19T04:00"]


def test_a_rare_cron_expression_is_found_years_ahead() -> None:
    fifth_monday_of_february = times("2026-01-01T00:00", "UTC", Repeat.from_cron("0 0 * 2 1#5"))
    assert first_fire(fifth_monday_of_february) == utc("2044-02-29T00:00")


def test_strictly_after_excludes_a_fire_at_that_very_instant() -> None:
    daily = times("2026-06-15T06:00", "UTC", Repeat.daily())
    assert next_fire(daily, utc("2026-06-16T06:00")) == utc("2026-06-17T06:00")
    assert next_fire(daily, utc("2026-06-16T05:59:59.999999")) == utc("2026-06-16T06:00")


def test_next_fire_accepts_an_instant_in_any_zone() -> None:
    daily = times("2026-06-15T06:00", "UTC", Repeat.daily())
    paris = datetime(2026, 6, 16, 7, 59, tzinfo=ZoneInfo("Europe/Paris"))
    assert next_fire(daily, paris) == utc("2026-06-16T06:00")


def test_a_naive_after_is_refused() -> None:
    daily = times("2026-06-15T06:00", "UTC", Repeat.daily())
    with pytest.raises(ValueError, match="aware"):
        next_fire(daily, datetime(2026, 6, 16))


# --- month ends ---------------------------------------------------------------------------------


def test_day_31_fires_on_the_last_day_of_shorter_months() -> None:
    monthly = times("2026-01-31T09:00", "UTC", Repeat.monthly(31))
    assert [f.date().isoformat() for f in fires(monthly, 6)] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
        "2026-05-31",
        "2026-06-30",
    ]


def test_day_30_fires_on_28_february_and_29_in_a_leap_year() -> None:
    in_2026 = times("2026-01-30T09:00", "UTC", Repeat.monthly(30))
    in_2028 = times("2028-01-30T09:00", "UTC", Repeat.monthly(30))
    assert [f.date().isoformat() for f in fires(in_2026, 3)] == [
        "2026-01-30",
        "2026-02-28",
        "2026-03-30",
    ]
    assert [f.date().isoformat() for f in fires(in_2028, 3)] == [
        "2028-01-30",
        "2028-02-29",
        "2028-03-30",
    ]


def test_day_29_fires_once_on_29_february_of_a_leap_year() -> None:
    monthly = times("2028-01-29T09:00", "UTC", Repeat.monthly(29))
    assert [f.date().isoformat() for f in fires(monthly, 3)] == [
        "2028-01-29",
        "2028-02-29",
        "2028-03-29",
    ]


def test_last_fires_on_each_month_s_last_day() -> None:
    last = times("2027-12-01T18:00", "UTC", Repeat.monthly(LAST))
    assert [f.date().isoformat() for f in fires(last, 4)] == [
        "2027-12-31",
        "2028-01-31",
        "2028-02-29",
        "2028-03-31",
    ]


def test_a_day_that_every_month_has_fires_on_that_day() -> None:
    monthly = times("2026-01-20T09:00", "UTC", Repeat.monthly(15))
    assert [f.date().isoformat() for f in fires(monthly, 2)] == ["2026-02-15", "2026-03-15"]


# --- DST: pinned to the real 2026 transitions, checked against the walk ---------------------------

# (zone, local date, wall time, the expected fire in UTC): each line names its transition.
DST_FIRES = [
    # London: 01:00 GMT -> 02:00 BST on 29 March; 02:00 BST -> 01:00 GMT on 25 October.
    ("Europe/London", "2026-03-29", "01:30", "2026-03-29T01:00"),
    ("Europe/London", "2026-10-25", "01:30", "2026-10-25T00:30"),
    # Paris: 02:00 -> 03:00 on 29 March; 03:00 -> 02:00 on 25 October.
    ("Europe/Paris", "2026-03-29", "02:30", "2026-03-29T01:00"),
    ("Europe/Paris", "2026-10-25", "02:30", "2026-10-25T00:30"),
    # New York: 02:00 -> 03:00 on 8 March; 02:00 -> 01:00 on 1 November.
    ("America/New_York", "2026-03-08", "02:30", "2026-03-08T07:00"),
    ("America/New_York", "2026-11-01", "01:30", "2026-11-01T05:30"),
    # Sao Paulo has had no DST since 2019: -03:00 on its former transition days too.
    ("America/Sao_Paulo", "2026-02-15", "00:30", "2026-02-15T03:30"),
    ("America/Sao_Paulo", "2026-11-01", "00:30", "2026-11-01T03:30"),
    # Lord Howe shifts by 30 minutes: 02:00 -> 01:30 on 5 April; 02:00 -> 02:30 on 4 October.
    ("Australia/Lord_Howe", "2026-04-05", "01:45", "2026-04-04T14:45"),
    ("Australia/Lord_Howe", "2026-10-04", "02:15", "2026-10-03T15:30"),
    # Sydney (southern hemisphere): 03:00 -> 02:00 on 5 April; 02:00 -> 03:00 on 4 October.
    ("Australia/Sydney", "2026-04-05", "02:30", "2026-04-04T15:30"),
    ("Australia/Sydney", "2026-10-04", "02:30", "2026-10-03T16:00"),
    # Kolkata: +05:30 all year.
    ("Asia/Kolkata", "2026-03-29", "02:30", "2026-03-28T21:00"),
    ("Asia/Kolkata", "2026-10-25", "02:30", "2026-10-24T21:00"),
    # Chatham: 03:45 +13:45 -> 02:45 +12:45 on 5 April; 02:45 -> 03:45 on 27 September.
    ("Pacific/Chatham", "2026-04-05", "03:15", "2026-04-04T13:30"),
    ("Pacific/Chatham", "2026-09-27", "03:00", "2026-09-26T14:00"),
    # Santiago changes at midnight: 24:00 -> 23:00 on 4 April; 00:00 -> 01:00 on 6 September.
    ("America/Santiago", "2026-04-04", "23:30", "2026-04-05T02:30"),
    ("America/Santiago", "2026-09-06", "00:30", "2026-09-06T04:00"),
    # Tehran: +03:30 all year since 2022 (it used to change at midnight on 22 March, 22 Sept).
    ("Asia/Tehran", "2026-03-22", "00:30", "2026-03-21T21:00"),
    ("Asia/Tehran", "2026-09-22", "00:30", "2026-09-21T21:00"),
    # Havana also changes at midnight: 00:00 -> 01:00 on 8 March; 01:00 -> 00:00 on 1 November.
    ("America/Havana", "2026-03-08", "00:30", "2026-03-08T05:00"),
    ("America/Havana", "2026-11-01", "00:30", "2026-11-01T04:30"),
    # St John's is -03:30 / -02:30: 02:00 -> 03:00 on 8 March; 02:00 -> 01:00 on 1 November.
    ("America/St_Johns", "2026-03-08", "02:30", "2026-03-08T05:30"),
    ("America/St_Johns", "2026-11-01", "01:30", "2026-11-01T04:00"),
    # Troll (Antarctica) moves by two hours: 01:00 -> 03:00 on 29 March; 03:00 -> 01:00 on 25 Oct.
    ("Antarctica/Troll", "2026-03-29", "01:30", "2026-03-29T01:00"),
    ("Antarctica/Troll", "2026-10-25", "01:30", "2026-10-24T23:30"),
    ("Antarctica/Troll", "2026-10-25", "02:30", "2026-10-25T00:30"),
    # Dublin's winter time is the "negative DST" of the tz database; the clocks move as London's.
    ("Europe/Dublin", "2026-03-29", "01:30", "2026-03-29T01:00"),
    ("Europe/Dublin", "2026-10-25", "01:30", "2026-10-25T00:30"),
]


def _day_repeats(day: date, wall: time) -> dict[str, Repeat]:
    return {
        "daily": Repeat.daily(),
        "weekly": Repeat.weekly({Weekday(day.weekday())}),
        "monthly": Repeat.monthly(day.day),
        "cron": Repeat.from_cron(f"{wall.minute} {wall.hour} * * *"),
    }


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "cron"])
@pytest.mark.parametrize(("zone", "day", "wall", "expected"), DST_FIRES)
def test_a_day_based_repeat_fires_once_at_the_pinned_instant_on_a_transition_day(
    kind: str, zone: str, day: str, wall: str, expected: str
) -> None:
    the_day, the_time = date.fromisoformat(day), time.fromisoformat(wall)
    start = datetime.combine(the_day - timedelta(days=35), the_time).isoformat()
    schedule = times(start, zone, _day_repeats(the_day, the_time)[kind])
    on_the_day = [f for f in fires(schedule, 40) if f.astimezone(ZoneInfo(zone)).date() == the_day]
    assert on_the_day == [utc(expected)]
    assert utc(expected) == walk_to_wall_time(zone, the_day, the_time)


@pytest.mark.parametrize(("zone", "day", "wall", "expected"), DST_FIRES)
def test_a_one_off_start_resolves_like_a_daily_fire(
    zone: str, day: str, wall: str, expected: str
) -> None:
    once = times(f"{day}T{wall}", zone, Repeat.none())
    assert first_fire(once) == utc(expected)


def test_a_daily_fire_in_the_repeated_hour_is_not_repeated_when_asked_from_its_second_hour() -> (
    None
):
    daily = times("2026-10-20T01:30", "America/New_York", Repeat.daily())
    # 01:10 EST is after the day's 01:30 EDT fire: cronsim alone would answer that past fire.
    assert next_fire(daily, utc("2026-11-01T06:10")) == utc("2026-11-02T06:30")


def test_every_hour_fires_in_both_repeated_hours_of_a_fall_back() -> None:
    hourly = times("2026-10-31T23:30", "America/New_York", Repeat.hourly())
    assert local(fires(hourly, 5), "America/New_York") == [
        "2026-10-31 23:30-0400",
        "2026-11-01 00:30-0400",
        "2026-11-01 01:30-0400",
        "2026-11-01 01:30-0500",
        "2026-11-01 02:30-0500",
    ]


def test_every_hour_does_not_stall_across_a_spring_forward_gap() -> None:
    hourly = times("2026-10-04T00:15", "Australia/Lord_Howe", Repeat.hourly())
    found = fires(hourly, 4)
    assert local(found, "Australia/Lord_Howe") == [
        "2026-10-04 00:15+1030",
        "2026-10-04 01:15+1030",
        "2026-10-04 02:45+1100",
        "2026-10-04 03:45+1100",
    ]
    assert {b - a for a, b in itertools.pairwise(found)} == {timedelta(hours=1)}


def test_an_every_few_minutes_cron_fires_in_both_repeated_hours() -> None:
    cron = times("2026-11-01T00:00", "America/New_York", Repeat.from_cron("*/30 * * * *"))
    assert local(fires(cron, 6, after=utc("2026-11-01T04:45")), "America/New_York") == [
        "2026-11-01 01:00-0400",
        "2026-11-01 01:30-0400",
        "2026-11-01 01:00-0500",
        "2026-11-01 01:30-0500",
        "2026-11-01 02:00-0500",
        "2026-11-01 02:30-0500",
    ]


def test_an_every_few_minutes_cron_skips_the_wall_times_of_a_gap() -> None:
    cron = times("2026-03-08T00:00", "America/New_York", Repeat.from_cron("*/30 * * * *"))
    assert local(fires(cron, 3, after=utc("2026-03-08T06:15")), "America/New_York") == [
        "2026-03-08 01:30-0500",
        "2026-03-08 03:00-0400",
        "2026-03-08 03:30-0400",
    ]


def test_an_every_two_hours_cron_fires_at_02_00_after_lord_howe_s_half_hour_fall_back() -> None:
    # Clocks go from 02:00 +11 back to 01:30 +10:30, so 02:00 is shown once, at 15:30 UTC.
    # cronsim's own DST handling skips it; Planport maps cronsim's wall times with zoneinfo.
    cron = times("2026-04-01T00:00", "Australia/Lord_Howe", Repeat.from_cron("0 */2 * * *"))
    assert local(fires(cron, 3, after=utc("2026-04-04T12:30")), "Australia/Lord_Howe") == [
        "2026-04-05 00:00+1100",
        "2026-04-05 02:00+1030",
        "2026-04-05 04:00+1030",
    ]


# Expressions whose minute or hour field starts with "*", and what they mean for a wall time.
FREQUENT_CRONS = {
    "*/15 * * * *": lambda wall: wall.minute % 15 == 0,
    "0 */2 * * *": lambda wall: wall.minute == 0 and wall.hour % 2 == 0,
    "30 * * * 0": lambda wall: wall.minute == 30 and wall.weekday() == SUN,
}


@pytest.mark.parametrize("expression", FREQUENT_CRONS)
@pytest.mark.parametrize(("zone", "day"), sorted({(zone, day) for zone, day, *_ in DST_FIRES}))
def test_a_frequent_cron_fires_at_every_instant_whose_wall_time_matches(
    expression: str, zone: str, day: str
) -> None:
    matches, tz = FREQUENT_CRONS[expression], ZoneInfo(zone)
    begin = datetime.combine(date.fromisoformat(day), time(0), tzinfo=UTC) - timedelta(hours=14)
    minutes = [begin + timedelta(minutes=i) for i in range(1, 48 * 60)]
    expected = [m for m in minutes if matches(m.astimezone(tz).replace(tzinfo=None))]
    cron = times("2026-01-01T00:00", zone, Repeat.from_cron(expression))
    found = list(itertools.takewhile(lambda f: f <= minutes[-1], iter_fires(cron, after=begin)))
    assert found == expected


def test_a_wall_time_in_a_skipped_day_fires_at_the_start_of_the_next_day() -> None:
    # Samoa skipped 30 December 2011 entirely when it crossed the date line.
    assert wall_to_utc(datetime(2011, 12, 30, 9, 0), ZoneInfo("Pacific/Apia")) == utc(
        "2011-12-30T10:00"
    )


# --- downtime: late runs and missed fires ------------------------------------------------------

HOURLY = times("2026-01-01T06:00", "UTC", Repeat.hourly())


def test_nothing_is_due_before_the_planned_fire() -> None:
    due = due_fires(HOURLY, utc("2026-01-01T09:00"), utc("2026-01-01T08:59"), timedelta(hours=1))
    assert (due.run, due.missed, due.earlier_missed) == (None, (), 0)
    assert due.next_fire == utc("2026-01-01T09:00")


def test_a_fire_due_now_runs_and_the_next_one_is_planned() -> None:
    due = due_fires(HOURLY, utc("2026-01-01T09:00"), utc("2026-01-01T09:00:02"), timedelta(0))
    assert due.run is None  # two seconds late is past a zero grace
    due = due_fires(
        HOURLY, utc("2026-01-01T09:00"), utc("2026-01-01T09:00:02"), timedelta(minutes=5)
    )
    assert (due.run, due.missed, due.next_fire) == (
        utc("2026-01-01T09:00"),
        (),
        utc("2026-01-01T10:00"),
    )


def test_after_downtime_the_latest_fire_within_grace_runs_once_and_the_others_are_missed() -> None:
    due = due_fires(HOURLY, utc("2026-01-01T06:00"), utc("2026-01-01T09:30"), timedelta(hours=1))
    assert due.run == utc("2026-01-01T09:00")
    assert iso(list(due.missed)) == ["2026-01-01T06:00", "2026-01-01T07:00", "2026-01-01T08:00"]
    assert due.earlier_missed == 0
    assert due.next_fire == utc("2026-01-01T10:00")


def test_after_downtime_longer_than_grace_every_fire_is_missed() -> None:
    due = due_fires(HOURLY, utc("2026-01-01T06:00"), utc("2026-01-01T09:30"), timedelta(minutes=10))
    assert due.run is None
    assert len(due.missed) == 4


def test_missed_fires_list_the_most_recent_and_count_the_earlier_ones() -> None:
    due = due_fires(
        HOURLY, utc("2026-01-01T06:00"), utc("2026-01-31T06:30"), timedelta(hours=1), limit=3
    )
    assert due.run == utc("2026-01-31T06:00")
    assert iso(list(due.missed)) == ["2026-01-31T03:00", "2026-01-31T04:00", "2026-01-31T05:00"]
    assert due.earlier_missed == 30 * 24 - 3


def test_a_fire_exactly_grace_old_still_runs() -> None:
    due = due_fires(HOURLY, utc("2026-01-01T09:00"), utc("2026-01-01T09:15"), timedelta(minutes=15))
    assert due.run == utc("2026-01-01T09:00")


def test_a_one_off_schedule_that_ran_has_no_next_fire() -> None:
    once = times("2026-01-01T06:00", "UTC", Repeat.none())
    due = due_fires(once, utc("2026-01-01T06:00"), utc("2026-01-01T06:01"), timedelta(hours=1))
    assert (due.run, due.next_fire) == (utc("2026-01-01T06:00"), None)


def test_a_planned_instant_that_is_no_longer_a_fire_is_not_run() -> None:
    # The schedule was edited after next_fire_at was stored: only real fires count.
    due = due_fires(HOURLY, utc("2026-01-01T09:10"), utc("2026-01-01T09:20"), timedelta(hours=1))
    assert (due.run, due.missed, due.next_fire) == (None, (), utc("2026-01-01T10:00"))


def test_a_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        due_fires(HOURLY, utc("2026-01-01T09:00"), utc("2026-01-01T09:00"), timedelta(-1))


# --- properties --------------------------------------------------------------------------------

ZONES = sorted({zone for zone, *_ in DST_FIRES} | {"UTC", "Pacific/Apia", "Asia/Kathmandu"})
WEEKDAY_SETS = st.frozensets(st.sampled_from(list(Weekday)), min_size=1)
DAY_REPEATS = st.one_of(
    st.just(Repeat.daily()),
    st.just(Repeat.weekdays()),
    WEEKDAY_SETS.map(Repeat.weekly),
    st.one_of(st.integers(1, 31), st.just(LAST)).map(Repeat.monthly),
)
STARTS = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
AFTERS = st.datetimes(datetime(2025, 12, 1), datetime(2028, 1, 31), timezones=st.just(UTC))


def _matches(repeat: Repeat, day: date) -> bool:
    """Whether a day-based repeat fires on `day`, written from the rules, not from the code."""
    if repeat.kind is RepeatKind.DAILY:
        return True
    if repeat.kind is RepeatKind.WEEKDAYS:
        return day.weekday() < 5
    if repeat.kind is RepeatKind.WEEKLY:
        return day.weekday() in repeat.days
    last = calendar.monthrange(day.year, day.month)[1]
    wanted = last if repeat.month_day == LAST else min(int(repeat.month_day or 0), last)
    return day.day == wanted


@given(start=STARTS, zone=st.sampled_from(ZONES), repeat=DAY_REPEATS, after=AFTERS)
def test_day_based_fires_are_the_walk_s_instants_on_every_matching_local_date(
    start: datetime, zone: str, repeat: Repeat, after: datetime
) -> None:
    found = fires(ScheduleTimes(start, zone, repeat), 6, after=after)
    start_instant = walk_to_wall_time(zone, start.date(), start.time())
    expected: list[datetime] = []
    day = max(start.date(), after.astimezone(ZoneInfo(zone)).date() - timedelta(days=1))
    while len(expected) < 6:
        if _matches(repeat, day):
            fire = walk_to_wall_time(zone, day, start.time())
            if fire > after and fire >= start_instant:
                expected.append(fire)
        day += timedelta(days=1)
    assert found == expected
    local_dates = [f.astimezone(ZoneInfo(zone)).date() for f in found]
    assert len(set(local_dates)) == len(local_dates)


@given(
    start=STARTS,
    zone=st.sampled_from(ZONES),
    every=st.integers(1, 168),
    after=AFTERS,
)
def test_every_n_hours_fires_are_exactly_n_hours_apart_and_none_is_skipped(
    start: datetime, zone: str, every: int, after: datetime
) -> None:
    schedule = ScheduleTimes(start, zone, Repeat.hourly(every))
    found = fires(schedule, 6, after=after)
    step = timedelta(hours=every)
    assert {b - a for a, b in itertools.pairwise(found)} == {step}
    assert found[0] > after
    assert found[0] == schedule.start_instant or found[0] - step <= after
    assert (found[0] - schedule.start_instant) % step == timedelta(0)


@given(start=STARTS, zone=st.sampled_from(ZONES), repeat=DAY_REPEATS, after=AFTERS)
def test_next_fire_from_each_fire_gives_the_following_one(
    start: datetime, zone: str, repeat: Repeat, after: datetime
) -> None:
    schedule = ScheduleTimes(start, zone, repeat)
    found = fires(schedule, 5, after=after)
    assert [next_fire(schedule, f) for f in found[:-1]] == found[1:]


@given(
    zone=st.sampled_from(ZONES),
    repeat=DAY_REPEATS,
    planned_days=st.integers(0, 60),
    down_hours=st.integers(0, 24 * 40),
    grace_hours=st.integers(0, 48),
)
def test_every_due_fire_is_run_or_missed_exactly_once(
    zone: str, repeat: Repeat, planned_days: int, down_hours: int, grace_hours: int
) -> None:
    schedule = ScheduleTimes(datetime(2026, 1, 1, 2, 30), zone, repeat)
    planned = fires(schedule, planned_days + 1)[-1]
    now = planned + timedelta(hours=down_hours)
    grace = timedelta(hours=grace_hours)
    due = due_fires(schedule, planned, now, grace, limit=5)
    since_planned = iter_fires(schedule, after=planned - timedelta(seconds=1))
    came_due = list(itertools.takewhile(lambda f: f <= now, since_planned))
    handled = [*due.missed, *([due.run] if due.run else [])]
    assert handled == came_due[len(came_due) - len(handled) :]
    assert due.earlier_missed == len(came_due) - len(handled)
    if due.run is not None:
        assert due.run == came_due[-1]
        assert now - due.run <= grace
    else:
        assert not came_due or now - came_due[-1] > grace
    assert due.next_fire == next_fire(schedule, now)


@given(start=STARTS, zone=st.sampled_from(ZONES), after=AFTERS)
def test_a_fixed_time_cron_expression_fires_as_the_daily_repeat_does(
    start: datetime, zone: str, after: datetime
) -> None:
    cron = Repeat.from_cron(f"{start.minute} {start.hour} * * *")
    as_cron = fires(ScheduleTimes(start, zone, cron), 5, after=after)
    assert as_cron == fires(ScheduleTimes(start, zone, Repeat.daily()), 5, after=after)


@given(
    zone=st.sampled_from(ZONES),
    expression=st.sampled_from(sorted(FREQUENT_CRONS)),
    after=AFTERS.map(lambda a: a.replace(second=0, microsecond=0)),
)
def test_a_frequent_cron_matches_the_minute_walk_anywhere(
    zone: str, expression: str, after: datetime
) -> None:
    matches, tz = FREQUENT_CRONS[expression], ZoneInfo(zone)
    minutes = [after + timedelta(minutes=i) for i in range(1, 4 * 60)]
    expected = [m for m in minutes if matches(m.astimezone(tz).replace(tzinfo=None))]
    cron = times("2025-11-01T00:00", zone, Repeat.from_cron(expression))
    found = list(itertools.takewhile(lambda f: f <= minutes[-1], iter_fires(cron, after=after)))
    assert found == expected
