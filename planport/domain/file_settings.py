"""How a file is read (step 1 of the wizard): encoding, separator, layout and value formats.

Plain, frozen, JSON-serialisable settings; an import configuration stores them as they are.
Unknown keys are refused so a misspelt option never passes silently.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Layout(StrEnum):
    FLAT = "flat"  # one row per item or metric cell
    PIVOTED = "pivoted"  # header cells are items of one dimension; each body cell is a cell


ENCODINGS = {
    "auto": "Detect (BOM, else UTF-8, else Windows-1252)",
    "utf-8": "UTF-8 (with or without BOM)",
    "utf-16": "UTF-16 with BOM (LE or BE)",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "cp1252": "Windows-1252",
    "iso-8859-1": "ISO-8859-1 (Latin-1)",
    "iso-8859-15": "ISO-8859-15 (Latin-9)",
}
SEPARATORS = {"auto": "Detect", ",": "Comma", ";": "Semicolon", "\t": "Tab", "|": "Pipe"}
QUOTES = {'"': 'Double quote "', "'": "Single quote '"}

DATE_PATTERNS = {
    "yyyy-MM-dd": "2026-01-31 (ISO)",
    "dd/MM/yyyy": "31/01/2026",
    "MM/dd/yyyy": "01/31/2026",
    "dd.MM.yyyy": "31.01.2026",
    "dd-MM-yyyy": "31-01-2026",
    "yyyyMMdd": "20260131",
    "yyyy/MM/dd": "2026/01/31",
    "MMM yyyy": "Jan 2026 (first day of the month)",
    "dd MMM yyyy": "31 Jan 2026",
    "excel": "Excel serial number (46053)",
}


MIN_MULTIPLIER = 1e-12
MAX_MULTIPLIER = 1e12


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NumberFormat(_Frozen):
    """How numbers are written. Applied to every number column unless a column overrides it."""

    decimal_separator: str = Field(default=".", pattern=r"^[.,]$")
    thousands_separator: str = Field(default="", pattern=r"^(|,|\.| |'|\u00a0|\u202f)$")
    prefix: str = Field(default="", max_length=8, description="Text before the number, e.g. $")
    suffix: str = Field(default="", max_length=8, description="Text after the number, e.g. K or €")
    percent: bool = Field(default=False, description="5% is read as 0.05")
    # Bounded: a non-finite or absurd multiplier turns every value into inf, nan or zero.
    multiplier: float = Field(
        default=1.0,
        ge=MIN_MULTIPLIER,
        le=MAX_MULTIPLIER,
        allow_inf_nan=False,
        description="1000 reads thousands, 1e6 millions (from 1e-12 to 1e12)",
    )
    parentheses_negative: bool = Field(default=True, description="(12.5) is read as -12.5")

    @field_validator("thousands_separator")
    @classmethod
    def _separators_differ(cls, value: str, info: object) -> str:
        data = getattr(info, "data", {})
        if value and value == data.get("decimal_separator"):
            raise ValueError("the thousands separator must differ from the decimal separator")
        return value


class DateFormat(_Frozen):
    pattern: str = "yyyy-MM-dd"

    @field_validator("pattern")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DATE_PATTERNS:
            raise ValueError(
                f"unknown date format {value!r}; use one of {', '.join(DATE_PATTERNS)}"
            )
        return value


DEFAULT_TRUE = (
    "true",
    "yes",
    "y",
    "1",
    "t",
    "x",
    "vrai",
    "oui",
    "wahr",
    "ja",
    "sí",
    "si",
    "verdadero",
    "waar",
)
DEFAULT_FALSE = ("false", "no", "n", "0", "f", "faux", "non", "falsch", "nein", "falso", "onwaar")


class BooleanFormat(_Frozen):
    """Words read as true or false, compared case-insensitively."""

    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE


class ColumnFormat(_Frozen):
    """Per-column overrides of the import-wide formats."""

    number: NumberFormat | None = None
    date: DateFormat | None = None


class FileSettings(_Frozen):
    encoding: str = "auto"
    separator: str = "auto"
    quote: str = '"'
    header: bool = True
    skip_rows: int = Field(default=0, ge=0, le=10_000)
    layout: Layout = Layout.FLAT
    # The sheet of an xlsx workbook to read (None: the first); ignored for other files.
    sheet: str | None = Field(default=None, min_length=1, max_length=31)
    number: NumberFormat = NumberFormat()
    date: DateFormat = DateFormat()
    boolean: BooleanFormat = BooleanFormat()
    # Keyed by source column name (the header cell, or "Column 3" without a header).
    columns: dict[str, ColumnFormat] = Field(default_factory=dict)

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        value = value.lower().replace("_", "-")
        if value not in ENCODINGS:
            raise ValueError(f"unsupported encoding {value!r}; use one of {', '.join(ENCODINGS)}")
        return value

    @field_validator("separator")
    @classmethod
    def _separator(cls, value: str) -> str:
        value = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(
            value, value
        )
        if value not in SEPARATORS:
            raise ValueError("the separator must be auto, a comma, a semicolon, a tab or a pipe")
        return value

    @field_validator("quote")
    @classmethod
    def _quote(cls, value: str) -> str:
        if value not in QUOTES:
            raise ValueError("the text qualifier must be \" or '")
        return value

    def number_for(self, column: str) -> NumberFormat:
        override = self.columns.get(column)
        return override.number if override and override.number else self.number

    def date_for(self, column: str) -> DateFormat:
        override = self.columns.get(column)
        return override.date if override and override.date else self.date
