"""Reading files as Excel and other tools write them: any encoding at full speed, byte-order
marks whatever encoding is chosen, and clear words for unclosed quotes and binary files."""

from __future__ import annotations

import codecs
import time
from pathlib import Path

import pytest

from planport.domain.file_settings import FileSettings
from planport.engine.reader import FileUnreadable, iter_batches, open_source, preview_rows

# Generous: a tiny file takes milliseconds; the read throttle's stall was 10 s.
NOT_STALLED_S = 2.0
TINY = "Code,Name,Amount\nFR,Café crème,1\nDE,Größe,2\n"


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    return path


def read_all(path: Path, **settings: str) -> tuple[list[str], list[list[str]]]:
    source = open_source(path, FileSettings(**settings))
    found: list[list[str]] = []
    for batch in iter_batches(source, block_size=1 << 20):
        found += [list(r) for r in zip(*(c.to_pylist() for c in batch.columns), strict=True)]
    return source.columns, found


@pytest.mark.parametrize(
    "encoded",
    [
        TINY.encode("cp1252"),
        TINY.encode("iso-8859-15"),
        codecs.BOM_UTF16_LE + TINY.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TINY.encode("utf-16-be"),
    ],
    ids=["cp1252", "iso-8859-15", "utf-16-le", "utf-16-be"],
)
def test_a_tiny_file_in_any_encoding_is_read_without_a_stall(
    tmp_path: Path, encoded: bytes
) -> None:
    path = write(tmp_path, encoded)
    started = time.monotonic()
    columns, found = read_all(path)
    assert time.monotonic() - started < NOT_STALLED_S
    assert columns == ["Code", "Name", "Amount"]
    assert found == [["FR", "Café crème", "1"], ["DE", "Größe", "2"]]


def test_a_utf16_file_of_many_blocks_is_read_without_waiting_between_blocks(
    tmp_path: Path,
) -> None:
    # UTF-16 takes two bytes a character: pyarrow's transcoding read twice per block of text,
    # and each read past the pacing limit waited 10 s (160 s for 16 MB).
    body = "".join(f"C{i},Année {i},{i}.5\n" for i in range(60_000))
    path = write(tmp_path, codecs.BOM_UTF16_LE + ("Code,Name,Amount\n" + body).encode("utf-16-le"))
    started = time.monotonic()
    _, found = read_all(path)
    assert time.monotonic() - started < NOT_STALLED_S * 3
    assert len(found) == 60_000
    assert found[-1] == ["C59999", "Année 59999", "59999.5"]


def test_the_wizard_preview_of_a_windows_1252_file_is_not_stalled(tmp_path: Path) -> None:
    source = open_source(write(tmp_path, TINY.encode("cp1252")), FileSettings())
    started = time.monotonic()
    assert preview_rows(source, 20) == [["FR", "Café crème", "1"], ["DE", "Größe", "2"]]
    assert time.monotonic() - started < NOT_STALLED_S


@pytest.mark.parametrize(
    ("bom", "codec", "chosen"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
        (codecs.BOM_UTF8, "utf-8", "utf-8"),
    ],
)
def test_a_byte_order_mark_is_not_part_of_the_first_header_name_whatever_encoding_is_chosen(
    tmp_path: Path, bom: bytes, codec: str, chosen: str
) -> None:
    path = write(tmp_path, bom + TINY.encode(codec))
    columns, found = read_all(path, encoding=chosen)
    assert columns == ["Code", "Name", "Amount"]
    assert found[0] == ["FR", "Café crème", "1"]


def test_without_a_header_a_byte_order_mark_is_not_part_of_the_first_value(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, codecs.BOM_UTF16_LE + "FR,France\n".encode("utf-16-le"))
    source = open_source(path, FileSettings(encoding="utf-16-le", header=False))
    (batch,) = list(iter_batches(source))
    assert batch.column(0).to_pylist() == ["FR"]


def test_a_byte_order_mark_that_contradicts_the_chosen_encoding_says_which_to_choose(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, codecs.BOM_UTF16_LE + TINY.encode("utf-16-le"))
    with pytest.raises(FileUnreadable) as raised:
        open_source(path, FileSettings(encoding="cp1252"))
    assert raised.value.message == (
        "The file starts with a UTF-16 LE byte-order mark, but its encoding is set to cp1252. "
        "Choose UTF-16 LE (or Detect) in the file settings."
    )


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b'Code,Name\nFR,"France\nDE,Germany\nIT,Italy\n', 2),
        (b'Code,Name\nFR,France\nDE,"Germany\nIT,Italy', 3),
        (b'Code,Name\n"FR,France\n', 2),
        (b'Code,Name,Region\nFR,France,EU\nDE,"Germany,EU\nIT,Italy,EU\n', 3),
    ],
    ids=["last column", "no final line break", "only row", "middle column"],
)
def test_a_quote_never_closed_names_the_line_where_it_opened(
    tmp_path: Path, data: bytes, line: int
) -> None:
    with pytest.raises(FileUnreadable) as raised:
        read_all(write(tmp_path, data))
    assert raised.value.message.startswith(
        f'The quote (") opened in the row on line {line} is never closed'
    )


def test_a_quote_never_closed_in_a_column_not_imported_is_still_found(tmp_path: Path) -> None:
    # Larger than the sample that open_source reads whole: only the full read finds it.
    data = b'Code,Note\nFR,"x\n' + b"DE,y\n" * 60_000
    source = open_source(write(tmp_path, data), FileSettings())
    with pytest.raises(FileUnreadable, match="line 2 is never closed"):
        list(iter_batches(source, include=[0]))


def test_quoted_line_breaks_in_the_last_row_are_values_not_an_unclosed_quote(
    tmp_path: Path,
) -> None:
    _, found = read_all(write(tmp_path, b'Code,Note\nFR,"two\nlines"\nDE,"ends with\n"\n'))
    assert found == [["FR", "two\nlines"], ["DE", "ends with\n"]]


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"PK\x03\x04\x14\x00\x00\x00" + bytes(range(256)), "a ZIP archive"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)), "a JPEG image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "an Excel 97-2003 workbook (xls)"),
    ],
    ids=["zip", "pdf", "png", "jpeg", "xls"],
)
def test_a_binary_file_is_named_for_what_it_is_and_a_csv_export_is_asked_for(
    tmp_path: Path, data: bytes, kind: str
) -> None:
    with pytest.raises(FileUnreadable) as raised:
        open_source(write(tmp_path, data), FileSettings())
    assert raised.value.message.startswith(f"This looks like a binary file ({kind}")
    assert "Export the data as CSV" in raised.value.message
    assert "cp1252" not in raised.value.message


def test_a_binary_file_of_no_known_kind_is_called_binary_not_badly_encoded(
    tmp_path: Path,
) -> None:
    with pytest.raises(FileUnreadable) as raised:
        open_source(write(tmp_path, bytes(range(256)) * 64), FileSettings())
    assert raised.value.message.startswith("This looks like a binary file, not a CSV file")
    assert "cp1252" not in raised.value.message
