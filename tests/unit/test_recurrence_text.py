"""Schedules as people type and read them: validation, parsing, descriptions, time zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from planport.domain.errors import Invalid
from planport.scheduling import (
    LAST,
    Repeat,
    RepeatKind,
    ScheduleTimes,
    Weekday,
    check_zone,
    describe,
    format_instant,
    format_weekdays,
    parse_instant,
    parse_repeat,
    parse_start,
    parse_weekdays,
    time_zones,
)

START = datetime(2026, 3, 29, 2, 30)


def field_of(error: pytest.ExceptionInfo[Invalid]) -> str | None:
    return error.value.field


# --- Repeat values -----------------------------------------------------------------------------


@pytest.mark.parametrize("every", [0, 169, -1, True])
def test_every_n_hours_out_of_range_is_refused_on_the_every_field(every: int) -> None:
    with pytest.raises(Invalid, match="1 to 168") as error:
        Repeat.hourly(every)
    assert field_of(error) == "every"


def test_a_weekly_repeat_needs_a_day() -> None:
    with pytest.raises(Invalid, match="at least one day") as error:
        Repeat.weekly(set())
    assert field_of(error) == "days"


@pytest.mark.parametrize("day", [0, 32, True])
def test_a_month_day_out_of_range_is_refused(day: int) -> None:
    with pytest.raises(Invalid, match='1 to 31 or "last"') as error:
        Repeat.monthly(day)
    assert field_of(error) == "day"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 6 * *", "5 fields"),
        ("0 0 6 * * 1", "5 fields"),
        ("61 * * * *", "Bad minute"),
        ("0 25 * * *", "Bad hour"),
        ("0 0 30 2 *", "Bad day-of-month"),
        ("0 0 * * MONDAY", "Bad day-of-week"),
    ],
)
def test_a_bad_cron_expression_is_refused_with_cronsim_s_reason(
    expression: str, message: str
) -> None:
    with pytest.raises(Invalid, match=message) as error:
        Repeat.from_cron(expression)
    assert field_of(error) == "cron"


def test_a_cron_expression_is_kept_with_single_spaces() -> None:
    assert Repeat.from_cron("  0   6 * *  1-5 ").cron == "0 6 * * 1-5"


def test_a_field_of_another_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="only its own field"):
        Repeat(RepeatKind.DAILY, every_hours=2)


def test_weekly_days_may_be_given_by_number_monday_first() -> None:
    assert Repeat.weekly([0, 3]) == Repeat.weekly({Weekday.MON, Weekday.THU})
    with pytest.raises(Invalid, match="0 \\(Monday\\) to 6") as error:
        Repeat.weekly([7])
    assert field_of(error) == "days"


def test_weekdays_written_as_text_read_back_the_same() -> None:
    days = frozenset({Weekday.THU, Weekday.SUN, Weekday.MON})
    assert format_weekdays(days) == "mon,thu,sun"
    assert parse_weekdays(format_weekdays(days)) == days


def test_repeats_are_values() -> None:
    assert Repeat.weekly({Weekday.MON}) == Repeat.weekly(frozenset({Weekday.MON}))
    assert hash(Repeat.monthly(LAST)) == hash(Repeat.monthly(LAST))


# --- ScheduleTimes -----------------------------------------------------------------------------


def test_a_start_with_an_offset_is_refused() -> None:
    with pytest.raises(Invalid, match="without an offset") as error:
        ScheduleTimes(START.replace(tzinfo=UTC), "Europe/Paris", Repeat.daily())
    assert field_of(error) == "start"


def test_a_start_with_seconds_is_refused() -> None:
    with pytest.raises(Invalid, match="whole minutes"):
        ScheduleTimes(START.replace(second=5), "Europe/Paris", Repeat.daily())


def test_a_schedule_in_an_unknown_zone_is_refused_on_the_zone_field() -> None:
    with pytest.raises(Invalid, match="Unknown time zone") as error:
        ScheduleTimes(START, "Mars/Olympus", Repeat.daily())
    assert field_of(error) == "zone"


# --- parsing text ------------------------------------------------------------------------------


def test_each_repeat_kind_parses_from_its_text() -> None:
    assert parse_repeat("none") == Repeat.none()
    assert parse_repeat("hourly") == Repeat.hourly(1)
    assert parse_repeat("hourly", every="6") == Repeat.hourly(6)
    assert parse_repeat("Daily") == Repeat.daily()
    assert parse_repeat("weekdays") == Repeat.weekdays()
    assert parse_repeat("weekly", days="mon, Thursday") == Repeat.weekly({Weekday.MON, Weekday.THU})
    assert parse_repeat("monthly", day="31") == Repeat.monthly(31)
    assert parse_repeat("monthly", day="LAST") == Repeat.monthly(LAST)
    assert parse_repeat("cron", cron="0 6 * * 1-5") == Repeat.from_cron("0 6 * * 1-5")


@pytest.mark.parametrize(
    ("kind", "extras", "field", "message"),
    [
        ("fortnightly", {}, "repeat", "Unknown repeat 'fortnightly': choose none, hourly"),
        ("hourly", {"every": "2.5"}, "every", "not a whole number"),
        ("weekly", {}, "days", "Give the days"),
        ("weekly", {"days": "mon,funday"}, "days", "Unknown day 'funday'"),
        ("weekly", {"days": "t"}, "days", "Unknown day 't'"),
        ("monthly", {}, "day", "Give the day"),
        ("monthly", {"day": "first"}, "day", '1 to 31 or "last"'),
        ("cron", {}, "cron", "Give the cron"),
        ("daily", {"day": "3"}, "day", "A daily repeat takes no day"),
        ("weekly", {"days": "mon", "every": "2"}, "every", "A weekly repeat takes no every"),
    ],
)
def test_bad_repeat_text_names_the_field_at_fault(
    kind: str, extras: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(Invalid, match=message) as error:
        parse_repeat(kind, **extras)
    assert field_of(error) == field


def test_a_start_is_read_as_a_wall_clock_time() -> None:
    assert parse_start("2026-03-29T02:30") == START
    assert parse_start(" 2026-03-29 02:30 ") == START


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("29/03/2026 02:30", "not a date and time"),
        ("2026-03-29T02:30+02:00", "has an offset"),
        ("2026-03-29T02:30:15", "whole minutes"),
    ],
)
def test_a_bad_start_is_refused(text: str, message: str) -> None:
    with pytest.raises(Invalid, match=message) as error:
        parse_start(text)
    assert field_of(error) == "start"


def test_an_instant_without_an_offset_means_utc() -> None:
    assert parse_instant("2026-03-29T01:00") == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert parse_instant("2026-03-29T01:00:00Z") == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert parse_instant("2026-03-29T03:00+02:00") == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert parse_instant("2026-03-29T03:00+02:00").tzinfo is UTC


def test_an_instant_is_printed_in_utc_with_a_z() -> None:
    assert format_instant(parse_instant("2026-03-29T03:00+02:00")) == "2026-03-29T01:00:00Z"


# --- descriptions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repeat", "sentence"),
    [
        (Repeat.none(), "Once, on Sunday 29 March 2026 at 02:30 (Europe/Paris)"),
        (Repeat.hourly(), "Every hour from Sunday 29 March 2026 at 02:30 (Europe/Paris)"),
        (Repeat.hourly(6), "Every 6 hours from Sunday 29 March 2026 at 02:30 (Europe/Paris)"),
        (Repeat.daily(), "Every day at 02:30 (Europe/Paris)"),
        (Repeat.weekdays(), "Every weekday at 02:30 (Europe/Paris)"),
        (
            Repeat.weekly({Weekday.THU, Weekday.MON}),
            "Every Monday and Thursday at 02:30 (Europe/Paris)",
        ),
        (
            Repeat.weekly({Weekday.FRI, Weekday.MON, Weekday.WED}),
            "Every Monday, Wednesday and Friday at 02:30 (Europe/Paris)",
        ),
        (Repeat.monthly(15), "Monthly on day 15 at 02:30 (Europe/Paris)"),
        (
            Repeat.monthly(31),
            "Monthly on day 31 at 02:30; on the last day in shorter months (Europe/Paris)",
        ),
        (Repeat.monthly(LAST), "Monthly on the last day at 02:30 (Europe/Paris)"),
        (Repeat.from_cron("0 6 * * 1-5"), "At 06:00 on Monday through Friday (Europe/Paris)"),
    ],
)
def test_a_schedule_is_described_in_one_sentence(repeat: Repeat, sentence: str) -> None:
    assert describe(ScheduleTimes(START, "Europe/Paris", repeat)) == sentence


# --- time zones --------------------------------------------------------------------------------


def test_the_picker_lists_places_sorted_with_utc_and_without_legacy_aliases() -> None:
    zones = time_zones()
    assert list(zones) == sorted(zones)
    assert {"UTC", "Europe/Paris", "America/Sao_Paulo", "Pacific/Chatham"} <= set(zones)
    assert not {"US/Eastern", "GB", "EST5EDT", "localtime", "Factory"} & set(zones)


def test_a_legacy_alias_is_still_a_valid_zone() -> None:
    assert check_zone("US/Eastern").key == "US/Eastern"


def test_an_unknown_zone_suggests_the_closest_names() -> None:
    with pytest.raises(Invalid, match="Did you mean Europe/Paris") as error:
        check_zone("Europe/Pari")
    assert field_of(error) == "zone"


def test_a_zone_in_the_wrong_case_suggests_its_spelling() -> None:
    with pytest.raises(Invalid, match=r"Did you mean America/New_York\?"):
        check_zone("america/new_york")


@pytest.mark.parametrize("name", ["localtime", "../etc/passwd", "", "Factory"])
def test_names_that_are_not_places_are_refused(name: str) -> None:
    with pytest.raises(Invalid):
        check_zone(name)
