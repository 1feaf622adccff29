"""Exports as Excel, SAP, NetSuite and Workday write them, imported through the service layer.

Each file in `exports/` is kept byte for byte as its tool writes it (encoding, byte-order mark,
separator, line endings, locale formats); `.gitattributes` stops Git from normalising it. Each
test imports one file with the settings a user picks in the wizard for it, then checks exactly
what the grid shows and that the block's CSV export gives the same values back.
"""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import pytest

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType, ValueType
from planport.domain.file_settings import (
    ColumnFormat,
    DateFormat,
    FileSettings,
    Layout,
    NumberFormat,
)
from planport.domain.imports import RunStatus
from planport.domain.mapping import CODE, NAME, Mapping, PivotMapping
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import block_data, items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports.runs import RunView
from planport.store.db import Database
from tests.integration.builders import grid
from tests.integration.import_builders import field, group, mapping, run, sample_lines

EXPORTS = Path(__file__).parent / "exports"
DL, TL = BlockKind.DIMENSION_LIST, BlockKind.TRANSACTION_LIST
T = PropertyType
NBSP, NNBSP = "\u00a0", "\u202f"
SEEDED_CENTERS = ["CC100", "CC110", "CC120", "CC130"]


def prop(block: BlockDef, name: str) -> uuid.UUID:
    return next(p.id for p in block.properties if p.name == name)


@pytest.fixture
def cost_center(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    """An empty Dimension List with a Number property and a Date property."""
    created = blocks.create_list(db, admin, app.id, DL, "Cost Center")
    blocks.add_property(db, admin, created.id, "Budget", T.NUMBER)
    return blocks.add_property(db, admin, created.id, "Opened", T.DATE)


@pytest.fixture
def seeded(db: Database, admin: Actor, cost_center: BlockDef) -> BlockDef:
    """The Cost Center list holding CC100…CC130 (what the transaction files refer to)."""
    items.write_items(db, admin, cost_center.id, [{"Code": c} for c in SEEDED_CENTERS])
    return cost_center


@pytest.fixture
def journal(db: Database, admin: Actor, app: ApplicationView, cost_center: BlockDef) -> BlockDef:
    """A Transaction List: Document, Posted, Memo, Cost Center (dimension), Amount."""
    created = blocks.create_list(db, admin, app.id, TL, "Journal")
    blocks.add_property(db, admin, created.id, "Document", T.TEXT)
    blocks.add_property(db, admin, created.id, "Posted", T.DATE)
    blocks.add_property(db, admin, created.id, "Memo", T.TEXT)
    blocks.add_property(
        db, admin, created.id, "Cost Center", T.DIMENSION, referenced_list_id=cost_center.id
    )
    return blocks.add_property(db, admin, created.id, "Amount", T.NUMBER)


def import_export(
    db: Database,
    admin: Actor,
    block: BlockDef,
    name: str,
    chosen: Mapping,
    settings: FileSettings,
) -> RunView:
    """Import `exports/<name>` into `block` through the service layer, with `settings`."""
    return run(db, admin, block.id, EXPORTS / name, chosen, settings)


def assert_clean(done: RunView, rows: int) -> None:
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.summary is not None
    assert [(g.reason, g.column, g.count) for g in done.summary.groups] == []
    assert (done.rows_read, done.skipped) == (rows, 0)


def rows_of(db: Database, admin: Actor, block: BlockDef) -> list[list[str]]:
    """The grid as rows of cells, in the grid's order."""
    return [list(row.values()) for row in grid(db, admin, block.id)]


def exported(db: Database, admin: Actor, block: BlockDef) -> list[list[str]]:
    """The block's CSV export read back, header first."""
    _, chunks = block_data.export_csv(db, admin, block.id)
    return list(csv.reader(io.StringIO("".join(chunks), newline="")))


def assert_lands(
    db: Database, admin: Actor, block: BlockDef, header: list[str], expected: list[list[str]]
) -> None:
    """The grid shows exactly `expected` (in order) and the export gives it back."""
    assert list(grid(db, admin, block.id)[0]) == header
    assert rows_of(db, admin, block) == expected
    assert exported(db, admin, block) == [header, *expected]


DL_HEADER = ["Code", "Name", "Budget", "Opened"]
JOURNAL_HEADER = ["Document", "Posted", "Memo", "Cost Center", "Amount"]


def cost_center_mapping(block: BlockDef, code: str, name: str, budget: str, opened: str) -> Mapping:
    return mapping(
        field(CODE, code),
        field(NAME, name),
        field(prop(block, "Budget"), budget),
        field(prop(block, "Opened"), opened),
    )


def journal_mapping(
    block: BlockDef, document: str, posted: str, memo: str, center: str, amount: str
) -> Mapping:
    return mapping(
        field(prop(block, "Document"), document),
        field(prop(block, "Posted"), posted),
        field(prop(block, "Memo"), memo),
        field(prop(block, "Cost Center"), center),
        field(prop(block, "Amount"), amount),
    )


# ---------------------------------------------------------------- the files themselves


def test_the_fixture_files_are_byte_for_byte_what_the_tools_write() -> None:
    """A checkout that normalised line endings or encodings would test other files."""
    assert (EXPORTS / "excel_csv_utf8_us.csv").read_bytes().startswith(b"\xef\xbb\xbfCode,")
    assert (EXPORTS / "workday_workers.txt").read_bytes().startswith(b"\xff\xfeE\x00m\x00")
    french = (EXPORTS / "excel_csv_fr_cp1252.csv").read_bytes()
    assert b"\r\n" in french
    assert b"1\xa0234,56\xa0\x80" in french  # NBSP and € in cp1252
    assert "12\u202f345,60".encode() in (EXPORTS / "excel_csv_utf8_fr_pivot.csv").read_bytes()
    assert b"1\x92234.56" in (EXPORTS / "excel_csv_ch.csv").read_bytes()  # ’ in cp1252


# ---------------------------------------------------------------- Excel


def test_excel_csv_utf8_keeps_accents_quotes_line_breaks_and_exact_numbers(
    db: Database, admin: Actor, cost_center: BlockDef
) -> None:
    """Excel "CSV UTF-8" (US locale): BOM, comma, CRLF, quoted "1,234.56", M/d/yyyy dates, an
    Alt+Enter line break (LF) inside a quoted name."""
    settings = FileSettings(
        encoding="utf-8",
        separator=",",
        number=NumberFormat(thousands_separator=","),
        date=DateFormat(pattern="MM/dd/yyyy"),
    )
    chosen = cost_center_mapping(cost_center, "Code", "Name", "Budget", "Opened")
    done = import_export(db, admin, cost_center, "excel_csv_utf8_us.csv", chosen, settings)
    assert_clean(done, 6)
    assert done.inserted == 6
    assert_lands(
        db,
        admin,
        cost_center,
        DL_HEADER,
        [
            ["CC100", "Ventes Île-de-France", "1234.56", "2026-01-05"],
            ["CC110", 'Marketing "Brand"', "12500", "2025-12-31"],
            ["CC120", "Recherche\net développement", "0.1", "2024-02-29"],
            ["CC130", "Café Zürich", "-250.75", "2026-07-04"],
            ["CC140", "Ærøskøbing Øst", "1000000.5", "2020-10-10"],
            ["CC150", "Smith, Jones & Co", "", "2026-03-01"],
        ],
    )


def test_excel_csv_in_french_reads_cp1252_accounting_amounts_and_rejects_an_error_cell(
    db: Database, admin: Actor, seeded: BlockDef, journal: BlockDef
) -> None:
    """Excel "CSV (séparateur: point-virgule)" on French Windows: cp1252, semicolon, CRLF,
    "1 234,56 €" with no-break spaces, accounting negatives "(1 234,56) €", dd/MM/yyyy, and
    a formula error "#VALEUR!" on line 5 which is the one reject."""
    settings = FileSettings(
        encoding="cp1252",
        separator=";",
        number=NumberFormat(decimal_separator=",", thousands_separator=NBSP, suffix="€"),
        date=DateFormat(pattern="dd/MM/yyyy"),
    )
    chosen = journal_mapping(journal, "Pièce", "Date", "Libellé", "Centre", "Montant")
    done = import_export(db, admin, journal, "excel_csv_fr_cp1252.csv", chosen, settings)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.summary is not None
    assert [(g.reason, g.column, g.count) for g in done.summary.groups] == [
        ("ParsingError", "Montant", 1)
    ]
    assert sample_lines(group(done, "ParsingError", "Montant")) == [5]
    assert (done.rows_read, done.inserted, done.skipped) == (6, 5, 1)
    assert_lands(
        db,
        admin,
        journal,
        JOURNAL_HEADER,
        [
            ["FAC-0001", "2026-01-05", "Achat fournitures", "CC100", "1234.56"],
            ["FAC-0002", "2026-01-31", "Avoir client « Dupont »", "CC110", "-1234.56"],
            ["FAC-0003", "2026-02-15", "Cœur de métier — été", "CC100", "0.05"],
            ["FAC-0005", "2026-03-01", "Note; avec point-virgule", "CC130", "-0.99"],
            ["FAC-0006", "2026-12-31", "Loyer décembre", "CC120", "12000"],
        ],
    )


def test_a_pivoted_excel_csv_utf8_in_french_reads_narrow_no_break_space_thousands(
    db: Database, admin: Actor, app: ApplicationView, seeded: BlockDef
) -> None:
    """Excel "CSV UTF-8" on French Windows 10+: BOM, semicolon, narrow no-break space (U+202F)
    thousands, decimal comma, months across; a blank cell sets no value."""
    month = blocks.create_list(db, admin, app.id, DL, "Month")
    items.write_items(db, admin, month.id, [{"Code": f"2026-0{m}"} for m in (1, 2, 3)])
    budget = blocks.create_metric(
        db, admin, app.id, "Budget", ValueType.NUMBER, [seeded.id, month.id]
    )
    settings = FileSettings(
        encoding="utf-8",
        separator=";",
        layout=Layout.PIVOTED,
        number=NumberFormat(decimal_separator=",", thousands_separator=NNBSP),
    )
    months = ["2026-01", "2026-02", "2026-03"]
    chosen = mapping(
        field(seeded.id, "Centre"), pivot=PivotMapping(dimension=str(month.id), columns=months)
    )
    done = import_export(db, admin, budget, "excel_csv_utf8_fr_pivot.csv", chosen, settings)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.summary is not None
    assert [(g.reason, g.column, g.count) for g in done.summary.groups] == []
    assert_lands(
        db,
        admin,
        budget,
        ["Cost Center", "Month", "Budget"],
        [
            ["CC100", "2026-01", "12345.6"],
            ["CC100", "2026-02", "-1000"],
            ["CC100", "2026-03", "0.1"],
            ["CC110", "2026-01", "1234567.89"],
            ["CC110", "2026-03", "-2500.25"],
            ["CC120", "2026-01", "0"],
            ["CC120", "2026-02", "3.14159"],
            ["CC120", "2026-03", "-0.5"],
        ],
    )


def test_excel_csv_in_german_reads_dotted_thousands_euro_negatives_and_dotted_dates(
    db: Database, admin: Actor, seeded: BlockDef, journal: BlockDef
) -> None:
    """Excel "CSV (Trennzeichen-getrennt)" on German Windows, encoding left to detection
    (cp1252): "1.234,56 €", "-1.234,56 €", dd.MM.yyyy, „German quotes“."""
    settings = FileSettings(
        separator=";",
        number=NumberFormat(decimal_separator=",", thousands_separator=".", suffix="€"),
        date=DateFormat(pattern="dd.MM.yyyy"),
    )
    chosen = journal_mapping(
        journal, "Belegnr", "Buchungsdatum", "Buchungstext", "Kostenstelle", "Betrag"
    )
    done = import_export(db, admin, journal, "excel_csv_de.csv", chosen, settings)
    assert_clean(done, 5)
    assert_lands(
        db,
        admin,
        journal,
        JOURNAL_HEADER,
        [
            ["RE-2026-001", "2026-01-02", "Büromaterial Müller GmbH", "CC100", "1234.56"],
            ["RE-2026-002", "2026-01-15", "Gutschrift Straße", "CC110", "-1234.56"],
            ["RE-2026-003", "2026-03-31", "Miete März", "CC120", "12000"],
            ["RE-2026-004", "2026-04-01", "Rundungsdifferenz", "CC130", "-0.01"],
            ["RE-2026-005", "2026-06-30", "Größenordnung „groß“", "CC100", "1000000"],
        ],
    )


def test_excel_csv_in_swiss_german_reads_both_apostrophes_as_thousands(
    db: Database, admin: Actor, cost_center: BlockDef
) -> None:
    """Swiss Excel: cp1252, semicolon, "1'234.56" and "1’234.56" (typewriter and typographic
    apostrophes), a "CHF" prefix, dd.MM.yyyy."""
    settings = FileSettings(
        encoding="cp1252",
        separator=";",
        number=NumberFormat(thousands_separator="'", prefix="CHF"),
        date=DateFormat(pattern="dd.MM.yyyy"),
    )
    chosen = cost_center_mapping(cost_center, "Kostenstelle", "Bezeichnung", "Budget", "Eröffnet")
    done = import_export(db, admin, cost_center, "excel_csv_ch.csv", chosen, settings)
    assert_clean(done, 5)
    assert_lands(
        db,
        admin,
        cost_center,
        DL_HEADER,
        [
            ["CH10", "Genève Centre", "1234.56", "2026-02-01"],
            ["CH20", "Zürich Nord", "1234.56", "2024-02-29"],
            ["CH30", "Lugano – Ticino", "-12500", "2025-12-31"],
            ["CH40", "Bâle", "1000000.05", "2019-08-15"],
            ["CH50", "Sion", "0.25", "2026-01-01"],
        ],
    )


# ---------------------------------------------------------------- SAP

SAP_NUMBERS = NumberFormat(decimal_separator=",", thousands_separator=".")
SAP_CENTERS = ["0000100234", "0000100235", "0000100300", "0000200000"]


def import_sap_cost_centers(db: Database, admin: Actor, cost_center: BlockDef) -> RunView:
    settings = FileSettings(
        encoding="cp1252",
        separator="\t",
        number=SAP_NUMBERS,
        date=DateFormat(pattern="dd.MM.yyyy"),
    )
    chosen = cost_center_mapping(cost_center, "Kostenstelle", "Bezeichnung", "Budget", "Gültig ab")
    return import_export(db, admin, cost_center, "sap_cost_centers.txt", chosen, settings)


def test_a_sap_tab_export_keeps_leading_zero_codes_and_reads_trailing_minus(
    db: Database, admin: Actor, cost_center: BlockDef
) -> None:
    """SAP GUI "Text with tabs": cp1252, padded cells, "1.234,56-" trailing minus, and keys
    with leading zeros that stay text codes (padding trimmed, zeros kept)."""
    done = import_sap_cost_centers(db, admin, cost_center)
    assert_clean(done, 4)
    assert_lands(
        db,
        admin,
        cost_center,
        DL_HEADER,
        [
            ["0000100234", "Vertrieb Nord", "-1234.56", "2026-01-01"],
            ["0000100235", "Einkauf", "12000", "2025-07-01"],
            ["0000100300", "Produktion Süd", "-0.5", "2025-12-31"],
            ["0000200000", "Verwaltung", "1000000", "2026-03-15"],
        ],
    )


def test_sap_line_items_match_cost_centers_by_their_zero_padded_code_only(
    db: Database, admin: Actor, cost_center: BlockDef, journal: BlockDef
) -> None:
    """SAP line items (semicolon, UTF-8) referring to the cost centers above: " 0000100235 "
    matches after trimming, but "100234" (zeros dropped) is no code of the list: line 4 is
    skipped, and the document numbers keep their leading zeros."""
    assert_clean(import_sap_cost_centers(db, admin, cost_center), 4)
    settings = FileSettings(
        encoding="utf-8",
        separator=";",
        number=SAP_NUMBERS,
        date=DateFormat(pattern="dd.MM.yyyy"),
    )
    chosen = journal_mapping(
        journal, "Belegnummer", "Buchungsdatum", "Text", "Kostenstelle", "Betrag in HW"
    )
    done = import_export(db, admin, journal, "sap_line_items.csv", chosen, settings)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.summary is not None
    assert [(g.reason, g.column, g.count) for g in done.summary.groups] == [
        ("MissingModalitySkippedDataRow", "Kostenstelle", 1)
    ]
    assert sample_lines(group(done, "MissingModalitySkippedDataRow")) == [4]
    assert (done.rows_read, done.inserted, done.skipped) == (4, 3, 1)
    assert [r["Code"] for r in grid(db, admin, cost_center.id)] == SAP_CENTERS  # none created
    assert_lands(
        db,
        admin,
        journal,
        JOURNAL_HEADER,
        [
            ["0100000017", "2026-01-05", "Wareneingang", "0000100234", "-1234.56"],
            ["0100000018", "2026-01-06", "Rechnung Kreditor", "0000100235", "987"],
            ["0100000020", "2026-01-08", "Umbuchung", "0000200000", "-1000000"],
        ],
    )


# ---------------------------------------------------------------- NetSuite


def test_a_netsuite_export_reads_dollar_negatives_and_multi_line_memos(
    db: Database, admin: Actor, seeded: BlockDef, journal: BlockDef
) -> None:
    """NetSuite CSV: comma, "$(1,234.56)" and "-$1,234.56", memos with commas, quotes and CRLF
    line breaks, MM/dd/yyyy. The row after the three-line memo (line 7) has day and month
    swapped and is the one reject: its line counts the memo's physical lines."""
    settings = FileSettings(
        encoding="utf-8",
        separator=",",
        number=NumberFormat(thousands_separator=",", prefix="$"),
        date=DateFormat(pattern="MM/dd/yyyy"),
    )
    chosen = journal_mapping(journal, "Document Number", "Date", "Memo", "Department", "Amount")
    done = import_export(db, admin, journal, "netsuite_transactions.csv", chosen, settings)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.summary is not None
    assert [(g.reason, g.column, g.count) for g in done.summary.groups] == [
        ("ParsingError", "Date", 1)
    ]
    assert sample_lines(group(done, "ParsingError", "Date")) == [7]
    assert (done.rows_read, done.inserted, done.skipped) == (6, 5, 1)
    assert_lands(
        db,
        admin,
        journal,
        JOURNAL_HEADER,
        [
            ["INV-1001", "2026-01-05", "Consulting, phase 1", "CC100", "1234.56"],
            ["INV-1002", "2026-01-31", 'Refund "goodwill"', "CC110", "-1234.56"],
            [
                "JE-77",
                "2026-02-28",
                "Accrual reversal\r\nsee ticket #42\r\n(multi-line)",
                "CC120",
                "-1234.56",
            ],
            ["INV-1004", "2026-03-15", "Café & crème brûlée", "CC130", "0.07"],
            ["INV-1005", "2026-12-31", "Year end", "CC100", "1000000"],
        ],
    )


# ---------------------------------------------------------------- Workday


def test_a_workday_unicode_text_export_reads_percentages_exactly(
    db: Database, admin: Actor, app: ApplicationView, seeded: BlockDef
) -> None:
    """Workday report saved by Excel as "Unicode Text": UTF-16 LE with BOM, tab, yyyy-MM-dd,
    and an "Allocation %" column read with the percent option (75 is 75 %); 14.3% is 0.143
    exactly, not 0.14300000000000002."""
    worker = blocks.create_list(db, admin, app.id, DL, "Worker")
    blocks.add_property(db, admin, worker.id, "Hired", T.DATE)
    blocks.add_property(db, admin, worker.id, "Allocation", T.NUMBER)
    worker = blocks.add_property(
        db, admin, worker.id, "Cost Center", T.DIMENSION, referenced_list_id=seeded.id
    )
    settings = FileSettings(
        encoding="utf-16",
        separator="\t",
        columns={"Allocation %": ColumnFormat(number=NumberFormat(percent=True))},
    )
    chosen = mapping(
        field(CODE, "Employee ID"),
        field(NAME, "Worker"),
        field(prop(worker, "Hired"), "Hire Date"),
        field(prop(worker, "Allocation"), "Allocation %"),
        field(prop(worker, "Cost Center"), "Cost Center"),
    )
    done = import_export(db, admin, worker, "workday_workers.txt", chosen, settings)
    assert_clean(done, 5)
    assert_lands(
        db,
        admin,
        worker,
        ["Code", "Name", "Hired", "Allocation", "Cost Center"],
        [
            ["21001", "Zoë Müller-Łukasiewicz", "2019-03-04", "0.143", "CC100"],
            ["21002", 'Siobhán "Shiv" O\'Brien', "2020-11-30", "1", "CC110"],
            ["21003", "李小龍", "2024-02-29", "0.005", "CC120"],
            ["21004", "José Ñúñez", "2026-01-01", "0.3333", "CC100"],
            ["00021005", "Ayşe Yılmaz", "2025-07-15", "0.75", "CC130"],
        ],
    )
