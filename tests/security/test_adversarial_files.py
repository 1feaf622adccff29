"""Files written to hurt: inspecting one (encoding, separator, header, preview) stays bounded
in time whatever its content. The bound is generous (a shared CI machine), far under what the
unbounded code took: 2.6 s for 16 KB of one unclosed quote, minutes for 1 MB."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planport.domain.file_settings import FileSettings
from planport.domain.work_limits import TimeLimitReached, WorkCalledOff, WorkLimit
from planport.engine.detection import SAMPLE_SIZE
from planport.engine.reader import (
    PREVIEW_BYTES,
    FileUnreadable,
    iter_batches,
    open_source,
    physical_lines,
    preview_rows,
)

BOUND_S = 3.0  # per file, inspection and a 20-row preview together
CSV_ALPHABET = ",;|\t\"'`\\ ab1\n\r"


def inspect_within_the_bound(path: Path, file_settings: FileSettings) -> None:
    started = time.monotonic()
    # A clear refusal is a fine answer; only the time matters here.
    with contextlib.suppress(FileUnreadable):
        preview_rows(open_source(path, file_settings), 20)
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S, f"inspecting {path.stat().st_size} bytes took {elapsed:.1f} s"


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    header=st.text(alphabet=CSV_ALPHABET, max_size=40),
    body=st.text(alphabet=CSV_ALPHABET, min_size=1, max_size=64),
    repeat=st.integers(min_value=1, max_value=(SAMPLE_SIZE * 2) // 64),
)
def test_any_delimited_text_is_inspected_within_the_bound(
    tmp_path_factory: object, header: str, body: str, repeat: int
) -> None:
    path = Path(str(tmp_path_factory.mktemp("adversarial"))) / "file.csv"  # type: ignore[attr-defined]
    path.write_text(f"{header}\n{body * repeat}", encoding="utf-8")
    inspect_within_the_bound(path, FileSettings())


def test_a_quote_opened_and_never_closed_over_a_large_file_is_inspected_within_the_bound(
    tmp_path: Path,
) -> None:
    path = tmp_path / "unclosed.csv"
    filler = "ab ,;|\t\\" * (1 << 17)  # 1 MB of every separator, no line end
    with path.open("w", encoding="utf-8") as handle:
        handle.write('Code,Name,Amount\n1,"')
        for _ in range(8):
            handle.write(filler)
    inspect_within_the_bound(path, FileSettings())


def test_a_row_longer_than_a_preview_block_is_refused_at_once(tmp_path: Path) -> None:
    # The reader's pacing used to make the parser wait for a consumer that was itself waiting
    # for the parser: 10 s before this refusal.
    path = tmp_path / "long_row.csv"
    path.write_text("Code,Name\n1," + "x" * (3 << 20) + "\n2,b\n", encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(FileUnreadable, match="longer than"):
        preview_rows(open_source(path, FileSettings()), 20)
    assert time.monotonic() - started < BOUND_S


def test_a_preview_of_a_file_of_blank_lines_stops_at_its_byte_limit(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    with path.open("wb") as handle:
        handle.write(b"Code,Name\n")
        for _ in range(PREVIEW_BYTES >> 20):
            handle.write(b"\n" * (1 << 20))
        handle.write(b"\xff\xfe not UTF-8, and never reached\n")
    # Read to its end, the file would be refused for its last line; the preview stops before.
    assert preview_rows(open_source(path, FileSettings(encoding="utf-8")), 20) == []


def _blank_lines_then_a_row(path: Path, megabytes: int) -> Path:
    """A header, `megabytes` MB of blank lines, then one row: the reader chews the blank lines
    block by block, yielding nothing, for seconds."""
    with path.open("wb") as handle:
        handle.write(b"Code,Name\n")
        for _ in range(megabytes):
            handle.write(b"\n" * (1 << 20))
        handle.write(b"P1,Pen\n")
    return path


def test_reading_a_slow_file_stops_at_its_time_limit(tmp_path: Path) -> None:
    path = _blank_lines_then_a_row(tmp_path / "blank.csv", 160)
    limit = WorkLimit(0.3)
    started = time.monotonic()
    with pytest.raises(TimeLimitReached, match=r"longer than 0\.3 s"):
        for _batch in iter_batches(open_source(path, FileSettings(), limit=limit)):
            pass
    assert time.monotonic() - started < BOUND_S


def test_reading_called_off_from_another_thread_stops_at_the_next_block(tmp_path: Path) -> None:
    path = _blank_lines_then_a_row(tmp_path / "blank.csv", 160)
    limit = WorkLimit(3600)
    caller = threading.Timer(0.2, limit.call_off, ["The client left."])
    caller.start()
    try:
        with pytest.raises(WorkCalledOff, match=r"The client left\."):
            for _batch in iter_batches(open_source(path, FileSettings(), limit=limit)):
                pass
    finally:
        caller.cancel()


def test_the_second_pass_that_numbers_rejected_lines_stops_at_the_limit_too(
    tmp_path: Path,
) -> None:
    # physical_lines re-reads the file in Python: a file of many short rows, then a limit
    # already spent, must not be read to its end.
    path = tmp_path / "rows.csv"
    path.write_text("Code,Name\n" + "P,p\n" * 50_000 + "ragged\n", encoding="utf-8")
    source = open_source(path, FileSettings(), limit=WorkLimit(3600))
    for _batch in iter_batches(source):
        pass
    assert source.invalid_rows, "the ragged last row is recorded"
    assert source.limit is not None
    source.limit.call_off("The server is stopping.")
    with pytest.raises(WorkCalledOff):
        physical_lines(source, {40_000})
