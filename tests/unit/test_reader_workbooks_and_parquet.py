"""Workbooks (xlsx) and Parquet files read into the same text batches as CSV files: told by
their content, each value written as the text a CSV file would hold, rows numbered as the
sheet or the file numbers them, and damaged files refused with what and where."""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from planport.domain.file_settings import DateFormat, FileSettings, NumberFormat
from planport.engine import tabular
from planport.engine.reader import (
    FileUnreadable,
    iter_batches,
    open_source,
    physical_lines,
    preview_rows,
)
from planport.engine.tabular import FileFormat


def read_all(path: Path, settings: FileSettings | None = None) -> list[list[str]]:
    source = open_source(path, settings or FileSettings())
    found: list[list[str]] = []
    for batch in iter_batches(source):
        found += [list(r) for r in zip(*(c.to_pylist() for c in batch.columns), strict=True)]
    return found


def write_workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


SALES = [
    ["Month", "Product", "Amount", "Open"],
    [datetime.date(2027, 1, 31), "P1", 1234.5, True],
    [datetime.datetime(2027, 2, 28), "P2", 7, False],
]


def test_a_workbook_is_read_by_its_content_whatever_its_name(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "sales.csv", {"Sales": SALES})
    source = open_source(path, FileSettings())
    assert source.format is FileFormat.XLSX
    assert source.columns == ["Month", "Product", "Amount", "Open"]
    assert read_all(path) == [
        ["2027-01-31", "P1", "1234.5", "true"],
        ["2027-02-28", "P2", "7", "false"],
    ]


def test_the_chosen_sheet_is_read_and_the_first_one_by_default(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "book.xlsx", {"Notes": [["Note"], ["read me"]], "Sales": SALES}
    )
    assert read_all(path) == [["read me"]]
    assert read_all(path, FileSettings(sheet="Sales"))[0][1] == "P1"


def test_a_sheet_the_workbook_lacks_is_refused_naming_the_sheets_it_has(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "book.xlsx", {"Notes": [["Note"]], "Sales": SALES})
    with pytest.raises(FileUnreadable) as raised:
        open_source(path, FileSettings(sheet="Actuals"))
    assert "no sheet named 'Actuals'" in raised.value.message
    assert "'Notes', 'Sales'" in raised.value.message


def test_an_empty_sheet_is_refused_by_name(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "book.xlsx", {"Sales": SALES, "Blank": []})
    with pytest.raises(FileUnreadable) as raised:
        open_source(path, FileSettings(sheet="Blank"))
    assert raised.value.message == "Sheet 'Blank' of the workbook is empty."


def test_workbook_rows_keep_their_sheet_row_numbers_and_blank_rows_are_left_out(
    tmp_path: Path,
) -> None:
    # Rows 1-2 empty, the header on row 3, data on rows 4 and 6 (row 5 empty).
    rows: list[list[object]] = [[], [], SALES[0], SALES[1], [], SALES[2]]
    path = write_workbook(tmp_path / "book.xlsx", {"Sales": rows})
    source = open_source(path, FileSettings())
    assert [r[1] for r in read_all(path)] == ["P1", "P2"]
    assert physical_lines(source, {0, 1}) == {0: 4, 1: 6}


def test_cells_are_written_in_the_formats_the_settings_read(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "book.xlsx", {"Sales": SALES})
    settings = FileSettings(
        date=DateFormat(pattern="dd/MM/yyyy"), number=NumberFormat(decimal_separator=",")
    )
    assert read_all(path, settings)[0][0::2] == ["31/01/2027", "1234,5"]
    excel = FileSettings(date=DateFormat(pattern="excel"))
    assert read_all(path, excel)[0][0] == "46418"  # 2027-01-31 as Excel's serial number


def test_a_date_with_a_time_of_day_keeps_its_time(tmp_path: Path) -> None:
    rows: list[list[object]] = [["When"], [datetime.datetime(2027, 3, 1, 13, 30, 5)]]
    path = write_workbook(tmp_path / "book.xlsx", {"Log": rows})
    assert read_all(path) == [["2027-03-01 13:30:05"]]


def test_a_column_mixing_text_and_numbers_keeps_every_cell(tmp_path: Path) -> None:
    rows: list[list[object]] = [["Code"], *[[n] for n in range(1, 1500)], ["X9"]]
    path = write_workbook(tmp_path / "book.xlsx", {"Codes": rows})
    found = read_all(path)
    assert len(found) == 1500
    assert (found[0], found[-1]) == (["1"], ["X9"])


def test_a_workbook_cut_off_is_refused_as_damaged(tmp_path: Path) -> None:
    whole = write_workbook(tmp_path / "book.xlsx", {"Sales": SALES}).read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(FileUnreadable) as raised:
        open_source(path, FileSettings())
    assert "workbook (xlsx) is damaged or cut off" in raised.value.message


def test_a_password_protected_workbook_is_refused_as_encrypted(tmp_path: Path) -> None:
    # What Excel writes for a workbook with a password: an OLE compound file whose
    # directory holds EncryptionInfo and EncryptedPackage streams.
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    names = ["Root Entry", "EncryptionInfo", "EncryptedPackage"]
    directory = b"".join(n.encode("utf-16-le").ljust(128, b"\x00") for n in names)
    path = tmp_path / "locked.xlsx"
    path.write_bytes(header + directory + bytes(4096))
    with pytest.raises(FileUnreadable) as raised:
        open_source(path, FileSettings())
    assert "protected with a password" in raised.value.message


def write_parquet(path: Path, table: pa.Table, **options: object) -> Path:
    pq.write_table(table, path, **options)  # type: ignore[arg-type]
    return path


MONTHS = pa.table(
    {
        "Month": pa.array([datetime.date(2027, 1, 31), None], pa.date32()),
        "Amount": pa.array(
            [decimal.Decimal("1234.50"), decimal.Decimal("-0.05")], pa.decimal128(9, 2)
        ),
        "Units": pa.array([3, None], pa.int64()),
        "Product": ["P1", "P2"],
    }
)


def test_a_parquet_file_is_read_as_the_csv_text_of_its_values(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "months.dat", MONTHS)
    source = open_source(path, FileSettings())
    assert source.format is FileFormat.PARQUET
    assert source.columns == ["Month", "Amount", "Units", "Product"]
    assert read_all(path) == [["2027-01-31", "1234.50", "3", "P1"], ["", "-0.05", "", "P2"]]


def test_csv_settings_do_not_change_how_a_parquet_file_is_read(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "months.parquet", MONTHS)
    csv_only = FileSettings(encoding="utf-16-le", separator=";", quote="'", skip_rows=5)
    assert read_all(path, csv_only) == read_all(path)


def test_parquet_rows_are_numbered_by_position_from_one(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "months.parquet", MONTHS)
    source = open_source(path, FileSettings())
    assert physical_lines(source, {0, 1}) == {0: 1, 1: 2}


def test_a_large_parquet_file_streams_in_bounded_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = 25_000
    table = pa.table({"Code": [f"C{n}" for n in range(rows)], "Value": list(range(rows))})
    path = write_parquet(tmp_path / "big.parquet", table, row_group_size=10_000)
    monkeypatch.setattr(tabular, "PARQUET_BATCH_ROWS", 4096)
    batches = list(iter_batches(open_source(path, FileSettings()), include=[1]))
    assert max(b.num_rows for b in batches) <= 4096
    assert sum(b.num_rows for b in batches) == rows
    assert batches[-1].column(0)[-1].as_py() == str(rows - 1)
    assert len(preview_rows(open_source(path, FileSettings()), 5)) == 5


def test_a_parquet_file_cut_off_is_refused(tmp_path: Path) -> None:
    whole = write_parquet(tmp_path / "months.parquet", MONTHS).read_bytes()
    path = tmp_path / "cut.parquet"
    path.write_bytes(whole[: len(whole) - 20])
    with pytest.raises(FileUnreadable) as raised:
        open_source(path, FileSettings())
    assert "Parquet file is cut off or damaged" in raised.value.message


def test_a_parquet_file_with_a_damaged_footer_is_refused(tmp_path: Path) -> None:
    whole = write_parquet(tmp_path / "months.parquet", MONTHS).read_bytes()
    path = tmp_path / "bad.parquet"
    path.write_bytes(whole[:4] + bytes(len(whole) - 12) + whole[-8:])
    with pytest.raises(FileUnreadable) as raised:
        list(iter_batches(open_source(path, FileSettings())))
    assert "Parquet file is damaged" in raised.value.message


def test_a_column_of_lists_is_refused_naming_it(tmp_path: Path) -> None:
    table = pa.table({"Code": ["A"], "Tags": pa.array([["x", "y"]])})
    path = write_parquet(tmp_path / "tags.parquet", table)
    source = open_source(path, FileSettings())
    assert [b.to_pylist() for b in iter_batches(source, include=[0])] == [[{"0": "A"}]]
    with pytest.raises(FileUnreadable) as raised:
        list(iter_batches(source, include=[1]))
    assert "Column 'Tags' of the Parquet file holds list<element: string> values" in (
        raised.value.message
    )


def test_a_text_cell_among_numbers_keeps_its_text_to_be_rejected(tmp_path: Path) -> None:
    rows: list[list[object]] = [["Code", "Amount"], ["A", 1.5], ["B", "n/a"], ["C", 2]]
    path = write_workbook(tmp_path / "book.xlsx", {"Sales": rows})
    assert read_all(path) == [["A", "1.5"], ["B", "n/a"], ["C", "2"]]
