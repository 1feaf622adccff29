"""Numbers land exactly as written: percents and multipliers move the decimal point in the
text, and accounting negatives are read in every order spreadsheets and ERPs write them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planport.domain.file_settings import NumberFormat
from planport.engine.values import parse_integers, parse_numbers


def read(text: str, **fmt: Any) -> float | None:
    parsed = parse_numbers(pa.array([text]), NumberFormat(**fmt))
    value: float | None = parsed.values.to_pylist()[0]
    assert parsed.failed.to_pylist() == [value is None], text
    return value


# ---------------------------------------------------------------- exact percents and multipliers


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("0,7", {"decimal_separator": ",", "percent": True}, 0.007),
        ("14,3%", {"decimal_separator": ","}, 0.143),
        ("14,3 %", {"decimal_separator": ",", "percent": True}, 0.143),
        ("1,005", {"decimal_separator": ",", "multiplier": 1000}, 1005.0),
        ("0.1", {"multiplier": 1e6}, 100_000.0),
        ("2.675", {"multiplier": 1000}, 2675.0),
        ("1.1%", {}, 0.011),
        ("-8.2%", {}, -0.082),
        ("12.3K", {"suffix": "K", "multiplier": 1000}, 12_300.0),
        ("1.5e-3", {"percent": True}, 0.000015),
    ],
)
def test_a_percent_or_multiplier_gives_the_double_nearest_the_written_decimal(
    text: str, fmt: dict[str, Any], expected: float
) -> None:
    # Binary floating point made 0,7 % into 0.006999999999999999 and 1,005 × 1000 into
    # 1004.9999999999999; the grid and the export then showed those digits.
    assert read(text, **fmt) == expected


def test_an_integer_column_with_a_multiplier_reads_whole_thousands_exactly() -> None:
    parsed = parse_integers(
        pa.array(["1,005", "0,001"]), NumberFormat(decimal_separator=",", multiplier=1000)
    )
    assert parsed.values.to_pylist() == [1005, 1]


def test_a_number_too_large_for_a_double_fails_instead_of_becoming_infinite() -> None:
    parsed = parse_numbers(pa.array(["1e400", "5"]), NumberFormat(multiplier=1000))
    assert parsed.values.to_pylist() == [None, 5000.0]
    assert parsed.failed.to_pylist() == [True, False]


# ---------------------------------------------------------------- accounting negatives

DOLLARS = {"prefix": "$", "thousands_separator": ","}
EUROS = {"suffix": "€", "decimal_separator": ",", "thousands_separator": "."}


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("$(1,234.56)", DOLLARS, -1234.56),  # Excel's Accounting format
        ("($1,234.56)", DOLLARS, -1234.56),
        ("-$1,234.56", DOLLARS, -1234.56),
        ("$-1,234.56", DOLLARS, -1234.56),
        ("$ (1,234.56)", DOLLARS, -1234.56),
        ("( $ 1,234.56 )", DOLLARS, -1234.56),
        ("1,234.56-", DOLLARS, -1234.56),  # SAP's trailing minus
        ("$1,234.56-", DOLLARS, -1234.56),
        ("(1,234.56)", DOLLARS, -1234.56),
        ("- 1,234.56", DOLLARS, -1234.56),
        ("+$1,234.56", DOLLARS, 1234.56),
        ("(1.234,56) €", EUROS, -1234.56),
        ("(1.234,56 €)", EUROS, -1234.56),
        ("-1.234,56 €", EUROS, -1234.56),
        ("€ -1.234,56", EUROS, -1234.56),
        ("-€1.234,56", EUROS, -1234.56),
        ("1.234,56 €-", EUROS, -1234.56),
        ("1.234,56-", EUROS, -1234.56),
        ("1 €", EUROS, 1.0),
    ],
)
def test_a_negative_is_read_in_every_order_of_sign_currency_and_parentheses(
    text: str, fmt: dict[str, Any], expected: float
) -> None:
    assert read(text, **fmt) == expected


@pytest.mark.parametrize(
    ("text", "thousands"),
    [
        ("1 234 567,89", " "),
        ("1\u00a0234\u00a0567,89", " "),  # French Excel: no-break space
        ("1\u202f234\u202f567,89", " "),  # French since 2019 and Swiss: narrow no-break space
        ("1 234 567,89", "\u00a0"),
        ("1\u202f234\u202f567,89 €", "\u202f"),
    ],
)
def test_any_width_of_space_is_a_space_thousands_separator(text: str, thousands: str) -> None:
    fmt = {"decimal_separator": ",", "thousands_separator": thousands, "suffix": "€"}
    assert read(text, **fmt) == 1234567.89
    assert read("-" + text, **fmt) == -1234567.89


@pytest.mark.parametrize("text", ["1'234.56", "1\u2019234.56", "CHF 1'234.56", "1'234.56 CHF"])
def test_swiss_apostrophe_thousands_are_read(text: str) -> None:
    assert read(text, thousands_separator="'", prefix="CHF") == 1234.56


@pytest.mark.parametrize(
    "text",
    ["(-1)", "-(1)", "--1", "1--", "-1-", "(1", "1)", "((1))", "$(1", "1,23.4,5", "1.5.-"],
)
def test_two_ways_of_saying_negative_or_unbalanced_parentheses_fail(text: str) -> None:
    assert read(text, **DOLLARS) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,234", 1234.0), ("1,234,567.5", 1234567.5), ("12,34,567", 1234567.0), ("1234", 1234.0)],
)
def test_thousands_in_groups_of_three_or_the_indian_grouping_are_read(
    text: str, expected: float
) -> None:
    assert read(text, thousands_separator=",") == expected


@pytest.mark.parametrize("text", ["1,23", "1,2345", "1234,567", "12,3,456", ",123", "1,,234"])
def test_a_thousands_separator_out_of_its_groups_is_a_parsing_error_not_a_guess(
    text: str,
) -> None:
    # "1,23" under a ',' thousands separator is a decimal comma read with the wrong setting.
    assert read(text, thousands_separator=",") is None


def test_parentheses_are_not_a_negative_when_the_option_is_off() -> None:
    assert read("$(12)", prefix="$", parentheses_negative=False) is None


# ------------------------------------------------------------ round trips of generated numbers


@dataclass(frozen=True)
class Style:
    """How one locale and one system write numbers, and the NumberFormat that reads them."""

    decimal: str
    thousands: str
    currency: str
    currency_first: bool
    negative: str  # minus, minus-after, parentheses, minus-after-currency
    percent: str  # "", "sign" (written %), "option" (every value is a percent)
    multiplier: float

    def format(self) -> NumberFormat:
        return NumberFormat(
            decimal_separator=self.decimal,
            thousands_separator=self.thousands,
            prefix=self.currency if self.currency_first else "",
            suffix="" if self.currency_first else self.currency,
            percent=self.percent == "option",
            multiplier=self.multiplier,
        )

    def write(self, number: Decimal) -> str:
        digits = format(abs(number), "f")
        whole, _, fraction = digits.partition(".")
        groups: list[str] = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        text = self.thousands.join([whole, *groups])
        if fraction:
            text += self.decimal + fraction
        if self.percent == "sign":
            text += "%"
        negative = number < 0
        if negative and self.negative == "minus":
            text = "-" + text
        if self.currency and self.currency_first:
            text = f"{self.currency}{text}"
        elif self.currency:
            text = f"{text} {self.currency}"
        if negative and self.negative == "parentheses":
            text = f"({text})"
        if negative and self.negative in ("minus-after", "minus-after-currency"):
            text += "-"
        return text


STYLES = st.builds(
    Style,
    st.sampled_from([".", ","]),
    st.sampled_from(["", ",", ".", " ", "\u00a0", "\u202f", "'"]),
    st.sampled_from(["", "$", "€", "CHF", "USD"]),
    st.booleans(),
    st.sampled_from(["minus", "minus-after", "parentheses", "minus-after-currency"]),
    st.sampled_from(["", "sign", "option"]),
    st.sampled_from([1.0, 1000.0, 1e6, 0.001]),
).filter(lambda style: style.thousands != style.decimal)

DECIMALS = st.builds(
    lambda digits, exponent, negative: Decimal(f"{'-' if negative else ''}{digits}E{exponent}"),
    st.integers(min_value=0, max_value=10**17 - 1),
    st.integers(min_value=-12, max_value=6),
    st.booleans(),
)


def exact_value(number: Decimal, style: Style) -> float:
    """What the file means, computed in decimal: then rounded once to a double."""
    with localcontext() as context:
        context.prec = 60
        value = number * Decimal(repr(style.multiplier))
        if style.percent:
            value = value / 100
    return float(value)


@settings(deadline=None, max_examples=400)
@given(DECIMALS, STYLES)
def test_a_decimal_written_in_any_style_reads_back_as_the_nearest_double(
    number: Decimal, style: Style
) -> None:
    written = style.write(number)
    assert read(written, **style.format().model_dump()) == exact_value(number, style), written


# ---------------------------------------------------------------- never inf or nan


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("1e308", {"multiplier": 3}),
        ("-1e308", {"multiplier": 2.5}),
        ("1e308", {"multiplier": 1000}),
        ("1e306", {"multiplier": 1e6}),
        ("1e400", {}),
        ("1e400%", {}),
        ("nan", {}),
        ("inf", {}),
    ],
)
def test_a_value_that_is_not_finite_after_scaling_is_a_parsing_error(
    text: str, fmt: dict[str, Any]
) -> None:
    assert read(text, **fmt) is None


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(1e-12, 1e12))
@settings(max_examples=200)
def test_no_written_number_and_multiplier_lands_as_inf_or_nan(
    value: float, multiplier: float
) -> None:
    parsed = parse_numbers(pa.array([repr(value)]), NumberFormat(multiplier=multiplier))
    landed = parsed.values.to_pylist()[0]
    assert landed is None or math.isfinite(landed)
    assert parsed.failed.to_pylist() == [landed is None]


@pytest.mark.parametrize("multiplier", ["1e309", "inf", "nan", "0", "-1000", "1e13", "1e-13"])
def test_a_non_finite_or_absurd_multiplier_is_refused_naming_it(multiplier: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NumberFormat(multiplier=multiplier)  # type: ignore[arg-type]
    assert refused.value.errors()[0]["loc"] == ("multiplier",)
