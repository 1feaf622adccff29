"""Typed values: parsing text, formatting it back, and converting between types."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planport.domain.enums import PropertyType
from planport.domain.values import (
    conversion_is_possible,
    convert_value,
    format_value,
    parse_value,
)

T = PropertyType

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
non_blank_text = st.text().filter(lambda s: s.strip() != "")

VALUES_OF: dict[PropertyType, st.SearchStrategy[Any]] = {
    T.TEXT: non_blank_text,
    T.NUMBER: finite_floats,
    T.INTEGER: st.integers(min_value=-(2**63), max_value=2**63 - 1),
    T.DATE: st.dates(),
    T.BOOLEAN: st.booleans(),
}


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize("kind", list(PropertyType))
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_blank_text_is_no_value_whatever_the_type(kind: PropertyType, blank: str) -> None:
    assert parse_value(kind, blank) is None


def test_text_keeps_its_surrounding_blanks() -> None:
    assert parse_value(T.TEXT, "  North  ") == "  North  "


def test_a_dimension_value_is_an_item_code_without_surrounding_blanks() -> None:
    assert parse_value(T.DIMENSION, "  FR ") == "FR"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42.0), ("-3.5", -3.5), (" 1e3 ", 1000.0), ("0.1", 0.1), ("-0", 0.0)],
)
def test_numbers_parse_from_decimal_and_scientific_text(text: str, expected: float) -> None:
    assert parse_value(T.NUMBER, text) == expected


@pytest.mark.parametrize("text", ["abc", "1,5", "12 EUR", "--1"])
def test_text_that_is_not_a_number_is_refused_with_the_text_in_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number") as raised:
        parse_value(T.NUMBER, text)
    assert repr(text.strip()) in str(raised.value)


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999"])
def test_numbers_must_be_finite(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a (finite )?number"):
        parse_value(T.NUMBER, text)


@pytest.mark.parametrize(("text", "expected"), [("7", 7), ("-12", -12), ("3.0", 3), ("2e3", 2000)])
def test_integers_parse_from_whole_numbers_in_any_notation(text: str, expected: int) -> None:
    value = parse_value(T.INTEGER, text)
    assert value == expected
    assert type(value) is int


def test_an_integer_with_a_fraction_is_refused_as_not_whole() -> None:
    with pytest.raises(ValueError, match=r"'2\.5' is not a whole number"):
        parse_value(T.INTEGER, "2.5")


def test_an_integer_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a number"):
        parse_value(T.INTEGER, "seven")


def test_dates_parse_from_iso_format() -> None:
    assert parse_value(T.DATE, "2024-02-29") == date(2024, 2, 29)


@pytest.mark.parametrize("text", ["2023-02-29", "29/02/2024", "yesterday"])
def test_an_impossible_or_non_iso_date_is_refused_saying_the_expected_format(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected YYYY-MM-DD"):
        parse_value(T.DATE, text)


@pytest.mark.parametrize("text", ["true", "TRUE", "Yes", "y", "1", "t"])
def test_booleans_accept_the_usual_spellings_of_true(text: str) -> None:
    assert parse_value(T.BOOLEAN, text) is True


@pytest.mark.parametrize("text", ["false", "False", "NO", "n", "0", "f"])
def test_booleans_accept_the_usual_spellings_of_false(text: str) -> None:
    assert parse_value(T.BOOLEAN, text) is False


def test_a_boolean_that_is_neither_is_refused_listing_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="expected true/false, yes/no or 1/0"):
        parse_value(T.BOOLEAN, "maybe")


# ---------------------------------------------------------------- formatting


@pytest.mark.parametrize("kind", list(PropertyType))
def test_no_value_formats_as_blank(kind: PropertyType) -> None:
    assert format_value(kind, None) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3.0, "3"), (-2.0, "-2"), (0.5, "0.5"), (1e20, "1e+20"), (-1.25, "-1.25")],
)
def test_whole_numbers_format_without_a_fraction(value: float, expected: str) -> None:
    assert format_value(T.NUMBER, value) == expected


def test_booleans_format_as_true_and_false() -> None:
    assert (format_value(T.BOOLEAN, True), format_value(T.BOOLEAN, False)) == ("true", "false")


def test_dates_format_as_iso() -> None:
    assert format_value(T.DATE, date(2025, 1, 9)) == "2025-01-09"


@pytest.mark.parametrize("kind", [k for k in PropertyType if k is not T.DIMENSION])
@settings(deadline=None)  # pure and fast; a loaded CI machine must not fail it
@given(data=st.data())
def test_formatting_then_parsing_gives_the_value_back(kind: PropertyType, data: Any) -> None:
    value = data.draw(VALUES_OF[kind])
    assert parse_value(kind, format_value(kind, value)) == value


@settings(deadline=None)  # pure and fast; a loaded CI machine must not fail it
@given(value=finite_floats)
def test_a_number_formats_to_the_shortest_text_that_parses_to_it(value: float) -> None:
    text = format_value(T.NUMBER, value)
    assert float(text) == value
    assert len(text) <= len(repr(value))


# ---------------------------------------------------------------- conversions


@pytest.mark.parametrize("source", list(PropertyType))
def test_every_type_can_become_text(source: PropertyType) -> None:
    assert conversion_is_possible(source, T.TEXT)


@pytest.mark.parametrize("target", list(PropertyType))
def test_text_can_become_every_type(target: PropertyType) -> None:
    assert conversion_is_possible(T.TEXT, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (T.NUMBER, T.DATE),
        (T.DATE, T.NUMBER),
        (T.BOOLEAN, T.INTEGER),
        (T.NUMBER, T.BOOLEAN),
        (T.INTEGER, T.DIMENSION),
        (T.DIMENSION, T.NUMBER),
    ],
)
def test_unrelated_types_cannot_be_converted(source: PropertyType, target: PropertyType) -> None:
    assert not conversion_is_possible(source, target)
    with pytest.raises(ValueError, match=f"{source.label} values cannot become {target.label}"):
        convert_value(source, target, "anything")


@pytest.mark.parametrize(
    ("source", "target", "value", "expected"),
    [
        (T.INTEGER, T.NUMBER, 3, 3.0),
        (T.NUMBER, T.INTEGER, 4.0, 4),
        (T.INTEGER, T.BOOLEAN, 1, True),
        (T.INTEGER, T.BOOLEAN, 0, False),
        (T.NUMBER, T.TEXT, 2.5, "2.5"),
        (T.DATE, T.TEXT, date(2024, 5, 1), "2024-05-01"),
        (T.BOOLEAN, T.TEXT, True, "true"),
        (T.TEXT, T.NUMBER, " 12.5 ", 12.5),
        (T.TEXT, T.DATE, "2024-05-01", date(2024, 5, 1)),
        (T.TEXT, T.DIMENSION, " FR ", "FR"),
        (T.DIMENSION, T.TEXT, "FR", "FR"),
    ],
)
def test_values_convert_between_compatible_types(
    source: PropertyType, target: PropertyType, value: Any, expected: Any
) -> None:
    assert convert_value(source, target, value) == expected


@pytest.mark.parametrize(
    ("source", "target", "value", "reason"),
    [
        (T.NUMBER, T.INTEGER, 2.5, "not a whole number"),
        (T.INTEGER, T.BOOLEAN, 2, "not a boolean"),
        (T.TEXT, T.NUMBER, "n/a", "not a number"),
        (T.TEXT, T.DATE, "soon", "not a date"),
    ],
)
def test_a_value_the_target_type_cannot_hold_is_refused_with_a_reason(
    source: PropertyType, target: PropertyType, value: Any, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        convert_value(source, target, value)


@pytest.mark.parametrize("kind", list(PropertyType))
def test_no_value_converts_to_no_value(kind: PropertyType) -> None:
    assert convert_value(T.TEXT, kind, None) is None


@pytest.mark.parametrize("kind", [k for k in PropertyType if k is not T.DIMENSION])
@settings(deadline=None)  # pure and fast; a loaded CI machine must not fail it
@given(data=st.data())
def test_converting_to_text_and_back_gives_the_value_back(kind: PropertyType, data: Any) -> None:
    value = data.draw(VALUES_OF[kind])
    assert convert_value(T.TEXT, kind, convert_value(kind, T.TEXT, value)) == value


@settings(deadline=None)  # pure and fast; a loaded CI machine must not fail it
@given(value=st.integers(min_value=-(2**53), max_value=2**53))
def test_integers_survive_a_round_trip_through_number(value: int) -> None:
    assert convert_value(T.NUMBER, T.INTEGER, convert_value(T.INTEGER, T.NUMBER, value)) == value
