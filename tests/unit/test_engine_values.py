"""The import engine's columnar parsers: numbers, integers, dates and booleans from text."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planport.domain.file_settings import (
    DATE_PATTERNS,
    DEFAULT_FALSE,
    DEFAULT_TRUE,
    BooleanFormat,
    DateFormat,
    NumberFormat,
)
from planport.engine.values import (
    Parsed,
    blank_mask,
    parse_booleans,
    parse_dates,
    parse_integers,
    parse_numbers,
    parse_text,
)

EXCEL_DAY_ZERO = date(1899, 12, 30)


def column(*cells: str) -> pa.Array:
    return pa.array(list(cells), pa.string())


def numbers(*cells: str, **fmt: Any) -> list[float | None]:
    return parse_numbers(column(*cells), NumberFormat(**fmt)).values.to_pylist()


def integers(*cells: str, **fmt: Any) -> list[int | None]:
    return parse_integers(column(*cells), NumberFormat(**fmt)).values.to_pylist()


def dates(pattern: str, *cells: str) -> list[date | None]:
    return parse_dates(column(*cells), DateFormat(pattern=pattern)).values.to_pylist()


def failed(parsed: Parsed) -> list[bool]:
    return parsed.failed.to_pylist()


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("decimal", "thousands", "text"),
    [
        (".", "", "1234567.89"),
        (".", ",", "1,234,567.89"),
        (",", ".", "1.234.567,89"),
        (",", " ", "1 234 567,89"),
        (",", "\u00a0", "1\u00a0234\u00a0567,89"),
        (",", "\u202f", "1\u202f234\u202f567,89"),
        (".", "'", "1'234'567.89"),
    ],
)
def test_numbers_are_read_with_the_chosen_decimal_and_thousands_separators(
    decimal: str, thousands: str, text: str
) -> None:
    assert numbers(text, decimal_separator=decimal, thousands_separator=thousands) == [1234567.89]


def test_a_decimal_comma_without_a_thousands_separator_reads_one_number() -> None:
    assert numbers("12,5", "-0,25", decimal_separator=",") == [12.5, -0.25]


def test_a_thousands_separator_the_format_does_not_name_makes_the_cell_fail() -> None:
    parsed = parse_numbers(column("1,234.5"), NumberFormat())
    assert parsed.values.to_pylist() == [None]
    assert failed(parsed) == [True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("$1,234.50", 1234.5), ("$ 12", 12.0), ("-$5", -5.0), ("+$5", 5.0), ("$-5", -5.0)],
)
def test_a_currency_prefix_is_ignored(text: str, expected: float) -> None:
    assert numbers(text, prefix="$", thousands_separator=",") == [expected]


@pytest.mark.parametrize(("text", "expected"), [("12 €", 12.0), ("12€", 12.0), ("-3,5 €", -3.5)])
def test_a_suffix_is_ignored(text: str, expected: float) -> None:
    assert numbers(text, suffix="€", decimal_separator=",") == [expected]


def test_a_percent_sign_reads_hundredths() -> None:
    assert numbers("5%", "12.5 %", "-20%") == pytest.approx([0.05, 0.125, -0.2])


def test_the_percent_option_reads_plain_numbers_as_percents() -> None:
    assert numbers("5", "12.5", percent=True) == pytest.approx([0.05, 0.125])


def test_the_percent_option_does_not_divide_a_written_percent_twice() -> None:
    # NumberFormat.percent documents "5% is read as 0.05"; it must hold with the option on.
    assert numbers("5%", percent=True) == pytest.approx([0.05])


@pytest.mark.parametrize(("multiplier", "expected"), [(1000, 1500.0), (1e6, 1_500_000.0)])
def test_a_multiplier_scales_every_number(multiplier: float, expected: float) -> None:
    assert numbers("1.5", "", multiplier=multiplier) == [pytest.approx(expected), None]


def test_a_suffix_and_a_multiplier_read_amounts_in_thousands() -> None:
    assert numbers("12K", "3.5 K", suffix="K", multiplier=1000) == [12000.0, 3500.0]


@pytest.mark.parametrize(
    ("text", "expected"), [("(12.5)", -12.5), ("( 7 )", -7.0), ("($1,000)", -1000.0)]
)
def test_parentheses_make_a_number_negative(text: str, expected: float) -> None:
    assert numbers(text, prefix="$", thousands_separator=",") == [expected]


def test_parentheses_are_not_a_number_when_the_option_is_off() -> None:
    parsed = parse_numbers(column("(12.5)"), NumberFormat(parentheses_negative=False))
    assert parsed.values.to_pylist() == [None]
    assert failed(parsed) == [True]


@pytest.mark.parametrize("text", ["1e3", "1E3", "-2.5e-2", ".5", "5.", "+7"])
def test_scientific_and_shortened_numbers_are_read(text: str) -> None:
    assert numbers(text) == [float(text)]


def test_blank_cells_are_no_value_and_not_failures() -> None:
    parsed = parse_numbers(column("", "   ", "\t"), NumberFormat())
    assert parsed.values.to_pylist() == [None, None, None]
    assert failed(parsed) == [False, False, False]


@pytest.mark.parametrize(
    "text", ["abc", "1.2.3", "12--", "--1", "1 2", "nan", "inf", "-", "e5", "12 EUR", "0x10"]
)
def test_text_that_is_not_a_number_fails_without_a_value(text: str) -> None:
    parsed = parse_numbers(column(text), NumberFormat())
    assert parsed.values.to_pylist() == [None]
    assert failed(parsed) == [True]


def test_only_the_unreadable_cells_of_a_column_fail() -> None:
    parsed = parse_numbers(column("1", "x", "", "2"), NumberFormat())
    assert parsed.values.to_pylist() == [1.0, None, None, 2.0]
    assert failed(parsed) == [False, True, False, False]


# ---------------------------------------------------------------- integers


@settings(deadline=None, max_examples=100)
@given(st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1))
def test_integers_of_up_to_18_digits_are_read_exactly(number: int) -> None:
    assert integers(str(number)) == [number]


@pytest.mark.parametrize(
    "text", ["999999999999999999", "-999999999999999999", "123456789012345678"]
)
def test_an_18_digit_integer_is_not_rounded_through_a_float(text: str) -> None:
    assert integers(f" {text} ") == [int(text)]


def test_an_integer_with_a_plus_sign_is_read() -> None:
    assert integers("+42", "7") == [42, 7]


def test_an_18_digit_integer_with_thousands_separators_is_read_exactly() -> None:
    assert integers("123,456,789,012,345,678", thousands_separator=",") == [123456789012345678]


@pytest.mark.parametrize(("text", "expected"), [("12.0", 12), ("1e3", 1000), ("(5)", -5)])
def test_a_whole_number_written_another_way_is_an_integer(text: str, expected: int) -> None:
    assert integers(text) == [expected]


def test_an_integer_column_honours_the_number_format() -> None:
    assert integers("1.234", "(2.000)", decimal_separator=",", thousands_separator=".") == [
        1234,
        -2000,
    ]
    assert integers("3K", suffix="K", multiplier=1000) == [3000]


@pytest.mark.parametrize("text", ["1.5", "abc", "1e-3", "12 apples"])
def test_a_value_that_is_not_whole_fails_as_an_integer(text: str) -> None:
    parsed = parse_integers(column(text), NumberFormat())
    assert parsed.values.to_pylist() == [None]
    assert failed(parsed) == [True]


def test_blank_integer_cells_are_no_value_and_not_failures() -> None:
    parsed = parse_integers(column("", "  "), NumberFormat())
    assert parsed.values.to_pylist() == [None, None]
    assert failed(parsed) == [False, False]


# ---------------------------------------------------------------- dates

# One written example per pattern; the test below fails when a pattern is added untested.
DATE_EXAMPLES: dict[str, tuple[str, date]] = {
    "yyyy-MM-dd": ("2026-01-31", date(2026, 1, 31)),
    "dd/MM/yyyy": ("31/01/2026", date(2026, 1, 31)),
    "MM/dd/yyyy": ("01/31/2026", date(2026, 1, 31)),
    "dd.MM.yyyy": ("31.01.2026", date(2026, 1, 31)),
    "dd-MM-yyyy": ("31-01-2026", date(2026, 1, 31)),
    "yyyyMMdd": ("20260131", date(2026, 1, 31)),
    "yyyy/MM/dd": ("2026/01/31", date(2026, 1, 31)),
    "MMM yyyy": ("Jan 2026", date(2026, 1, 1)),
    "dd MMM yyyy": ("31 Jan 2026", date(2026, 1, 31)),
    "excel": ("46053", date(2026, 1, 31)),
}

# Each pattern's way of writing 31 February 2026, 29 February 2025 (not a leap year),
# 29 February 1900 (a century, not a leap year), month 13 and day 0.
IMPOSSIBLE_DATES: dict[str, list[str]] = {
    "yyyy-MM-dd": ["2026-02-31", "2025-02-29", "1900-02-29", "2026-13-01", "2026-01-00"],
    "dd/MM/yyyy": ["31/02/2026", "29/02/2025", "29/02/1900", "01/13/2026", "00/01/2026"],
    "MM/dd/yyyy": ["02/31/2026", "02/29/2025", "02/29/1900", "13/01/2026", "01/00/2026"],
    "dd.MM.yyyy": ["31.02.2026", "29.02.2025", "29.02.1900", "01.13.2026", "00.01.2026"],
    "dd-MM-yyyy": ["31-02-2026", "29-02-2025", "29-02-1900", "01-13-2026", "00-01-2026"],
    "yyyyMMdd": ["20260231", "20250229", "19000229", "20261301", "20260100"],
    "yyyy/MM/dd": ["2026/02/31", "2025/02/29", "1900/02/29", "2026/13/01", "2026/01/00"],
    "MMM yyyy": ["Foo 2026", "Janvember 2026", "13 2026"],
    "dd MMM yyyy": ["31 Feb 2026", "29 Feb 2025", "29 Feb 1900", "31 Apr 2026", "0 Jan 2026"],
    "excel": ["-1", "abc", "1e5", "46053,5"],
}


def test_every_date_pattern_has_an_example_here() -> None:
    assert set(DATE_EXAMPLES) == set(DATE_PATTERNS)
    assert set(IMPOSSIBLE_DATES) == set(DATE_PATTERNS)


@pytest.mark.parametrize("pattern", list(DATE_PATTERNS))
def test_every_date_pattern_reads_its_example(pattern: str) -> None:
    text, expected = DATE_EXAMPLES[pattern]
    parsed = parse_dates(column(text, f"  {text} "), DateFormat(pattern=pattern))
    assert parsed.values.to_pylist() == [expected, expected]
    assert failed(parsed) == [False, False]


@pytest.mark.parametrize(
    ("pattern", "text"), [(p, t) for p, texts in IMPOSSIBLE_DATES.items() for t in texts]
)
def test_impossible_dates_fail_in_every_pattern(pattern: str, text: str) -> None:
    parsed = parse_dates(column(text), DateFormat(pattern=pattern))
    assert parsed.values.to_pylist() == [None]
    assert failed(parsed) == [True]


@pytest.mark.parametrize("pattern", [p for p in DATE_PATTERNS if p != "yyyy-MM-dd"])
def test_a_date_in_another_pattern_fails_rather_than_being_guessed(pattern: str) -> None:
    parsed = parse_dates(column("2026-01-31"), DateFormat(pattern=pattern))
    assert failed(parsed) == [True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-29", date(2024, 2, 29)),
        ("2000-02-29", date(2000, 2, 29)),
        ("2100-02-29", None),
        ("2025-02-29", None),
    ],
)
def test_29_february_exists_only_in_leap_years(text: str, expected: date | None) -> None:
    assert dates("yyyy-MM-dd", text) == [expected]


def test_an_iso_date_may_carry_a_midnight_time_but_no_other_time() -> None:
    parsed = parse_dates(
        column("2026-01-31T00:00:00", "2026-01-31 00:00", "2026-01-31T13:45:00"),
        DateFormat(pattern="yyyy-MM-dd"),
    )
    assert parsed.values.to_pylist() == [date(2026, 1, 31), date(2026, 1, 31), None]
    assert failed(parsed) == [False, False, True]


def test_single_digit_days_and_months_are_read() -> None:
    assert dates("dd/MM/yyyy", "5/3/2026") == [date(2026, 3, 5)]
    assert dates("MM/dd/yyyy", "5/3/2026") == [date(2026, 5, 3)]


def test_blank_date_cells_are_no_value_and_not_failures() -> None:
    for pattern in DATE_PATTERNS:
        parsed = parse_dates(column("", "  "), DateFormat(pattern=pattern))
        assert parsed.values.to_pylist() == [None, None], pattern
        assert failed(parsed) == [False, False], pattern


MONTH_NAMES = {
    "english": [
        ("Jan", "January"),
        ("Feb", "February"),
        ("Mar", "March"),
        ("Apr", "April"),
        ("May", "May"),
        ("Jun", "June"),
        ("Jul", "July"),
        ("Aug", "August"),
        ("Sep", "September"),
        ("Oct", "October"),
        ("Nov", "November"),
        ("Dec", "December"),
    ],
    "french": [
        ("janv.", "janvier"),
        ("févr.", "février"),
        ("mars", "mars"),
        ("avr.", "avril"),
        ("mai", "mai"),
        ("juin", "juin"),
        ("juil.", "juillet"),
        ("août", "août"),
        ("sept.", "septembre"),
        ("oct.", "octobre"),
        ("nov.", "novembre"),
        ("déc.", "décembre"),
    ],
    "german": [
        ("Jan.", "Januar"),
        ("Feb.", "Februar"),
        ("Mrz", "März"),
        ("Apr.", "April"),
        ("Mai", "Mai"),
        ("Juni", "Juni"),
        ("Juli", "Juli"),
        ("Aug.", "August"),
        ("Sept.", "September"),
        ("Okt.", "Oktober"),
        ("Nov.", "November"),
        ("Dez.", "Dezember"),
    ],
}


@pytest.mark.parametrize(
    ("language", "month"),
    [(language, month) for language in MONTH_NAMES for month in range(1, 13)],
)
def test_month_names_are_read_in_english_french_and_german(language: str, month: int) -> None:
    short, full = MONTH_NAMES[language][month - 1]
    written = [short, full, short.upper(), full.lower()]
    assert dates("MMM yyyy", *(f"{name} 2026" for name in written)) == [date(2026, month, 1)] * 4
    assert (
        dates("dd MMM yyyy", *(f"7 {name} 2026" for name in written)) == [date(2026, month, 7)] * 4
    )


def test_the_german_abbreviation_mär_is_read_as_march() -> None:
    # CLDR's German stand-alone abbreviation of März, as written by many exports.
    assert dates("MMM yyyy", "Mär 2026") == [date(2026, 3, 1)]


def test_dates_with_month_names_may_use_dashes() -> None:
    assert dates("dd MMM yyyy", "31-Jan-2026") == [date(2026, 1, 31)]
    assert dates("MMM yyyy", "Jan-2026") == [date(2026, 1, 1)]


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ("46053", date(2026, 1, 31)),
        ("61", date(1900, 3, 1)),
        ("45658.75", date(2025, 1, 1)),  # a time of day is dropped
        ("2958465", None),  # beyond the six digits Excel dates have
    ],
)
def test_excel_serial_numbers_are_days_since_30_december_1899(
    serial: str, expected: date | None
) -> None:
    assert dates("excel", serial) == [expected]


# ---------------------------------------------------------------- booleans

LOCALISED_BOOLEANS = [
    ("true", True),
    ("Yes", True),
    ("Y", True),
    ("1", True),
    ("x", True),
    ("Vrai", True),
    ("OUI", True),
    ("wahr", True),
    ("Ja", True),
    ("sí", True),
    ("Sí", True),
    ("verdadero", True),
    ("waar", True),
    ("FALSE", False),
    ("no", False),
    ("0", False),
    ("faux", False),
    ("Non", False),
    ("falsch", False),
    ("NEIN", False),
    ("falso", False),
    ("onwaar", False),
]


@pytest.mark.parametrize(("text", "expected"), LOCALISED_BOOLEANS)
def test_booleans_are_read_from_english_french_german_spanish_and_dutch_words(
    text: str, expected: bool
) -> None:
    parsed = parse_booleans(column(text, f"  {text}  "), BooleanFormat())
    assert parsed.values.to_pylist() == [expected, expected]
    assert failed(parsed) == [False, False]


def test_the_default_true_and_false_words_never_overlap() -> None:
    assert not {w.casefold() for w in DEFAULT_TRUE} & {w.casefold() for w in DEFAULT_FALSE}


def test_a_word_that_is_no_boolean_fails_and_a_blank_does_not() -> None:
    parsed = parse_booleans(column("maybe", "", "2"), BooleanFormat())
    assert parsed.values.to_pylist() == [None, None, None]
    assert failed(parsed) == [True, False, True]


def test_custom_boolean_words_replace_the_defaults() -> None:
    fmt = BooleanFormat(true_values=("Active",), false_values=("Closed",))
    parsed = parse_booleans(column("ACTIVE", "closed", "yes"), fmt)
    assert parsed.values.to_pylist() == [True, False, None]
    assert failed(parsed) == [False, False, True]


# ---------------------------------------------------------------- text and blanks


def test_text_is_kept_as_written_and_an_empty_cell_is_no_value() -> None:
    parsed = parse_text(column("  North ", "", "=A1"))
    assert parsed.values.to_pylist() == ["  North ", None, "=A1"]
    assert failed(parsed) == [False, False, False]


def test_blank_mask_is_true_for_empty_and_whitespace_cells() -> None:
    assert blank_mask(column("", " ", "\t", "a", " a ")).to_pylist() == [
        True,
        True,
        True,
        False,
        False,
    ]


# ---------------------------------------------------------------- round trips

NUMBER_FORMATS = st.builds(
    lambda separators, prefix, suffix, parentheses: NumberFormat(
        decimal_separator=separators[0],
        thousands_separator=separators[1],
        prefix=prefix,
        suffix=suffix,
        parentheses_negative=parentheses,
    ),
    st.sampled_from(
        [(".", ""), (".", ","), (".", "'"), (".", " "), (",", ""), (",", "."), (",", "\u00a0")]
    ),
    st.sampled_from(["", "$", "€", "USD "]),
    st.sampled_from(["", "€", " EUR", "K"]),
    st.booleans(),
)


def write_number(number: float, fmt: NumberFormat) -> str:
    """`number` as a person using `fmt` would write it (every significant digit kept)."""
    digits = format(abs(Decimal(repr(number))), "f")
    whole, _, fraction = digits.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = fmt.thousands_separator.join(groups)
    if fraction:
        text += fmt.decimal_separator + fraction
    text = f"{fmt.prefix}{text}{fmt.suffix}"
    if number < 0:
        text = f"({text})" if fmt.parentheses_negative else f"-{text}"
    return text


@settings(deadline=None, max_examples=150)
@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False), NUMBER_FORMATS)
def test_a_number_written_in_any_format_reads_back_exactly(
    number: float, fmt: NumberFormat
) -> None:
    written = write_number(number, fmt)
    parsed = parse_numbers(column(written), fmt)
    assert failed(parsed) == [False], written
    assert parsed.values.to_pylist() == [number], written


@settings(deadline=None, max_examples=100)
@given(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    st.sampled_from([1.0, 1000.0, 1e6]),
)
def test_a_percent_or_a_multiplier_scales_a_written_number(
    number: float, multiplier: float
) -> None:
    written = write_number(number, NumberFormat(parentheses_negative=False))
    scaled = parse_numbers(column(written), NumberFormat(multiplier=multiplier)).values
    percent = parse_numbers(column(written + "%"), NumberFormat()).values
    assert scaled.to_pylist() == [pytest.approx(number * multiplier, rel=1e-12, abs=1e-300)]
    assert percent.to_pylist() == [pytest.approx(number / 100, rel=1e-12, abs=1e-300)]


def write_date(day: date, pattern: str, month_name: int) -> str:
    """`day` as written in `pattern` (month names in one of the languages above)."""
    y, m, d = f"{day.year:04d}", f"{day.month:02d}", f"{day.day:02d}"
    names = [name for language in MONTH_NAMES.values() for name in language[day.month - 1]]
    name = names[month_name % len(names)]
    return {
        "yyyy-MM-dd": f"{y}-{m}-{d}",
        "dd/MM/yyyy": f"{d}/{m}/{y}",
        "MM/dd/yyyy": f"{m}/{d}/{y}",
        "dd.MM.yyyy": f"{d}.{m}.{y}",
        "dd-MM-yyyy": f"{d}-{m}-{y}",
        "yyyyMMdd": f"{y}{m}{d}",
        "yyyy/MM/dd": f"{y}/{m}/{d}",
        "MMM yyyy": f"{name} {y}",
        "dd MMM yyyy": f"{day.day} {name} {y}",
        "excel": str((day - EXCEL_DAY_ZERO).days),
    }[pattern]


@settings(deadline=None, max_examples=150)
@given(
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.sampled_from(list(DATE_PATTERNS)),
    st.integers(min_value=0, max_value=5),
)
def test_a_date_written_in_any_pattern_reads_back(day: date, pattern: str, name: int) -> None:
    written = write_date(day, pattern, name)
    expected: date | None = day.replace(day=1) if pattern == "MMM yyyy" else day
    if pattern == "excel" and (day - EXCEL_DAY_ZERO) >= timedelta(days=1_000_000):
        expected = None  # Excel serials have at most six digits (year 4637)
    assert dates(pattern, written) == [expected], written
