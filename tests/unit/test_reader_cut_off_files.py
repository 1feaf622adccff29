"""Files cut off inside a row (a transfer that broke off, a file still being written), told
when the file is opened, before anything is imported: a last row short of columns with no line
break after it, a quote never closed, a last line longer than a row may be."""

from __future__ import annotations

from pathlib import Path

import pytest

from planport.domain.file_settings import FileSettings
from planport.engine.detection import SAMPLE_SIZE
from planport.engine.reader import BLOCK_SIZE, FileUnreadable, iter_batches, open_source

HEADER = "Month,Country,Product,Revenue\n"
ROWS = "".join(f"2027-01,US,P{n:03},{n}.5\n" for n in range(40))


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "push.csv"
    path.write_bytes(data)
    return path


def refusal(path: Path, **settings: str) -> str:
    with pytest.raises(FileUnreadable) as raised:
        open_source(path, FileSettings(**settings))
    return raised.value.message


def test_a_file_cut_in_the_middle_of_its_last_row_is_refused_naming_the_line(
    tmp_path: Path,
) -> None:
    message = refusal(write(tmp_path, (HEADER + ROWS + "2027-01,U").encode()))
    assert message.startswith("The file ends in the middle of line 42 ('2027-01,U')")
    assert "has 2 of the 4 columns and no line break after it" in message


def test_a_large_file_cut_mid_row_is_refused_from_its_end_alone(tmp_path: Path) -> None:
    body = HEADER + ROWS * 400 + "2027-02,FR,P1"
    assert len(body) > SAMPLE_SIZE
    message = refusal(write(tmp_path, body.encode("utf-16-le")), encoding="utf-16-le")
    assert message.startswith(f"The file ends in the middle of line {40 * 400 + 2} ")


def test_a_last_row_without_a_line_break_but_with_every_column_is_read(tmp_path: Path) -> None:
    source = open_source(
        write(tmp_path, (HEADER + ROWS + "2027-02,FR,P1,3").encode()), FileSettings()
    )
    rows = sum(batch.num_rows for batch in iter_batches(source))
    assert rows == 41


def test_a_last_row_that_closes_a_quoted_value_spanning_lines_is_not_cut_off(
    tmp_path: Path,
) -> None:
    data = (HEADER + ROWS * 400 + '2027-02,FR,"two\nlines",1\n2027-03,FR,P2,"a\nb"').encode()
    source = open_source(write(tmp_path, data), FileSettings())
    last = [batch.column(3).to_pylist()[-1] for batch in iter_batches(source)][-1]
    assert last == "a\nb"


def test_a_quote_left_open_at_the_end_of_a_small_file_is_refused_where_it_opened(
    tmp_path: Path,
) -> None:
    message = refusal(write(tmp_path, (HEADER + ROWS + '2027-02,FR,"P1,3').encode()))
    assert message.startswith('The quote (") opened in the row on line 42 is never closed')


def test_a_last_line_longer_than_a_row_can_be_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, (HEADER + "2027-01," + "x" * (BLOCK_SIZE + 10)).encode())
    assert refusal(path) == "Line 2 is longer than 16 MB, the largest row Planport reads."
