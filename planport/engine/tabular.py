"""Reading workbooks (xlsx) and Parquet files into the same text batches as a CSV file.

What a file is, is told by its content, not its name (`file_format`): a Parquet file starts and
ends with b"PAR1"; an xlsx workbook is a ZIP archive holding xl/workbook.xml. Anything else is
left to the CSV reader.

The engine types text (`engine/values.py`), so each typed cell is written as the text a CSV
file would hold for it, in the formats of the file settings (`as_text`): numbers as plain
digits with the column's decimal separator and no thousands separator (a Parquet decimal keeps
its digits exactly: 1234.50 stays "1234.50"); dates in the column's date format (a date
2027-01-31 read with dd/MM/yyyy becomes "31/01/2027"); a date and time at midnight as its date,
another as "yyyy-MM-dd HH:MM:SS"; booleans as the first of the true and false words; text as it
is, and an empty cell as "". A value then lands exactly as the same text in a CSV file would.

Rows: a workbook row's line is its row number in the sheet; a Parquet row's line is its
position in the file, from 1, the header not counted (Parquet files have none).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import fastexcel
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from planport.domain.file_settings import FileSettings
from planport.engine.detection import FileUnreadable, _column_names

PARQUET_BATCH_ROWS = 64 * 1024  # rows of a Parquet file decoded at a time

_PARQUET_MAGIC = b"PAR1"
_ENCRYPTED_PARQUET_MAGIC = b"PARE"
_ZIP_MAGIC = b"PK\x03\x04"
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# An encrypted xlsx is an OLE compound file holding a stream of this name (UTF-16 LE).
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
_SAMPLE = 64 << 10

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOCUMENT_RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_CELL_ROW = re.compile(r"[A-Z]+(\d+)$")

# Date patterns of the file settings (`DATE_PATTERNS`) as strftime formats.
_STRFTIME = {
    "yyyy-MM-dd": "%Y-%m-%d",
    "dd/MM/yyyy": "%d/%m/%Y",
    "MM/dd/yyyy": "%m/%d/%Y",
    "dd.MM.yyyy": "%d.%m.%Y",
    "dd-MM-yyyy": "%d-%m-%Y",
    "yyyyMMdd": "%Y%m%d",
    "yyyy/MM/dd": "%Y/%m/%d",
    "MMM yyyy": "%b %Y",
    "dd MMM yyyy": "%d %b %Y",
}
_EXCEL_EPOCH_OFFSET = 25569  # days from 1899-12-30 (Excel's day 0) to 1970-01-01


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


def file_format(path: Path) -> FileFormat:
    """The file's format by its first and last bytes (and, for a ZIP, its entries). Raises
    FileUnreadable for a Parquet file or workbook that is cut off, damaged or encrypted."""
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE)
        size = handle.seek(0, 2)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    if head.startswith(_PARQUET_MAGIC):
        if tail == _ENCRYPTED_PARQUET_MAGIC:
            raise FileUnreadable(
                "This Parquet file is encrypted: Planport reads only plain Parquet files. "
                "Write the file again without encryption."
            )
        if size < 12 or tail != _PARQUET_MAGIC:
            raise FileUnreadable(
                "This Parquet file is cut off or damaged: it does not end with the Parquet "
                "footer. Send or export the whole file again."
            )
        return FileFormat.PARQUET
    if head.startswith(_CFB_MAGIC) and _ENCRYPTION_STREAM in head:
        raise FileUnreadable(
            "This workbook is protected with a password (encrypted), so it cannot be read. "
            "Remove the password in Excel (File, Info, Protect Workbook) and import it again."
        )
    if head.startswith(_ZIP_MAGIC) and _is_workbook(path, head):
        return FileFormat.XLSX
    return FileFormat.CSV


def _is_workbook(path: Path, head: bytes) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        if b"xl/" not in head:
            return False  # a damaged ZIP of something else: the CSV reader refuses it
        raise FileUnreadable(
            "This Excel workbook (xlsx) is damaged or cut off: it cannot be opened as a ZIP "
            "archive. Save or send the whole workbook again."
        ) from None
    if "xl/workbook.bin" in names:
        raise FileUnreadable(
            "This is a binary Excel workbook (xlsb), which Planport does not read. Save it "
            "as an Excel workbook (xlsx) or as CSV UTF-8 and import that file."
        )
    return "xl/workbook.xml" in names


@dataclass
class Frame:
    """A workbook sheet or Parquet file ready to stream as text batches (see `batches`)."""

    format: FileFormat
    columns: list[str]
    first_data_line: int
    sheets: list[str] = field(default_factory=list)  # a workbook's sheets, in order
    sheet: str | None = None  # the sheet read
    _rows: pa.RecordBatch | None = None  # a workbook's data rows, blank rows left out
    _lines: pa.Array | None = None  # the sheet row of each of `_rows`
    _parquet: pq.ParquetFile | None = None
    _lost: dict[int, pa.Array] = field(default_factory=dict)  # see _lost_cells

    def batches(
        self, settings: FileSettings, include: list[int] | None, check: Callable[[], None]
    ) -> Iterator[pa.RecordBatch]:
        """The data rows as text columns named by position ("0", "1"…), only those in
        `include` (all by default); `check` is called before each batch (it raises to stop).
        Raises FileUnreadable for a damaged Parquet row group or a value that has no text."""
        wanted = list(range(len(self.columns))) if include is None else include
        for typed in self._typed_batches(wanted):
            check()
            texts = [
                self._text(typed.column(i), position, settings) for i, position in enumerate(wanted)
            ]
            yield pa.RecordBatch.from_arrays(texts, names=[str(p) for p in wanted])

    def _text(self, typed: pa.Array, position: int, settings: FileSettings) -> pa.Array:
        text = as_text(typed, settings, self.columns[position], self._where())
        lost = self._lost.get(position)
        return text if lost is None else pc.coalesce(lost, text)

    def line_of(self, index: int) -> int:
        """The line shown for the data row at `index` (0-based, among the rows yielded)."""
        if self._lines is not None and index < len(self._lines):
            return int(self._lines[index].as_py())
        return self.first_data_line + index

    def _typed_batches(self, wanted: list[int]) -> Iterator[pa.RecordBatch]:
        if self._rows is not None:
            yield self._rows.select(wanted)
            return
        assert self._parquet is not None
        names = self._parquet.schema_arrow.names
        batches = self._parquet.iter_batches(
            batch_size=PARQUET_BATCH_ROWS, columns=[names[i] for i in wanted], use_threads=True
        )
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as error:
                raise FileUnreadable(f"The Parquet file is damaged: {error}") from None
            yield batch

    def _where(self) -> str:
        return f"sheet {self.sheet!r}" if self.sheet is not None else "the Parquet file"


def open_frame(path: Path, kind: FileFormat, settings: FileSettings) -> Frame:
    """Open a workbook's sheet or a Parquet file. Raises FileUnreadable when it cannot be
    read, has no columns, or (a workbook) has no sheet `settings.sheet`."""
    if kind is FileFormat.PARQUET:
        return _open_parquet(path)
    return _open_sheet(path, settings)


# ---------------------------------------------------------------- Parquet


def _open_parquet(path: Path) -> Frame:
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
    except (pa.ArrowException, OSError) as error:
        raise FileUnreadable(f"The Parquet file is damaged and cannot be read: {error}") from None
    if not names:
        raise FileUnreadable("The Parquet file has no columns.")
    return Frame(FileFormat.PARQUET, _column_names(names, True), 1, _parquet=parquet)


# ---------------------------------------------------------------- workbooks


def _open_sheet(path: Path, settings: FileSettings) -> Frame:
    """Read the chosen sheet whole (a sheet holds at most 1,048,576 rows, and calamine reads a
    sheet at once), leaving out rows with no value, as the CSV reader leaves out blank lines."""
    try:
        reader = fastexcel.read_excel(path)
        sheets = list(reader.sheet_names)
    except fastexcel.FastExcelError as error:
        raise FileUnreadable(f"The Excel workbook cannot be read: {_first_line(error)}") from None
    if not sheets:
        raise FileUnreadable("The Excel workbook has no sheets.")
    sheet = settings.sheet if settings.sheet is not None else sheets[0]
    if sheet not in sheets:
        raise FileUnreadable(
            f"The workbook has no sheet named {sheet!r}. Its sheets: "
            f"{', '.join(repr(s) for s in sheets)}. Choose one in the file settings."
        )
    header_row = 0 if settings.header else None
    try:
        first = reader.load_sheet(sheet, header_row=None, n_rows=1, dtypes="string", eager=True)
        rows = reader.load_sheet(sheet, header_row=header_row, schema_sample_rows=None, eager=True)
        # fastexcel types a column by its most common cells and turns the others into nulls
        # ("n/a" among numbers): read as text too, such a cell keeps its text (a reject).
        texts = reader.load_sheet(sheet, header_row=header_row, dtypes="string", eager=True)
    except fastexcel.FastExcelError as error:
        raise FileUnreadable(f"Sheet {sheet!r} cannot be read: {_first_line(error)}") from None
    if first.num_rows == 0 or first.num_columns == 0:
        raise FileUnreadable(f"Sheet {sheet!r} of the workbook is empty.")
    header = ["" if cell is None else str(cell) for cell in first.to_pylist()[0].values()]
    start = _first_row(path, sheet)
    first_line = start + (1 if settings.header else 0)
    lines = pa.array(range(first_line, first_line + rows.num_rows), pa.int64())
    lost = _lost_cells(rows, texts)
    kept = _not_blank(texts)
    return Frame(
        FileFormat.XLSX,
        _column_names(header, settings.header),
        first_line,
        sheets,
        sheet,
        _rows=rows.filter(kept),
        _lines=lines.filter(kept),
        _lost={position: cells.filter(kept) for position, cells in lost.items()},
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _lost_cells(rows: pa.RecordBatch, texts: pa.RecordBatch) -> dict[int, pa.Array]:
    """By column position, the text of the cells a typed column lost to its type (null where
    the cell was kept), for the columns that lost any."""
    lost: dict[int, pa.Array] = {}
    for position, (typed, text) in enumerate(zip(rows.columns, texts.columns, strict=True)):
        if pa.types.is_string(typed.type) or pa.types.is_large_string(typed.type):
            continue
        missing = pc.and_(pc.is_null(typed), pc.is_valid(text))
        if pc.any(missing).as_py():
            lost[position] = pc.if_else(
                missing, text.cast(pa.string()), pa.scalar(None, pa.string())
            )
    return lost


def _not_blank(rows: pa.RecordBatch) -> pa.BooleanArray:
    """True for rows with at least one value (text other than whitespace)."""
    kept = pa.array([False] * rows.num_rows, pa.bool_())
    for column in rows.columns:
        present = pc.is_valid(column)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            present = pc.and_(present, pc.not_equal(pc.utf8_trim_whitespace(column), ""))
        kept = pc.or_(kept, pc.fill_null(present, False))
    return kept


def _first_row(path: Path, sheet: str) -> int:
    """The sheet row number of the first cell with a value: where calamine's range starts,
    which fastexcel does not tell. 1 when the sheet's XML does not say."""
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, sheet)
            if part is None:
                return 1
            with archive.open(part) as xml:
                for _, element in ElementTree.iterparse(xml):
                    if element.tag == f"{_MAIN}c" and _holds_value(element):
                        match = _CELL_ROW.match(element.get("r", ""))
                        return int(match.group(1)) if match else 1
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError):
        return 1
    return 1


def _holds_value(cell: ElementTree.Element) -> bool:
    value = cell.find(f"{_MAIN}v")
    if value is not None and value.text:
        return True
    return cell.find(f"{_MAIN}is") is not None


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The ZIP entry of the sheet named `sheet`, from the workbook and its relationships."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    relationship = next(
        (
            s.get(_DOCUMENT_RELATIONSHIP)
            for s in workbook.iter(f"{_MAIN}sheet")
            if s.get("name") == sheet
        ),
        None,
    )
    relationships = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for entry in relationships.iter(f"{_RELATIONSHIPS}Relationship"):
        if entry.get("Id") == relationship:
            target = entry.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    return None


# ---------------------------------------------------------------- typed cells as text


def as_text(column: Any, settings: FileSettings, name: str, where: str) -> pa.Array:
    """`column` (typed) as the text a CSV file would hold for it (see the module's docstring);
    "" for an empty cell. Raises FileUnreadable for a type with no text (lists, structs…)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = column.cast(pa.string())
    elif pa.types.is_boolean(kind):
        words = settings.boolean
        text = pc.if_else(column, words.true_values[0], words.false_values[0])
    elif pa.types.is_integer(kind):
        text = column.cast(pa.string())
    elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        text = _number_text(column, settings.number_for(name).decimal_separator)
    elif pa.types.is_date(kind):
        text = _date_text(column, settings.date_for(name).pattern)
    elif pa.types.is_timestamp(kind):
        text = _timestamp_text(column, settings.date_for(name).pattern)
    elif pa.types.is_null(kind):
        text = pa.array([""] * len(column), pa.string())
    else:
        raise FileUnreadable(
            f"Column {name!r} of {where} holds {kind} values, which Planport cannot import. "
            "Leave it out of the mapping or write it as text, numbers or dates."
        )
    return pc.fill_null(text, "")


def _number_text(column: pa.Array, decimal_separator: str) -> pa.Array:
    text = column.cast(pa.string())  # floats: the shortest text that reads back the same
    if decimal_separator != ".":
        text = pc.replace_substring(text, ".", decimal_separator)
    return text


def _date_text(column: pa.Array, pattern: str) -> pa.Array:
    days = column.cast(pa.date32())
    if pattern == "excel":
        serial = pc.add(days.cast(pa.int32()).cast(pa.int64()), _EXCEL_EPOCH_OFFSET)
        return serial.cast(pa.string())
    return pc.strftime(days.cast(pa.timestamp("s")), format=_STRFTIME[pattern])


def _timestamp_text(column: pa.Array, pattern: str) -> pa.Array:
    """A date and time at midnight as its date in `pattern`; another as yyyy-MM-dd HH:MM:SS
    (which no date format reads: a date with a time of day is not a date)."""
    day = pc.floor_temporal(column, unit="day")
    midnight = pc.fill_null(pc.equal(day, column), True)
    seconds = pc.floor_temporal(column, unit="second").cast(pa.timestamp("s", column.type.tz))
    full = pc.strftime(seconds, format="%Y-%m-%d %H:%M:%S")
    return pc.if_else(midnight, _date_text(column, pattern), full)
