"""Values no page should answer with a 5xx: out of range, malformed, or hostile.

A value is text sent percent-encoded as UTF-8 (lone surrogates as the bytes a careless encoder
writes), or `Raw` text sent as it is, for encodings no correct client produces.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from hypothesis import strategies as st


@dataclass(frozen=True, slots=True)
class Raw:
    """Sent verbatim in the query or body: invalid percent-encoding."""

    text: str


Value = str | Raw

NUMBERS = [
    "-1",
    "0",
    "-0",
    "100000000000000000000",
    "-100000000000000000000",
    "9" * 400,
    "9" * 5000,
    "1e309",
    "-1e309",
    "nan",
    "inf",
    "1e-400",
    "0.5",
    "1,5",
    "²",
    "١٢",
    "0x10",
    "1_000",
    " 7 ",
]
DATES = [
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-14:00",
    "1969-12-31T23:59",
    "2200-01-02T00:00",
    "2026-02-30",
    "2026-13-01T00:00",
    "+002026-01-01",
    "2026-03-29T02:30Z",
]
TEXTS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x1b[2J\x07",
    "\r\n",
    "\t",
    "\u202e\u200b",
    "\ufeff",
    "\ud800",
    "a\udfffb",
    "x" * 20_000,
    "é" * 3000,
    "'\"<script>{{7*7}}",
    "../../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "{",
    "{}",
    "[]",
    "null",
    '{"encoding": "utf-16"}',
    '{"number": {"multiplier": 1e309}}',
]
CHOICES = [
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "tab",
    "pivoted",
    "true",
    "on",
    "column:Code",
    "column:\x00",
    "constant",
    "timestamp",
    "cron",
    "hourly",
    "weekly",
    "monthly",
    "* * * * *",
    "0 0 31 2 *",
    "Europe/Paris",
    "Mars/Olympus",
    "admin",
]
URLS = [
    "https://[::1/a",
    "http://[",
    "https://exa mple.com",
    "https://example.com:99999/",
    "https://user:pa ss@/",
    "http://",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "https://" + "a" * 5000 + ".com/",
]
IDS = [
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    str(uuid.UUID(int=2**128 - 1)),
    "{12345678-1234-5678-1234-567812345678}",
]
RAW = [Raw("%"), Raw("%zz"), Raw("%ff%fe"), Raw("%ED%A0%80"), Raw("%C0%80"), Raw("a%00b")]
EVERYTHING: list[Value] = [*NUMBERS, *DATES, *TEXTS, *CHOICES, *URLS, *IDS, *RAW]

# Which family a field's name suggests; every field also gets everything else.
_HINTS = [
    (re.compile(r"minutes|every|day|rows|failures|page|threshold|multiplier|skip|count"), NUMBERS),
    (re.compile(r"start|since|until|before|date|when"), DATES),
    (re.compile(r"url|location|webhook"), URLS),
    (re.compile(r"(^|_)id$|block|configuration|list|role|property|dimension|upload"), IDS),
]


# One request per field and value of this sweep (the hypothesis examples explore beyond it).
CORE: list[Value] = [
    "100000000000000000000",
    "-1",
    "1e309",
    "9999-12-31",
    "0001-01-01T00:00",
    "\x00",
    "\x1b[2J\x07\r\n",
    "x" * 20_000,
    "\ud800",
    "not-a-uuid",
    Raw("%zz"),
    Raw("%ff%fe"),
]
_EXTRAS = [
    (
        re.compile(r"minutes|every|day|rows|failures|page|threshold|multiplier|skip"),
        ["9" * 5000, "nan", "-100000000000000000000"],
    ),
    (
        re.compile(r"start|since|until|before|date"),
        ["9999-12-31T23:59", "0001-01-01", "9999-12-31T23:59:59+14:00"],
    ),
    (
        re.compile(r"url|location|webhook"),
        ["https://[::1/a", "http://[", "https://example.com:99999/"],
    ),
    (re.compile(r"encoding"), ["utf-16", "utf-16-le", "utf-16-be"]),
    (
        re.compile(r"settings|mapping"),
        ['{"number": {"multiplier": 1e309}}', '{"encoding": "utf-16"}', "{"],
    ),
]


def sweep_for(name: str) -> list[Value]:
    """The values every field is sent once each: the core, and those its name calls for."""
    extras = [v for hint, values in _EXTRAS if hint.search(name) for v in values]
    return [*CORE, *extras]


def family_of(name: str) -> list[Value]:
    for hint, family in _HINTS:
        if hint.search(name):
            return [*family, *CHOICES]
    return [*TEXTS, *CHOICES]


def values_for(name: str) -> st.SearchStrategy[Value]:
    """A nasty value for the field called `name`: its family first, then anything."""
    generated = st.text(st.characters(codec="utf-8"), max_size=40)
    return st.one_of(
        st.sampled_from(family_of(name)),
        st.sampled_from(EVERYTHING),
        generated,
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
    )


def path_values() -> st.SearchStrategy[Value]:
    """What an id in a path may be instead of a real one."""
    return st.sampled_from([*IDS, str(uuid.uuid4()), "\x00", "x" * 5000, Raw("%zz"), Raw("%ff")])


def encoded(value: Value) -> str:
    """The value as it travels in a query string, a form body or a path segment."""
    if isinstance(value, Raw):
        return value.text
    return quote(value.encode("utf-8", "surrogatepass"), safe="")
