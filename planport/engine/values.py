"""Typed values from text columns, computed on whole Arrow arrays (no per-cell Python).

Each parser returns `Parsed`: the typed array (null where blank or unreadable) and a mask of
cells that were not blank yet could not be read, which become ParsingError rejects.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from planport.domain.file_settings import BooleanFormat, DateFormat, NumberFormat

_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_INTEGER = r"^[+-]?\d{1,18}$"
_DAYS_IN_MONTH = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())
_EXCEL_EPOCH_OFFSET = 25569  # days from 1899-12-30 (Excel's day 0) to 1970-01-01

_MONTH_NAMES: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "jan january janv janvier januar ene enero gen gennaio jän",
        "feb february fév févr février februar febrero febbraio",
        "mar march mars märz mär marzo mrz",
        "apr april avr avril abr abril aprile",
        "may mai mayo mag maggio",
        "jun june juin juni junio giu giugno",
        "jul july juil juillet juli julio lug luglio",
        "aug august aoû août ago agosto",
        "sep sept september septembre septiembre set settembre",
        "oct october octobre okt oktober octubre ott ottobre",
        "nov november novembre noviembre",
        "dec december déc décembre dez dezember dic diciembre dicembre",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTH_NAMES[_name] = _number
_MONTH_KEYS = pa.array(list(_MONTH_NAMES))
_MONTH_VALUES = pa.array(list(_MONTH_NAMES.values()), pa.int64())

# Date patterns as regexes with named parts (y, m, d, or mon for a month name).
_DATE_REGEXES = {
    "yyyy-MM-dd": r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$",
    "dd/MM/yyyy": r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})$",
    "MM/dd/yyyy": r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})$",
    "dd.MM.yyyy": r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})$",
    "dd-MM-yyyy": r"^(?P<d>\d{1,2})-(?P<m>\d{1,2})-(?P<y>\d{4})$",
    "yyyyMMdd": r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$",
    "yyyy/MM/dd": r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$",
    "MMM yyyy": r"^(?P<mon>\pL+)\.?[ -](?P<y>\d{4})$",
    "dd MMM yyyy": r"^(?P<d>\d{1,2})[ -](?P<mon>\pL+)\.?[ -](?P<y>\d{4})$",
}


@dataclass(frozen=True, slots=True)
class Parsed:
    values: pa.Array
    failed: pa.BooleanArray  # True where the cell had text that is not a value of the type


def blank_mask(column: pa.Array) -> pa.BooleanArray:
    """True where the cell is empty or only whitespace."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.fill_null(pc.equal(trimmed, ""), True)


def parse_text(column: pa.Array) -> Parsed:
    """Text is kept as written; an empty cell is null."""
    values = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    return Parsed(values, _no_failures(column))


def parse_numbers(column: pa.Array, fmt: NumberFormat) -> Parsed:
    """Numbers as `fmt` writes them. A written % divides by 100; with `fmt.percent` every value
    is a percentage (divided by 100 once, % sign or not).

    Exact: a percent or a power-of-ten multiplier moves the decimal point in the text, and the
    text is converted once, so each value is the double nearest to the decimal number written
    (14,3 % is 0.143, not 0.14300000000000002 as 14.3 / 100 in binary floating point).
    """
    plain = _plain_numbers(column, fmt)
    if plain is not None:
        return plain
    number = _take_apart(column, fmt)
    scaled = _decimal_text(number, _shift(number, fmt))
    numbers = pc.cast(scaled, pa.float64())
    numbers = pc.if_else(number.negative, pc.negate(numbers), numbers)
    if _power_of_ten(fmt.multiplier) is None:
        numbers = pc.multiply(numbers, fmt.multiplier)  # not a decimal shift: one rounding more
    # Checked after every scaling: 1e308 read in thousands is inf, and a block never stores
    # inf or nan (manual entry refuses them too), so the row is a ParsingError.
    finite = pc.fill_null(pc.is_finite(numbers), False)
    numbers = pc.if_else(finite, numbers, pa.scalar(None, pa.float64()))
    return Parsed(numbers, _failed(column, finite))


def _plain_numbers(column: pa.Array, fmt: NumberFormat) -> Parsed | None:
    """The common case in one regex pass: every cell empty or a plain `[-]digits.digits`
    number, in a format that reads such text as written. None when any cell needs the general
    path (whitespace, signs of a format, separators, parentheses, %, a multiplier, or not a
    number).

    The general path costs some ten passes over the column (trims, regex replacements, masks);
    this was most of the typing time of a large metric file.
    """
    if fmt.decimal_separator != "." or fmt.prefix or fmt.suffix or fmt.percent:
        return None
    if fmt.multiplier != 1.0 or column.null_count:
        return None
    valid = pc.match_substring_regex(column, _NUMBER)
    if not pc.all(pc.or_(valid, pc.equal(column, ""))).as_py():
        return None
    numbers = pc.cast(pc.if_else(valid, column, pa.scalar(None, pa.string())), pa.float64())
    finite = pc.fill_null(pc.is_finite(numbers), True)
    if not pc.all(finite).as_py():
        return None
    return Parsed(numbers, _no_failures(column))


def parse_integers(column: pa.Array, fmt: NumberFormat) -> Parsed:
    """Whole numbers: exact (through int64) for up to 18 digits as written, else through the
    number path when the value is whole."""
    numbers = parse_numbers(column, fmt)
    whole = pc.equal(numbers.values, pc.floor(numbers.values))
    in_range = pc.less(pc.abs(numbers.values), 9.2e18)
    ok = pc.fill_null(pc.and_(whole, in_range), False)
    values = pc.cast(pc.if_else(ok, numbers.values, pa.scalar(None, pa.float64())), pa.int64())
    number = _take_apart(column, fmt)
    exact = pc.fill_null(pc.match_substring_regex(number.digits, _INTEGER), False)
    exact = pc.and_(exact, pc.equal(_shift(number, fmt), 0))
    if fmt.multiplier == 1 and pc.any(exact).as_py():
        exact_values = pc.cast(
            pc.if_else(exact, number.digits, pa.scalar(None, pa.string())), pa.int64()
        )
        exact_values = pc.if_else(number.negative, pc.negate(exact_values), exact_values)
        values = pc.if_else(exact, exact_values, values)
    return Parsed(values, _failed(column, pc.or_(exact, ok)))


def parse_dates(column: pa.Array, fmt: DateFormat) -> Parsed:
    trimmed = pc.utf8_trim_whitespace(column)
    if fmt.pattern == "excel":
        return _excel_dates(column, trimmed)
    parts = pc.extract_regex(trimmed, _DATE_REGEXES[fmt.pattern])
    matched = pc.fill_null(pc.is_valid(parts), False)
    names = parts.type.names if hasattr(parts.type, "names") else [f.name for f in parts.type]
    year = _int_field(parts, "y")
    month = _month_field(parts) if "mon" in names else _int_field(parts, "m")
    day = (
        _int_field(parts, "d")
        if "d" in names
        else pc.cast(pc.fill_null(pa.nulls(len(column), pa.int64()), 1), pa.int64())
    )
    valid = pc.fill_null(pc.and_(matched, _real_date(year, month, day)), False)
    iso = pc.binary_join_element_wise(
        pc.utf8_lpad(pc.cast(year, pa.string()), 4, "0"),
        pc.utf8_lpad(pc.cast(month, pa.string()), 2, "0"),
        pc.utf8_lpad(pc.cast(day, pa.string()), 2, "0"),
        "-",
    )
    dates = pc.cast(pc.if_else(valid, iso, pa.scalar(None, pa.string())), pa.date32())
    return Parsed(dates, _failed(column, valid))


def parse_booleans(column: pa.Array, fmt: BooleanFormat) -> Parsed:
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(column))
    true = pc.fill_null(pc.is_in(lowered, pa.array([v.lower() for v in fmt.true_values])), False)
    false = pc.fill_null(pc.is_in(lowered, pa.array([v.lower() for v in fmt.false_values])), False)
    valid = pc.or_(true, false)
    values = pc.if_else(valid, true, pa.scalar(None, pa.bool_()))
    return Parsed(values, _failed(column, valid))


@dataclass(frozen=True, slots=True)
class _NumberText:
    """A column of written numbers taken apart, on Arrow arrays."""

    digits: pa.Array  # "1234.5": digits and a decimal point; null where the cell is no number
    exponent: pa.Array  # int64: the power of ten the text writes (1.5e3: 3), else 0
    negative: pa.BooleanArray  # a minus sign (before or after) or parentheses
    percent: pa.BooleanArray  # a % sign


def _take_apart(column: pa.Array, fmt: NumberFormat) -> _NumberText:
    """Signs, parentheses, prefix, suffix and % recognised around the number in any order
    spreadsheets and ERPs write them (-$1, $-1, ($1), $(1), 1-, (1) €, € -1...), with at
    most one sign or pair of parentheses, then the separators removed from the digits.

    One regex without captures checks the shape (RE2 runs it as a DFA); the parts are then
    told apart with literal counts and replacements. Capturing the parts with the regex cost
    four times as much (1.5 s for a million cells against 0.3 s).
    """
    text = pc.utf8_trim(column, _SPACES)
    ok = pc.fill_null(pc.match_substring_regex(text, _number_pattern(fmt)), False)
    for affix in {fmt.prefix.strip(_SPACES), _suffix(fmt)} - {""}:
        text = _replace(text, affix, "")
    for written, kept in (("E", "e"), ("e-", "e~"), ("e+", "e")):  # the exponent's own sign
        text = _replace(text, written, kept)
    opened = pc.count_substring(text, "(")
    signs = pc.add(pc.count_substring(text, "-"), pc.count_substring(text, "+"))
    ok = pc.and_(ok, pc.equal(opened, pc.count_substring(text, ")")))
    ok = pc.and_(ok, pc.less_equal(pc.add(signs, opened), 1))  # one way to say negative
    ok = pc.and_(ok, pc.less_equal(pc.count_substring(text, "%"), 1))
    if not fmt.parentheses_negative:
        ok = pc.and_(ok, pc.equal(opened, 0))
    negative = pc.and_(ok, pc.or_(pc.greater(opened, 0), pc.match_substring(text, "-")))
    percent = pc.and_(ok, pc.match_substring(text, "%"))
    for mark in ("(", ")", "%", "+", "-", *_separators(fmt)):
        text = _replace(text, mark, "")
    if fmt.decimal_separator != ".":
        text = _replace(text, fmt.decimal_separator, ".")
    digits, exponent = _exponent(_replace(text, "~", "-"))
    ok = pc.and_(ok, pc.fill_null(pc.match_substring_regex(digits, _DIGITS), False))
    return _NumberText(
        pc.if_else(ok, digits, pa.scalar(None, pa.string())), exponent, negative, percent
    )


_SPACES = " \t\u00a0\u202f"  # NBSP and narrow NBSP: French and Swiss thousands
_APOSTROPHES = "'\u2019"
_GAP = f"[{_SPACES}]*"
_DIGITS = r"^(\d+(\.\d*)?|\.\d+)$"


def _number_pattern(fmt: NumberFormat) -> str:
    """The shape of a number as `fmt` writes it, each part around the digits optional; which
    combinations make sense (one sign, balanced parentheses) the caller checks."""
    gap = _GAP
    # Either affix on either side: exports put the currency sign before or after the number.
    affix = _optional(fmt.prefix, _suffix(fmt))
    thousands = re.escape("".join(_thousands_family(fmt)))
    decimal = re.escape(fmt.decimal_separator)
    body = f"(?:{_grouped(thousands)}(?:{decimal}[0-9]*)?|{decimal}[0-9]+)"
    return (
        rf"^\(?{gap}[+-]?{gap}{affix}{gap}[+-]?{gap}\(?{gap}{body}(?:[eE][+-]?[0-9]{{1,6}})?"
        rf"{gap}%?{gap}\)?{gap}[+-]?{gap}{affix}{gap}%?{gap}\)?{gap}[+-]?$"
    )


def _grouped(thousands: str) -> str:
    """The integer part: plain digits or, with a thousands separator, groups of three after a
    lead of one to three digits (1,234,567), or the Indian grouping of twos before the last
    three (12,34,567). Why strict: `1,23` read with a ',' thousands separator is a decimal
    comma under the wrong setting, and landing it as 123 would be silently wrong."""
    if not thousands:
        return "[0-9]+"
    sep = f"[{thousands}]"
    western = f"[0-9]{{1,3}}(?:{sep}[0-9]{{3}})+"
    indian = f"[0-9]{{1,2}}(?:{sep}[0-9]{{2}})+{sep}[0-9]{{3}}"
    return f"(?:[0-9]+|{western}|{indian})"


def _suffix(fmt: NumberFormat) -> str:
    """The suffix to strip; a % suffix is not stripped: a % always reads hundredths."""
    suffix = fmt.suffix.strip(_SPACES)
    return "" if suffix == "%" else suffix


def _thousands_family(fmt: NumberFormat) -> tuple[str, ...]:
    """The chosen thousands separator and its look-alikes: a space of any width, and either
    apostrophe, are what French and Swiss exports write for the one the user picks."""
    chosen = fmt.thousands_separator
    if not chosen:
        return ()
    if chosen in _SPACES:
        return tuple(_SPACES.replace("\t", ""))
    return tuple(_APOSTROPHES) if chosen in _APOSTROPHES else (chosen,)


def _separators(fmt: NumberFormat) -> tuple[str, ...]:
    """Characters removed once the shape is checked: gaps (spaces outside the digits are
    only gaps then) and thousands separators."""
    return tuple(dict.fromkeys([*_SPACES, *_thousands_family(fmt)]))


def _optional(*affixes: str) -> str:
    """A regex for one of `affixes` or nothing (blank affixes are no affix)."""
    written = [re.escape(a.strip(_SPACES)) for a in affixes if a.strip(_SPACES)]
    return f"(?:{'|'.join(written)})?" if written else ""


def _replace(text: pa.Array, written: str, kept: str) -> pa.Array:
    """`text` with `written` replaced; looking first is cheaper than replacing nothing."""
    if not pc.any(pc.match_substring(text, written)).as_py():
        return text
    return pc.replace_substring(text, written, kept)


def _exponent(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(digits, the int64 exponent written after an "e", else 0)."""
    written = pc.fill_null(pc.match_substring(text, "e"), False)
    if not pc.any(written).as_py():
        return text, pc.cast(pc.multiply(pc.utf8_length(pc.fill_null(text, "")), 0), pa.int64())
    whole = pc.if_else(written, text, pc.binary_join_element_wise(text, "e0", ""))
    parts = pc.split_pattern(whole, "e", max_splits=1)
    exponent = pc.list_element(parts, 1)
    readable = pc.fill_null(pc.match_substring_regex(exponent, r"^-?[0-9]{1,6}$"), False)
    exponent = pc.cast(pc.if_else(readable, exponent, "0"), pa.int64())
    return pc.list_element(parts, 0), exponent


def _shift(number: _NumberText, fmt: NumberFormat) -> pa.Array:
    """The power of ten each value is scaled by: its exponent, -2 for a percent, and the
    multiplier's when it is a power of ten."""
    shift = pc.add(number.exponent, _power_of_ten(fmt.multiplier) or 0)
    hundredths = constant(True, len(number.percent)) if fmt.percent else number.percent
    return pc.if_else(hundredths, pc.subtract(shift, 2), shift)


def _decimal_text(number: _NumberText, shift: pa.Array) -> pa.Array:
    """ "digits" + "e" + shift: the decimal point moved in the text, not in binary."""
    return pc.binary_join_element_wise(number.digits, pc.cast(shift, pa.string()), "e")


def _power_of_ten(multiplier: float) -> int | None:
    """k when `multiplier` is 10**k (1000, 1e6, 0.001), else None."""
    exponent = round(math.log10(multiplier))
    return exponent if float(f"1e{exponent}") == multiplier else None


def _excel_dates(column: pa.Array, trimmed: pa.Array) -> Parsed:
    valid = pc.fill_null(pc.match_substring_regex(trimmed, r"^\d{1,6}(\.\d+)?$"), False)
    serial = pc.cast(pc.if_else(valid, trimmed, pa.scalar(None, pa.string())), pa.float64())
    days = pc.cast(pc.subtract(pc.floor(serial), _EXCEL_EPOCH_OFFSET), pa.int32())
    return Parsed(pc.cast(days, pa.date32()), _failed(column, valid))


def _int_field(parts: pa.StructArray, name: str) -> pa.Array:
    text = pc.struct_field(parts, name)
    return pc.cast(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text), pa.int64())


def _month_field(parts: pa.StructArray) -> pa.Array:
    names = pc.utf8_lower(pc.struct_field(parts, "mon"))
    index = pc.index_in(names, value_set=_MONTH_KEYS)
    return pc.take(_MONTH_VALUES, index)


def _real_date(year: pa.Array, month: pa.Array, day: pa.Array) -> pa.BooleanArray:
    """Month 1–12 and a day that exists in that month (29 February only in leap years)."""
    month_ok = pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12))
    safe_month = pc.if_else(month_ok, month, 0)
    days = pc.take(_DAYS_IN_MONTH, safe_month)
    leap = pc.and_(
        pc.equal(_remainder(year, 4), 0),
        pc.or_(pc.not_equal(_remainder(year, 100), 0), pc.equal(_remainder(year, 400), 0)),
    )
    days = pc.if_else(pc.and_(pc.equal(safe_month, 2), leap), 29, days)
    day_ok = pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, days))
    year_ok = pc.and_(pc.greater_equal(year, 1), pc.less_equal(year, 9999))
    return pc.and_(pc.and_(month_ok, day_ok), year_ok)


def _remainder(values: pa.Array, divisor: int) -> pa.Array:
    return pc.subtract(values, pc.multiply(pc.divide(values, divisor), divisor))


def _failed(column: pa.Array, valid: pa.Array) -> pa.BooleanArray:
    return pc.and_(pc.invert(blank_mask(column)), pc.invert(pc.fill_null(valid, False)))


def _no_failures(column: pa.Array) -> pa.BooleanArray:
    return constant(False, len(column))


def constant(value: bool, length: int) -> pa.BooleanArray:
    """A boolean array of one value."""
    return pc.fill_null(pa.nulls(length, pa.bool_()), value)
