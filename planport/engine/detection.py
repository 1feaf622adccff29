"""Settling what a file is before it is read: its encoding, separator and header.

`detect` reads a small sample (SAMPLE_SIZE bytes) and decides what the file settings leave to
detection: the encoding (a byte-order mark, else UTF-8, else Windows-1252), the separator
(clevercsv over at most DETECT_LINES lines of DETECT_BYTES), and the column names. Files that
are something else (a ZIP archive, an image, a workbook) are refused with what they look like.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import clevercsv

from planport.domain.file_settings import FileSettings

BLOCK_SIZE = 16 << 20  # bytes per parsed block; also the longest row Planport reads

SAMPLE_SIZE = 256 << 10  # bytes read to detect encoding, dialect and header


DETECT_LINES = 200


# Detection's cost grows with its sample (CleverCSV scores every candidate dialect over all of
# it): 16 KB keeps the worst input measured near 0.15 s, where 256 KB of one unclosed quote
# took ~2 s per wizard step. 200 lines of a typical export fit in it.
DETECT_BYTES = 16 << 10


# (byte-order mark, the encoding `auto` detects, the codec that reads what follows the mark)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)


# The chosen encodings a byte-order mark belongs to: any other choice contradicts the mark.
_BOM_FITS = {
    "utf-8": {"utf-8"},
    "utf-16-le": {"utf-16", "utf-16-le"},
    "utf-16-be": {"utf-16", "utf-16-be"},
}


_BOM_NAMES = {"utf-8": "UTF-8", "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE"}


_ZIP = "a ZIP archive"


# What a file's first bytes say it is: formats sometimes uploaded where a CSV file belongs.
_BINARY_KINDS = (
    (b"PK\x03\x04", _ZIP),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (xls) or another Office file"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"PAR1", "a Parquet file"),
)


_BINARY_CONTROLS = [*range(0, 9), *range(14, 32)]  # not tab, line breaks, form feed


# Bytes of plain ASCII text: printable characters, tab and line breaks.
_TEXT = frozenset([9, 10, 13, *range(32, 127)])


# The share of a sample's byte pairs that are an ASCII character and a zero byte for it to be
# taken for UTF-16 without a mark: a CSV file's digits, separators and line breaks are ASCII
# even when its names are not.
UTF16_ASCII = 0.3


# How a JSON document or JSON lines begin ('{"', '[{', '["', '[['…), which no header row does.
_JSON_START = re.compile(r'\s*(?:\{\s*["}]|\[\s*[{\["\]])')


class FileUnreadable(Exception):
    """The file cannot be read at all; the message says why and where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Dialect:
    encoding: str  # as chosen or detected ("utf-16" for either byte order)
    separator: str
    quote: str
    bom: int = 0  # bytes of byte-order mark the file starts with; never part of the data
    codec: str = ""  # the Python codec that reads the bytes after the mark ("" = encoding)

    @property
    def text_codec(self) -> str:
        return self.codec or self.encoding


def _read_sample(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(SAMPLE_SIZE)


def _encoding(sample: bytes, chosen: str) -> tuple[str, int, str]:
    """(encoding, length of the byte-order mark, codec for what follows it).

    A byte-order mark is never data, whatever encoding was chosen: a first header name that
    kept it matched no column. Raises FileUnreadable when the mark contradicts the choice.
    """
    for bom, detected, codec in _BOMS:
        if sample.startswith(bom):
            if chosen == "auto" or chosen in _BOM_FITS[codec]:
                return (detected if chosen == "auto" else chosen), len(bom), codec
            raise FileUnreadable(
                f"The file starts with a {_BOM_NAMES[codec]} byte-order mark, but its "
                f"encoding is set to {chosen}. Choose {_BOM_NAMES[codec]} (or Detect) "
                "in the file settings."
            )
    if chosen == "utf-16":
        # Python's utf-16 codec reads the byte order from the mark; without one it raises a
        # plain UnicodeError, not a decoding error.
        raise FileUnreadable(
            "The encoding is set to UTF-16 with a byte-order mark, but the file has none. "
            "Choose UTF-16 LE or UTF-16 BE (or Detect) in the file settings."
        )
    if chosen != "auto":
        return chosen, 0, ""
    try:
        # A multi-byte character may be cut at the end of the sample: ignore only that.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252", 0, ""
    return "utf-8", 0, ""


def _decode_sample(sample: bytes, encoding: str, codec: str) -> str:
    decoder = codecs.getincrementaldecoder(codec or encoding)()
    try:
        return decoder.decode(sample, final=False)
    except UnicodeDecodeError as error:
        if _looks_binary(sample):
            raise FileUnreadable(
                "This looks like a binary file, not a CSV file: it is full of control "
                "characters. Export the data as CSV or another delimited text file and "
                "import that file."
            ) from None
        line = sample[: error.start].count(b"\n") + 1
        raise FileUnreadable(
            f"Line {line} has bytes that are not {encoding} text (byte {error.start + 1}). "
            "Choose the file's encoding in the file settings."
        ) from None


def _refuse_binary_kind(sample: bytes) -> None:
    """Refuse a file whose first bytes say what binary format it is: decoding one as text
    would only report odd bytes in an encoding."""
    for magic, kind in _BINARY_KINDS:
        if sample.startswith(magic):
            if kind == _ZIP and b"xl/" in sample:
                kind = "an Excel workbook (xlsx)"
            raise FileUnreadable(
                f"This looks like a binary file ({kind}), not a CSV file. Export the data "
                "as CSV or another delimited text file (in Excel: Save As, CSV UTF-8) and "
                "import that file."
            )


def _looks_binary(sample: bytes) -> bool:
    """Whether over 1 % of the bytes are control characters no text file holds."""
    controls = sum(sample.count(bytes([code])) for code in _BINARY_CONTROLS)
    return controls * 100 > len(sample)


def _refuse_utf16_without_mark(sample: bytes, chosen: str) -> None:
    """Refuse UTF-16 text that lost its byte-order mark unless a UTF-16 byte order is chosen:
    read as UTF-8 or Windows-1252 it is only text and NUL bytes. Its sign: ASCII characters,
    each with a zero byte on the same side, in at least UTF16_ASCII of the sample's pairs."""
    if chosen.startswith("utf-16") or any(sample.startswith(bom) for bom, _, _ in _BOMS):
        return
    pairs = len(sample) // 2
    if pairs < 8:
        return
    even, odd = sample[0 : 2 * pairs : 2], sample[1 : 2 * pairs : 2]
    for order, high, low in (("LE", odd, even), ("BE", even, odd)):
        if high.count(0) < pairs * UTF16_ASCII:
            continue  # the usual case, counted fast: no zero byte beside most characters
        ascii_pairs = sum(1 for h, c in zip(high, low, strict=True) if h == 0 and c in _TEXT)
        if ascii_pairs >= pairs * UTF16_ASCII:
            raise FileUnreadable(
                f"This looks like UTF-16 {order} text without a byte-order mark (a zero byte "
                f"beside nearly every character). Choose UTF-16 {order} as the encoding in the "
                "file settings, or save the file as UTF-8."
            )


def _refuse_json(text: str) -> None:
    if _JSON_START.match(text):
        raise FileUnreadable(
            f"This looks like JSON (it starts with {text.lstrip()[0]!r}), not a CSV file. "
            "Export the data as CSV or another delimited text file (a header row, then one "
            "row per line) and import that file."
        )


def _refuse_binary(text: str) -> None:
    position = text.find("\x00")
    if position >= 0:
        line = text.count("\n", 0, position) + 1
        raise FileUnreadable(
            f"This does not look like a CSV file: line {line} contains binary data (NUL bytes)."
        )


def _separator(text: str, settings: FileSettings) -> str:
    if settings.separator != "auto":
        return settings.separator
    lines = text.splitlines()[settings.skip_rows : settings.skip_rows + DETECT_LINES]
    sample = _detection_sample(lines)
    try:
        detected = clevercsv.Detector().detect(sample, delimiters=[",", ";", "\t", "|"])
    except Exception:  # clevercsv raises assorted errors on odd input; fall back below
        detected = None
    if detected is not None and detected.delimiter in {",", ";", "\t", "|"}:
        return str(detected.delimiter)
    first = lines[0] if lines else ""
    counts = {sep: first.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _detection_sample(lines: list[str]) -> str:
    """The lines that fit in DETECT_BYTES characters; the first line cut there if it alone
    is longer (a line that opens a quote and never closes it can fill the whole sample)."""
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > DETECT_BYTES:
            break
        kept.append(line)
    return "\n".join(kept) if kept else (lines[0][:DETECT_BYTES] if lines else "")


def _sample_records(text: str, dialect: Dialect, skip_rows: int) -> tuple[list[list[str]], int]:
    """The first two non-blank records after `skip_rows` lines, and the 0-based line index of
    the first of them."""
    csv.field_size_limit(BLOCK_SIZE)
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=dialect.separator, quotechar=dialect.quote
    )
    records: list[list[str]] = []
    first = 0
    try:
        for number, record in enumerate(reader):
            if number < skip_rows or not any(cell.strip() for cell in record):
                continue
            if not records:
                first = number
            records.append(record)
            if len(records) >= 2:
                break
    except csv.Error as error:
        raise FileUnreadable(
            f"The file cannot be read as CSV near line {reader.line_num}: {error}."
        ) from None
    return records, first


def _whole_lines(text: str) -> str:
    """`text` up to its last line break: a sample cut in the middle of a row would read a
    header short of its last columns."""
    return text[: max(text.rfind("\n"), text.rfind("\r")) + 1]


def _lines_in(text: str) -> int:
    """How many line breaks `text` holds ("\r\n" once)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _column_names(first: list[str], header: bool) -> list[str]:
    if not header:
        return [f"Column {i}" for i in range(1, len(first) + 1)]
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(first, start=1):
        name = raw.strip() or f"Column {position}"
        key = name.casefold()
        seen[key] = seen.get(key, 0) + 1
        names.append(name if seen[key] == 1 else f"{name} ({seen[key]})")
    return names


def detect(path: Path, settings: FileSettings) -> tuple[Dialect, list[str], int]:
    """(dialect, column names, 0-based line of the first record) of the file at `path`, with
    what `settings` leaves to detection decided from a sample. Raises FileUnreadable for an
    empty, binary or undecodable file, or one with no rows after the skipped ones."""
    sample = _read_sample(path)
    if not sample:
        raise FileUnreadable("The file is empty.")
    _refuse_binary_kind(sample)
    _refuse_utf16_without_mark(sample, settings.encoding)
    encoding, bom, codec = _encoding(sample, settings.encoding)
    text = _decode_sample(sample[bom:], encoding, codec)
    _refuse_binary(text)
    _refuse_json(text)
    dialect = Dialect(encoding, _separator(text, settings), settings.quote, bom, codec)
    complete = text if len(sample) < SAMPLE_SIZE else _whole_lines(text)
    records, first_record = _sample_records(complete, dialect, settings.skip_rows)
    if not records and complete != text and text[len(complete) :].strip():
        raise FileUnreadable(
            f"Line {_lines_in(complete) + 1} does not end within the first "
            f"{SAMPLE_SIZE >> 10} KB of the file, so its columns cannot be read: a CSV file "
            "has one row per line, and its first row must be shorter than that."
        )
    if not records:
        raise FileUnreadable(
            f"The file has no rows after the {settings.skip_rows} skipped row(s)."
            if settings.skip_rows
            else "The file has no rows."
        )
    return dialect, _column_names(records[0], settings.header), first_record
