"""Files that are no CSV file, told by what they look like when detection reads their start:
UTF-16 without its byte-order mark, JSON, a first row with no end in sight."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from planport.domain.file_settings import FileSettings
from planport.engine.detection import SAMPLE_SIZE
from planport.engine.reader import FileUnreadable, open_source

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


@pytest.mark.parametrize(("codec", "order"), [("utf-16-le", "LE"), ("utf-16-be", "BE")])
def test_utf16_without_its_byte_order_mark_is_told_which_encoding_to_choose(
    tmp_path: Path, codec: str, order: str
) -> None:
    path = write(tmp_path, (HEADER + ROWS).encode(codec))
    assert refusal(path).startswith(f"This looks like UTF-16 {order} text without a byte-order")
    assert f"Choose UTF-16 {order} as the encoding" in refusal(path)
    assert open_source(path, FileSettings(encoding=codec)).columns[0] == "Month"


def test_binary_bytes_with_zeros_are_binary_not_utf16(tmp_path: Path) -> None:
    path = write(tmp_path, b"\x00\x01\x02\x03" * 500)
    assert "binary data (NUL bytes)" in refusal(path)


def test_utf16_with_its_byte_order_mark_is_still_detected(tmp_path: Path) -> None:
    path = write(tmp_path, codecs.BOM_UTF16_LE + (HEADER + ROWS).encode("utf-16-le"))
    assert open_source(path, FileSettings()).columns[-1] == "Revenue"


@pytest.mark.parametrize(
    "document",
    [
        json.dumps({"Month": "2027-01", "Revenue": 1}),
        json.dumps([{"Month": "2027-01"}], indent=2),
        '{"Month": "2027-01"}\n{"Month": "2027-02"}\n',
    ],
    ids=["object", "array", "json lines"],
)
def test_json_is_told_to_be_json_not_a_csv_file(tmp_path: Path, document: str) -> None:
    message = refusal(write(tmp_path, document.encode()))
    assert message.startswith("This looks like JSON (it starts with ")
    assert "not a CSV file" in message


def test_a_header_in_braces_is_no_json(tmp_path: Path) -> None:
    path = write(tmp_path, b"{Code},[Name]\nFR,France\n")
    assert open_source(path, FileSettings()).columns == ["{Code}", "[Name]"]


def test_a_first_row_that_does_not_end_within_the_sample_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, b"Month,Country," + b"x" * (2 * SAMPLE_SIZE))
    message = refusal(path)
    assert message.startswith("Line 1 does not end within the first 256 KB of the file")


def test_a_wide_header_within_the_sample_is_read_whole(tmp_path: Path) -> None:
    header = ",".join(f"c{n}" for n in range(10_000))
    path = write(tmp_path, f"{header}\n{','.join('1' * 10_000)}\n".encode())
    assert len(open_source(path, FileSettings()).columns) == 10_000
