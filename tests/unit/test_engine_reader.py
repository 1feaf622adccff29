"""Reading CSV files into Arrow text batches: encodings, dialects, layout and broken files."""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path
from typing import Any

import pytest

from planport.domain.file_settings import FileSettings
from planport.engine.reader import (
    FileUnreadable,
    Source,
    file_digest,
    iter_batches,
    open_source,
    physical_lines,
    preview_rows,
)

SMALL_BLOCK = 1 << 20


def write(tmp_path: Path, data: bytes, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def open_bytes(tmp_path: Path, data: bytes, **settings: Any) -> Source:
    return open_source(write(tmp_path, data), FileSettings(**settings))


def rows(source: Source, include: list[int] | None = None) -> list[list[str]]:
    """Every data row as text, read in small blocks."""
    found: list[list[str]] = []
    for batch in iter_batches(source, include=include, block_size=SMALL_BLOCK):
        found += [list(row) for row in zip(*(c.to_pylist() for c in batch.columns), strict=True)]
    return found


def read(tmp_path: Path, data: bytes, **settings: Any) -> tuple[Source, list[list[str]]]:
    source = open_bytes(tmp_path, data, **settings)
    return source, rows(source)


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8])
def test_utf8_is_read_with_or_without_a_byte_order_mark(tmp_path: Path, bom: bytes) -> None:
    source, found = read(tmp_path, bom + "Code,Name\nFR,Côte d’Azur 🌍\n".encode())
    assert source.dialect.encoding == "utf-8"
    assert source.columns == ["Code", "Name"]  # the BOM is not part of the first name
    assert found == [["FR", "Côte d’Azur 🌍"]]


@pytest.mark.parametrize(
    ("bom", "codec"), [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
)
def test_utf16_with_a_byte_order_mark_is_detected(tmp_path: Path, bom: bytes, codec: str) -> None:
    data = bom + "Code;Name\r\nDE;Größe\r\nJP;日本\r\n".encode(codec)
    source, found = read(tmp_path, data)
    assert source.dialect.encoding == "utf-16"
    assert source.dialect.separator == ";"
    assert source.columns == ["Code", "Name"]
    assert found == [["DE", "Größe"], ["JP", "日本"]]


def test_windows_1252_is_detected_when_the_file_is_not_utf8(tmp_path: Path) -> None:
    data = "Code,Name\nFR,Café crème\nEU,€ zone\n".encode("cp1252")
    assert b"\xe9" in data
    source, found = read(tmp_path, data)
    assert source.dialect.encoding == "cp1252"
    assert found == [["FR", "Café crème"], ["EU", "€ zone"]]


def test_windows_1252_bytes_read_as_utf8_name_the_line_in_the_sample(tmp_path: Path) -> None:
    data = "Code,Name\nDE,Germany\nFR,Café\n".encode("cp1252")
    with pytest.raises(FileUnreadable, match=r"Line 3 .*not utf-8") as raised:
        open_bytes(tmp_path, data, encoding="utf-8")
    assert "encoding" in raised.value.message


def test_windows_1252_bytes_far_into_a_utf8_file_name_their_line(tmp_path: Path) -> None:
    data = b"Code,Name\n" + b"AA,plain\n" * 40_000 + "FR,Café\n".encode("cp1252")
    source = open_bytes(tmp_path, data, encoding="utf-8")
    with pytest.raises(FileUnreadable, match=r"Line 40002 .*not utf-8"):
        rows(source)


def test_a_chosen_encoding_is_used_as_chosen(tmp_path: Path) -> None:
    source, found = read(tmp_path, "Code,Name\nFR,Zoë\n".encode("latin-1"), encoding="iso-8859-1")
    assert source.dialect.encoding == "iso-8859-1"
    assert found == [["FR", "Zoë"]]


# ---------------------------------------------------------------- dialects


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_the_separator_is_detected(tmp_path: Path, separator: str) -> None:
    lines = [["Code", "Name", "Rate"], ["FR", "France", "0.2"], ["DE", "Germany", "0.19"]]
    data = "".join(separator.join(line) + "\n" for line in lines).encode()
    source, found = read(tmp_path, data)
    assert source.dialect.separator == separator
    assert source.columns == lines[0]
    assert found == lines[1:]


def test_a_semicolon_file_with_decimal_commas_is_split_on_semicolons(tmp_path: Path) -> None:
    source, found = read(tmp_path, b"Code;Rate;Amount\nFR;0,2;1,5\nDE;0,19;2,25\n")
    assert source.dialect.separator == ";"
    assert found == [["FR", "0,2", "1,5"], ["DE", "0,19", "2,25"]]


def test_a_chosen_separator_overrides_detection(tmp_path: Path) -> None:
    source, found = read(tmp_path, b"a;b,c\n1;2,3\n", separator=",")
    assert source.columns == ["a;b", "c"]
    assert found == [["1;2", "3"]]


def test_a_single_quote_qualifier_protects_separators_and_doubles_itself(tmp_path: Path) -> None:
    data = b"Code,Name\nUS,'Washington, D.C.'\nIE,'O''Brien''s'\n"
    source, found = read(tmp_path, data, quote="'")
    assert source.dialect.quote == "'"
    assert found == [["US", "Washington, D.C."], ["IE", "O'Brien's"]]


def test_doubled_double_quotes_are_one_quote(tmp_path: Path) -> None:
    _, found = read(tmp_path, b'Code,Name\nA,"He said ""hi"""\nB,"""quoted"""\n')
    assert found == [["A", 'He said "hi"'], ["B", '"quoted"']]


def test_quoted_separators_and_line_breaks_stay_inside_their_field(tmp_path: Path) -> None:
    data = b'Code,Note\nA,"one, two; three"\nB,"first line\nsecond line\r\nthird"\nC,plain\n'
    _, found = read(tmp_path, data)
    assert found == [
        ["A", "one, two; three"],
        ["B", "first line\nsecond line\r\nthird"],
        ["C", "plain"],
    ]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_ending_is_read(tmp_path: Path, newline: bytes) -> None:
    data = newline.join([b"Code,Name", b"FR,France", b"DE,Germany"]) + newline
    _, found = read(tmp_path, data)
    assert found == [["FR", "France"], ["DE", "Germany"]]


def test_mixed_line_endings_in_one_file_are_read(tmp_path: Path) -> None:
    _, found = read(tmp_path, b"Code,Name\r\nFR,France\nDE,Germany\rIT,Italy\r\n")
    assert found == [["FR", "France"], ["DE", "Germany"], ["IT", "Italy"]]


# ---------------------------------------------------------------- layout


def test_without_a_header_columns_are_numbered_and_the_first_row_is_data(tmp_path: Path) -> None:
    source, found = read(tmp_path, b"FR,France,EUR\nDE,Germany,EUR\n", header=False)
    assert source.columns == ["Column 1", "Column 2", "Column 3"]
    assert source.first_data_line == 1
    assert found == [["FR", "France", "EUR"], ["DE", "Germany", "EUR"]]


def test_skipped_rows_come_before_the_header(tmp_path: Path) -> None:
    data = b"Exported by ERP\nPeriod: 2026-01\nCode,Name\nFR,France\n"
    source, found = read(tmp_path, data, skip_rows=2)
    assert source.columns == ["Code", "Name"]
    assert source.first_data_line == 4
    assert found == [["FR", "France"]]


def test_skipping_every_row_leaves_a_file_without_rows(tmp_path: Path) -> None:
    with pytest.raises(FileUnreadable, match="no rows after the 3 skipped row"):
        open_bytes(tmp_path, b"a\nb\nc\n", skip_rows=3)


def test_trailing_empty_lines_are_not_rows(tmp_path: Path) -> None:
    _, found = read(tmp_path, b"Code,Name\nFR,France\n\n\n\r\n\n")
    assert found == [["FR", "France"]]


def test_a_blank_line_before_the_header_does_not_make_the_header_a_row(tmp_path: Path) -> None:
    source, found = read(tmp_path, b"\nCode,Name\nFR,France\n")
    assert source.columns == ["Code", "Name"]
    assert found == [["FR", "France"]]


def test_a_blank_line_after_skipped_rows_does_not_make_the_header_a_row(tmp_path: Path) -> None:
    source, found = read(tmp_path, b"Report\n\nCode,Name\nFR,France\n", skip_rows=1)
    assert source.columns == ["Code", "Name"]
    assert found == [["FR", "France"]]


def test_duplicate_and_blank_header_names_are_made_unique(tmp_path: Path) -> None:
    source = open_bytes(tmp_path, b"Amount,amount, ,Code,AMOUNT,\n1,2,3,4,5,6\n")
    assert source.columns == ["Amount", "amount (2)", "Column 3", "Code", "AMOUNT (3)", "Column 6"]
    assert len(set(source.columns)) == 6


def test_header_names_lose_surrounding_blanks(tmp_path: Path) -> None:
    source = open_bytes(tmp_path, b"  Code , Name\nFR,France\n")
    assert source.columns == ["Code", "Name"]


# ---------------------------------------------------------------- ragged rows and lines


def test_rows_with_the_wrong_number_of_fields_are_skipped_and_located(tmp_path: Path) -> None:
    data = b"Code,Name\nFR,France\nDE,Germany,extra\nIT,Italy\nES\nPT,Portugal\n"
    source, found = read(tmp_path, data)
    assert found == [["FR", "France"], ["IT", "Italy"], ["PT", "Portugal"]]
    physical_lines(source, set())
    assert [(r.line, r.fields, r.expected) for r in source.invalid_rows] == [(3, 3, 2), (5, 1, 2)]
    assert "DE,Germany,extra" in source.invalid_rows[0].text


def test_lines_of_rows_read_skip_over_the_invalid_rows(tmp_path: Path) -> None:
    data = b"Code,Name\nFR,France\nDE,Germany,extra\nIT,Italy\nES\nPT,Portugal\n"
    source, _ = read(tmp_path, data)
    assert physical_lines(source, {0, 1, 2}) == {0: 2, 1: 4, 2: 6}


def test_lines_count_the_header_and_skipped_rows(tmp_path: Path) -> None:
    data = b"report of 2026\n\nCode,Name\nFR,France\nDE,Germany\n"
    source = open_source(write(tmp_path, data), FileSettings(skip_rows=1))
    list(iter_batches(source))
    assert physical_lines(source, {0, 1}) == {0: 4, 1: 5}


def test_a_blank_line_between_rows_does_not_shift_the_lines_of_later_rows(
    tmp_path: Path,
) -> None:
    data = b"Code,Name\nFR,France\n\nDE,Germany,extra\nIT,Italy\n"
    source, found = read(tmp_path, data)
    assert found == [["FR", "France"], ["IT", "Italy"]]
    assert physical_lines(source, {1}) == {1: 5}
    assert [r.line for r in source.invalid_rows] == [4]


def test_a_quoted_line_break_moves_later_rows_to_their_physical_line(tmp_path: Path) -> None:
    data = b'Code,Name\nFR,"France\nmetropolitan"\nDE,Germany\n'
    source, _ = read(tmp_path, data)
    assert physical_lines(source, {0, 1}) == {0: 2, 1: 4}


def test_a_file_without_rejects_needs_no_second_pass(tmp_path: Path) -> None:
    source, _ = read(tmp_path, b"a,b\n1,2\n")
    assert physical_lines(source, set()) == {}


# ---------------------------------------------------------------- files that cannot be read


def test_an_empty_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FileUnreadable, match="empty"):
        open_bytes(tmp_path, b"")


def test_a_file_of_blank_lines_has_no_rows(tmp_path: Path) -> None:
    with pytest.raises(FileUnreadable, match="no rows"):
        open_bytes(tmp_path, b"\n\r\n   \n")


def test_nul_bytes_mark_a_binary_file_naming_the_line(tmp_path: Path) -> None:
    with pytest.raises(FileUnreadable, match="line 2 contains binary data"):
        open_bytes(tmp_path, b"Code,Name\nFR,\x00\x01\x02\x03\n")


def test_binary_garbage_is_unreadable(tmp_path: Path) -> None:
    garbage = bytes(range(256)) * 64
    with pytest.raises(FileUnreadable):
        rows(open_bytes(tmp_path, garbage))


def test_a_row_longer_than_the_block_size_names_its_line(tmp_path: Path) -> None:
    data = b"Code,Name\nFR,France\nXX," + b"y" * (3 << 20) + b"\nDE,Germany\n"
    source = open_bytes(tmp_path, data)
    with pytest.raises(FileUnreadable, match=r"Line 3 is longer than 1 MB"):
        rows(source)


def test_ten_thousand_columns_are_read_and_a_few_can_be_picked(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(10_000))
    body = "\n".join(",".join(f"{r}-{i}" for i in range(10_000)) for r in range(3))
    source = open_bytes(tmp_path, f"{header}\n{body}\n".encode())
    assert len(source.columns) == 10_000
    assert source.columns[9_999] == "c9999"
    assert rows(source, include=[0, 9_999]) == [
        ["0-0", "0-9999"],
        ["1-0", "1-9999"],
        ["2-0", "2-9999"],
    ]


# ---------------------------------------------------------------- helpers around reading


def test_preview_rows_stop_at_the_limit(tmp_path: Path) -> None:
    data = b"n\n" + b"".join(f"{i}\n".encode() for i in range(50))
    source = open_bytes(tmp_path, data)
    assert preview_rows(source, 3) == [["0"], ["1"], ["2"]]


def test_the_file_digest_is_its_size_and_sha256(tmp_path: Path) -> None:
    data = b"Code,Name\n" + b"FR,France\n" * 300_000
    path = write(tmp_path, data)
    assert file_digest(path) == (len(data), hashlib.sha256(data).hexdigest())
