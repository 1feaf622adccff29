"""Reading CSV files into Arrow record batches of text, streamed in bounded blocks.

`open_source` settles the dialect (encoding, separator, quote; detected when set to auto) and
the header from a small sample; `iter_batches` then streams the data rows through pyarrow's
CSV reader, BLOCK_SIZE bytes at a time, so memory does not grow with the file. Every column is
read as text: typing is the mapper's job, where a bad cell is a reject, not a failure.

Lines: a row's "line" is the physical line it starts on. The parser does not number rows, so
`physical_lines` finds the lines of the rows a summary shows with one extra pass, only when
there is something to report.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from planport.domain.file_settings import FileSettings
from planport.domain.work_limits import WorkLimit
from planport.engine.detection import BLOCK_SIZE as BLOCK_SIZE
from planport.engine.detection import SAMPLE_SIZE, detect
from planport.engine.detection import Dialect as Dialect
from planport.engine.detection import FileUnreadable as FileUnreadable
from planport.engine.tabular import FileFormat, Frame, file_format, open_frame

# A workbook or Parquet file has no dialect: CSV's settings do not apply to it.
NO_DIALECT = Dialect("", "", "")

PREVIEW_BYTES = 16 << 20  # the most a preview reads, whatever the file holds
MAX_ROW_TEXT = 2000  # characters of a rejected row kept for the rejects file
CHECK_EVERY = 4096  # records of a Python pass over the file between two checks of its limit
TAIL_CHUNK = 1 << 20  # bytes read at a time, backwards, to find the file's last line


@dataclass(slots=True)
class InvalidRow:
    """A row whose number of fields differs from the header's."""

    line: int | None
    fields: int
    expected: int
    text: str


@dataclass
class Source:
    """A file ready to stream: its dialect, column names and where the data starts."""

    path: Path
    settings: FileSettings
    dialect: Dialect
    columns: list[str]
    first_data_line: int  # line (record number) of the first data row
    rows_before_data: int  # lines the parser skips: skipped rows, blank lines, the header
    invalid_rows: list[InvalidRow] = field(default_factory=list)
    # Work done while someone waits stops at this limit (see domain.work_limits); runs: none.
    limit: WorkLimit | None = None
    frame: Frame | None = None  # a workbook sheet or Parquet file: read by engine/tabular

    @property
    def format(self) -> FileFormat:
        return self.frame.format if self.frame is not None else FileFormat.CSV

    def check_limit(self) -> None:
        """Raise TimeLimitReached or WorkCalledOff when the work on this file must stop."""
        if self.limit is not None:
            self.limit.check()

    @property
    def name(self) -> str:
        return self.path.name


def open_source(path: Path, settings: FileSettings, *, limit: WorkLimit | None = None) -> Source:
    """Detect what `settings` leaves to detection and read the header. Everything read from
    the returned source afterwards stops at `limit`.

    An xlsx workbook or a Parquet file (told by its content) is read by `engine/tabular`: its
    CSV settings (encoding, separator, quote, skipped rows) are ignored.

    Raises FileUnreadable for an empty, binary or undecodable file, and for one cut off inside
    a row (see `_refuse_cut_off`), or for a damaged workbook or Parquet file; TimeLimitReached
    or WorkCalledOff when `limit` says so (detection itself is bounded by DETECT_BYTES).
    """
    if limit is not None:
        limit.check()
    if path.stat().st_size == 0:
        raise FileUnreadable("The file is empty.")
    kind = file_format(path)
    if kind is not FileFormat.CSV:
        frame = open_frame(path, kind, settings)
        return Source(
            path,
            settings,
            NO_DIALECT,
            frame.columns,
            frame.first_data_line,
            0,
            limit=limit,
            frame=frame,
        )
    dialect, columns, first_record = detect(path, settings)
    # Blank lines before the header are passed over like skipped rows; pyarrow counts them.
    rows_before_data = first_record + (1 if settings.header else 0)
    source = Source(
        path, settings, dialect, columns, rows_before_data + 1, rows_before_data, limit=limit
    )
    source.check_limit()
    _refuse_cut_off(source)
    return source


def iter_batches(
    source: Source,
    *,
    include: list[int] | None = None,
    block_size: int = BLOCK_SIZE,
    max_bytes: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream the data rows as record batches of text columns named by position ("0", "1"…).

    With `max_bytes`, reading stops there as if the file ended (the rows cut short there are
    not meant to be used: previews only).

    Only columns in `include` (all by default) are converted. Rows with the wrong number of
    fields are skipped and recorded in `source.invalid_rows`. Raises FileUnreadable when the
    file cannot be parsed or decoded, naming the line when it can be found, and the errors of
    `source.limit` when it says stop (checked at each block the parser reads).
    """
    if source.frame is not None:
        yield from source.frame.batches(source.settings, include, source.check_limit)
        return
    count = len(source.columns)
    names = [str(i) for i in range(count)]
    wanted = [names[i] for i in (include if include is not None else range(count))]
    # The last column is always read: a quote never closed swallows the rest of the file
    # into the last field, and only that field shows it.
    last = names[-1]
    read = wanted if last in wanted else [*wanted, last]
    last_value = ""
    with _PacedFile(source.path, source.dialect, max_bytes, source.limit) as paced:
        with paced.awaited():
            reader = _open_reader(source, paced, names, read, block_size)
        while True:
            try:
                with paced.awaited():
                    batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as error:
                raise _explain(source, error, block_size) from None
            paced.consumed()
            source.check_limit()
            if batch.num_rows:
                last_value = batch.column(last)[-1].as_py() or ""
            yield batch if last in wanted else batch.drop_columns([last])
    # A capped read ends anywhere in a row: no quote is judged unclosed from it.
    if max_bytes is None and (source.invalid_rows or "\n" in last_value or "\r" in last_value):
        _refuse_unclosed_quote(source)


@dataclass(frozen=True, slots=True)
class _LastLine:
    text: str  # what follows the file's last line break (all of it when `too_long`)
    only: bool = False  # the file has no line break at all: this line is its first row
    too_long: bool = False  # no line break in the last BLOCK_SIZE bytes


def _refuse_cut_off(source: Source) -> None:
    """Raise FileUnreadable when the file ends inside a row: a push or a transfer that broke
    off, or a file still being written. Imported, its last row would be skipped and the rows
    that never arrived would be missed without a word.

    Its signs: a last line with fewer fields than the header and no line break after it (told
    only when that line holds no quote: a quoted value may span lines), a last line longer
    than a row can be, and, in a file small enough to read whole now, a quote never closed.
    Reads the file's end (one TAIL_CHUNK, unless its last line is longer); a whole pass only
    to number the line of a file refused, or for a file under SAMPLE_SIZE.
    """
    if source.path.stat().st_size <= SAMPLE_SIZE:
        _refuse_unclosed_quote(source)
    last = _last_line(source)
    if last is None or last.only:
        return
    # pyarrow's limit is on UTF-8 bytes, which it reads whatever the file's encoding.
    if last.too_long or len(last.text.encode("utf-8", "replace")) > BLOCK_SIZE:
        raise FileUnreadable(
            f"Line {_line_count(source)} is longer than {BLOCK_SIZE >> 20} MB, "
            "the largest row Planport reads."
        )
    text = last.text.strip(" \t\x1a")  # a DOS end-of-file mark is no row
    if not text or source.dialect.quote in text:
        return
    fields = text.count(source.dialect.separator) + 1
    if fields < len(source.columns):
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise FileUnreadable(
            f"The file ends in the middle of line {_line_count(source)} ({shown!r}): that "
            f"line has {fields} of the {len(source.columns)} columns and no line break "
            "after it, so the file looks cut off. Send or export the whole file again."
        )


def _last_line(source: Source) -> _LastLine | None:
    """The text after the file's last line break, None when a line break ends the file.
    Read backwards a TAIL_CHUNK at a time, each decoded alone (a character cut at a chunk's
    edge is replaced; separators and quotes never are), UTF-16 on its two-byte grid."""
    codec = source.dialect.text_codec
    step = 2 if codec.startswith("utf-16") else 1
    start = source.dialect.bom
    pieces: list[str] = []
    with source.path.open("rb") as handle:
        end = handle.seek(0, io.SEEK_END)
        position = end - (end - start) % step
        while position > start:
            if end - position > BLOCK_SIZE:
                return _LastLine("".join(reversed(pieces)), too_long=True)
            begin = max(start, position - TAIL_CHUNK)
            handle.seek(begin)
            text = handle.read(position - begin).decode(codec, errors="replace")
            if not pieces and text.endswith(("\n", "\r")):
                return None
            cut = max(text.rfind("\n"), text.rfind("\r"))
            if cut >= 0:
                pieces.append(text[cut + 1 :])
                return _LastLine("".join(reversed(pieces)))
            pieces.append(text)
            position = begin
    return _LastLine("".join(reversed(pieces)), only=True)


def _line_count(source: Source) -> int:
    """The number of the file's last line (a whole pass: only for a file being refused)."""
    breaks, returns, pairs, previous = 0, 0, 0, ""
    with _text_after_bom(source) as handle:
        while chunk := handle.read(TAIL_CHUNK):
            source.check_limit()
            breaks += chunk.count("\n")
            returns += chunk.count("\r")
            pairs += chunk.count("\r\n") + (previous == "\r" and chunk[0] == "\n")
            previous = chunk[-1]
    return breaks + returns - pairs + 1


def _refuse_unclosed_quote(source: Source) -> None:
    """Raise FileUnreadable when a quote is never closed: the parser then reads the rest of
    the file as one value (the last row's last field, or a row with too few fields).

    Run only when the file shows one of those signs, or on opening a file small enough to
    read whole at once: a second pass with Python's csv module, whose strict mode says
    "unexpected end of data" when the file ends inside quotes.
    """
    csv.field_size_limit(BLOCK_SIZE)
    with _text_after_bom(source) as handle:
        reader = csv.reader(
            handle, delimiter=source.dialect.separator, quotechar=source.dialect.quote, strict=True
        )
        start = 1
        for record in itertools.count():
            if record % CHECK_EVERY == 0:
                source.check_limit()
            try:
                next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                if "unexpected end of data" in str(error):
                    raise FileUnreadable(
                        f"The quote ({source.dialect.quote}) opened in the row on line {start} "
                        "is never closed, so the rest of the file would be read as one value. "
                        "Close that quote, or write a quote inside a quoted value twice."
                    ) from None
                # Other strict complaints (text after a closing quote) the parser accepts.
            start = reader.line_num + 1


class _PacedFile(io.RawIOBase):
    """The file as pyarrow reads it, as UTF-8 after its byte-order mark, at most AHEAD reads
    ahead of the batches consumed.

    pyarrow's streaming CSV reader reads and parses ahead of its consumer without bound (peak
    memory grew with the file: 0.3 GB for 240 MB of CSV). Pacing its reads keeps memory flat.
    While the consumer is waiting for a batch (`awaited`), the parser may need more of the file
    than AHEAD blocks (a row straddling blocks): making it wait for a consumer that waits for
    it stalled the preview of such a file for WAIT_S. A read waits at most WAIT_S anyway, so
    a block that yields no batch (only blank lines, say) slows the reader but never stalls it.

    Other encodings are transcoded here, each read filled with whole UTF-8 bytes, rather than
    by pyarrow: pyarrow's transcoding stream reads again after the end of the file and, for
    UTF-16, twice per block, so its reads outran the batches and each waited WAIT_S (10 s for
    a tiny Windows-1252 file; 10 s a block for UTF-16). Here one read is one block, as for
    UTF-8, and a read at the end of the file returns at once.
    """

    AHEAD = 2
    AWAITED_EXTRA = 1
    WAIT_S = 10.0
    # While awaited and still past AHEAD + AWAITED_EXTRA, the parser is chewing blocks that
    # yield no batch (blank lines): a short wait lets it on (16 MB per 0.2 s) yet leaves it
    # the time to fail a row straddling blocks before it reads on.
    AWAITED_WAIT_S = 0.2

    def __init__(
        self,
        path: Path,
        dialect: Dialect,
        max_bytes: int | None = None,
        limit: WorkLimit | None = None,
    ) -> None:
        super().__init__()
        self._left = max_bytes  # bytes still handed over, None: the whole file
        self._limit = limit
        self._file = path.open("rb")
        self._file.seek(dialect.bom)
        self._decoder = (
            None
            if dialect.text_codec == "utf-8"
            else codecs.getincrementaldecoder(dialect.text_codec)()
        )
        self._pending = bytearray()  # transcoded bytes not handed to pyarrow yet
        self._at_end = False
        self._turn = threading.Condition()
        self._reads = 0
        self._consumed = 0
        self._awaited = False  # the consumer is blocked until the parser yields a batch

    @contextmanager
    def awaited(self) -> Iterator[None]:
        """Around a call that blocks until the parser has read enough for a batch."""
        with self._turn:
            self._awaited = True
            self._turn.notify_all()
        try:
            yield
        finally:
            with self._turn:
                self._awaited = False

    def readable(self) -> bool:
        return True

    def _may_read(self) -> bool:
        # While the consumer waits for a batch, the parser may need a block more than AHEAD
        # (a row straddling blocks): it gets AWAITED_EXTRA more, and no more, since a row
        # longer than a block fails anyway — unbounded, it read a 100 MB row whole.
        ahead = self.AHEAD + (self.AWAITED_EXTRA if self._awaited else 0)
        return self._reads - self._consumed < ahead

    def readinto(self, buffer: Any) -> int:
        if self._at_end and not self._pending:
            return 0  # nothing is buffered by reading past the end: no reason to wait
        with self._turn:
            self._turn.wait_for(
                self._may_read, self.AWAITED_WAIT_S if self._awaited else self.WAIT_S
            )
            self._reads += 1
        # Raised here, in pyarrow's reading thread, the error reaches the consumer as itself,
        # from the read_next_batch it is waiting in: a parser chewing blocks that yield no
        # batch (blank lines) stops too.
        if self._limit is not None:
            self._limit.check()
        view = memoryview(buffer).cast("B")
        if self._left is not None:
            view = view[: self._left]
        if self._decoder is None:
            count = self._file.readinto(view) if len(view) else 0
        else:
            count = self._transcode_into(view) if len(view) else 0
        self._at_end = self._at_end or not count
        if self._left is not None:
            self._left -= count
        return count

    def _transcode_into(self, view: memoryview) -> int:
        """Fill `view` with UTF-8 bytes (all of it unless the file ends). Raises
        UnicodeDecodeError for bytes that are not text in the file's encoding."""
        assert self._decoder is not None
        while len(self._pending) < len(view) and not self._at_end:
            raw = self._file.read(len(view) - len(self._pending))
            self._at_end = not raw
            self._pending += self._decoder.decode(raw, final=self._at_end).encode("utf-8")
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        del self._pending[:count]
        return count

    def consumed(self) -> None:
        with self._turn:
            self._consumed += 1
            self._turn.notify_all()

    def close(self) -> None:
        self._file.close()
        super().close()


def _open_reader(
    source: Source, stream: io.RawIOBase, names: list[str], wanted: list[str], block_size: int
) -> pacsv.CSVStreamingReader:
    dialect = source.dialect

    def on_invalid(row: pacsv.InvalidRow) -> str:
        source.invalid_rows.append(
            InvalidRow(row.number, row.actual_columns, row.expected_columns, (row.text or "")[:200])
        )
        return "skip"

    read = pacsv.ReadOptions(
        use_threads=True,
        block_size=block_size,
        skip_rows=source.rows_before_data,
        column_names=names,
        encoding="utf8",  # _PacedFile hands over UTF-8 whatever the file's encoding
    )
    parse = pacsv.ParseOptions(
        delimiter=dialect.separator,
        quote_char=dialect.quote,
        double_quote=True,
        newlines_in_values=True,
        ignore_empty_lines=True,
        invalid_row_handler=on_invalid,
    )
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in wanted},
        include_columns=wanted,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        return pacsv.open_csv(
            stream, read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise _explain(source, error, block_size) from None


def physical_lines(
    source: Source, wanted: set[int], texts: dict[int, str] | None = None
) -> dict[int, int]:
    """The physical line each wanted data row starts on, by the row's 0-based index among the
    rows the parser returned; also fills in the lines of `source.invalid_rows`.

    pyarrow numbers neither the rows it returns nor those it rejects, and drops blank lines, so
    this re-reads the file once with Python's csv module, whose line count is physical (quoted
    line breaks included). It runs only when there is something to report: an error path.
    With `texts`, also collects each wanted row as CSV text (its fields written back with the
    file's separator and qualifier).
    """
    lines: dict[int, int] = {}
    if source.frame is not None:
        return {index: source.frame.line_of(index) for index in wanted}
    if not wanted and not source.invalid_rows:
        return lines
    expected, last_wanted = len(source.columns), max(wanted, default=-1)
    invalid_lines: list[int] = []
    csv.field_size_limit(BLOCK_SIZE)
    with _text_after_bom(source) as handle:
        reader = csv.reader(
            handle, delimiter=source.dialect.separator, quotechar=source.dialect.quote
        )
        record, index, previous_end = 0, -1, 0
        for row in reader:
            start, previous_end = previous_end + 1, reader.line_num
            record += 1
            if record % CHECK_EVERY == 0:
                source.check_limit()
            if record <= source.rows_before_data or not row:
                continue
            if len(row) != expected:
                invalid_lines.append(start)
            else:
                index += 1
                if index in wanted:
                    lines[index] = start
                    if texts is not None:
                        texts[index] = _as_text(row, source.dialect)
            if index >= last_wanted and len(invalid_lines) >= len(source.invalid_rows):
                break
    for invalid, line in zip(source.invalid_rows, invalid_lines, strict=False):
        invalid.line = line
    return lines


def _text_after_bom(source: Source) -> io.TextIOWrapper:
    """The file as text from after its byte-order mark (undecodable bytes replaced)."""
    raw = source.path.open("rb")
    raw.seek(source.dialect.bom)
    return io.TextIOWrapper(raw, encoding=source.dialect.text_codec, newline="", errors="replace")


def _as_text(fields: list[str], dialect: Dialect) -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=dialect.separator, quotechar=dialect.quote, lineterminator=""
    )
    writer.writerow(fields)
    return buffer.getvalue()[:MAX_ROW_TEXT]


def file_digest(path: Path) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex) of the file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def preview_rows(source: Source, limit: int) -> list[list[str]]:
    """The first `limit` data rows as text, for the wizard's step 1: fewer when the first
    PREVIEW_BYTES hold fewer (a file of blank or malformed lines is not read to its end)."""
    rows: list[list[str]] = []
    for batch in iter_batches(source, block_size=1 << 20, max_bytes=PREVIEW_BYTES):
        columns = [c.to_pylist() for c in batch.columns]
        rows.extend([list(r) for r in zip(*columns, strict=True)][: limit - len(rows)])
        if len(rows) >= limit:
            break
    return rows


# ---------------------------------------------------------------- detection


# ---------------------------------------------------------------- explaining failures


def _explain(source: Source, error: Exception, block_size: int) -> FileUnreadable:
    """Turn a parser error into a message with a line number, scanning the file only now."""
    problem = _first_undecodable_line(source)
    if problem is not None:
        line, position = problem
        return FileUnreadable(
            f"Line {line} has bytes that are not {source.dialect.encoding} text "
            f"(byte {position} of the line). Choose the file's encoding in the file settings."
        )
    long_line = _first_line_longer_than(source, block_size)
    if long_line is not None:
        return FileUnreadable(
            f"Line {long_line} is longer than {block_size >> 20} MB, "
            "the largest row Planport reads."
        )
    return FileUnreadable(f"The file cannot be read as CSV: {error}")


def _first_undecodable_line(source: Source) -> tuple[int, int] | None:
    """(line, byte of the line) of the first bytes that are not text in the dialect's encoding,
    decoding in 1 MB chunks so a huge line is never held whole."""
    path, dialect = source.path, source.dialect
    codec = dialect.text_codec
    if codec.startswith("utf-16"):
        return None  # lines are not byte-delimited; the parser's message stands
    decoder = codecs.getincrementaldecoder(codec)()
    line, line_start, offset = 1, dialect.bom, dialect.bom
    with path.open("rb") as handle:
        handle.seek(dialect.bom)
        while chunk := handle.read(1 << 20):
            source.check_limit()
            try:
                decoder.decode(chunk, final=False)
            except UnicodeDecodeError as error:
                bad = max(error.start, 0)
                line += chunk.count(b"\n", 0, bad)
                last = chunk.rfind(b"\n", 0, bad)
                line_start = offset + last + 1 if last >= 0 else line_start
                return line, offset + bad - line_start + 1
            line += chunk.count(b"\n")
            last = chunk.rfind(b"\n")
            if last >= 0:
                line_start = offset + last + 1
            offset += len(chunk)
    return None


def _first_line_longer_than(source: Source, limit: int) -> int | None:
    line, length = 1, 0
    with source.path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            source.check_limit()
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                if end < 0:
                    length += len(chunk) - start
                    break
                length += end - start
                if length > limit:
                    return line
                line, length, start = line + 1, 0, end + 1
            if length > limit:
                return line
    return None
