"""Files people really send: empty, huge, binary, badly encoded, ragged, hostile, random."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, PropertyType
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus
from planport.domain.mapping import CODE, NAME, Mapping
from planport.domain.members import Actor
from planport.engine.reader import BLOCK_SIZE
from planport.services import blocks
from planport.services.blocks import block_data, items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import runs
from planport.store.db import Database
from tests.integration.builders import grid
from tests.integration.import_builders import (
    field,
    group,
    mapping,
    rejects_text,
    run,
    sample_lines,
    write_csv,
)

DL = BlockKind.DIMENSION_LIST
FORMULA = "=cmd|' /C calc'!A0"
HUGE_FIELD_MB = 100


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    """A Dimension List with a text Note and a number Rate, holding FR and DE."""
    created = blocks.create_list(db, admin, app.id, DL, "Country")
    blocks.add_property(db, admin, created.id, "Note", PropertyType.TEXT)
    blocks.add_property(db, admin, created.id, "Rate", PropertyType.NUMBER)
    items.write_items(
        db, admin, created.id, [{"Code": "FR", "Name": "France"}, {"Code": "DE", "Name": "Germany"}]
    )
    return blocks.get_block(db, admin, created.id)


LINE_BREAK = re.compile(r"\r\n|\r|\n")


def prop(block: BlockDef, name: str) -> str:
    return str(next(p.id for p in block.properties if p.name == name))


CODE_AND_NAME = mapping(field(CODE, "Code"), field(NAME, "Name"))


def import_bytes(
    db: Database,
    admin: Actor,
    block: BlockDef,
    tmp_path: Path,
    data: bytes,
    chosen: Mapping = CODE_AND_NAME,
    **settings: Any,
) -> runs.RunView:
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    return run(db, admin, block.id, path, chosen, FileSettings(**settings))


def codes(db: Database, admin: Actor, block: BlockDef) -> dict[str, str]:
    return {r["Code"]: r["Name"] for r in grid(db, admin, block.id)}


UNTOUCHED = {"FR": "France", "DE": "Germany"}


# ---------------------------------------------------------------- empty and header-only files


def test_an_empty_file_fails_the_run_saying_it_is_empty(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    done = import_bytes(db, admin, country, tmp_path, b"")
    assert done.status is RunStatus.FAILED
    assert [e.name for e in done.errors] == ["FileUnreadable"]
    assert "empty" in done.errors[0].description
    assert (done.file_size, done.file_sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert codes(db, admin, country) == UNTOUCHED


def test_a_file_with_only_a_header_completes_with_nothing_read(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    done = import_bytes(db, admin, country, tmp_path, b"Code,Name\r\n")
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.rows_read, done.inserted, done.updated, done.skipped) == (0, 0, 0, 0)
    assert codes(db, admin, country) == UNTOUCHED


def test_a_missing_file_fails_the_run_saying_it_could_not_be_read(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    done = run(db, admin, country.id, tmp_path / "gone.csv", CODE_AND_NAME)
    assert done.status is RunStatus.FAILED
    assert [e.name for e in done.errors] == ["FileUnreadable"]
    assert "could not be read" in done.errors[0].description


# ---------------------------------------------------------------- a 100 MB field


@pytest.fixture(scope="module")
def huge_field_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good row, then a row whose Name is 100 MB long, then a good row; written in 1 MB steps."""
    path = tmp_path_factory.mktemp("huge") / "huge.csv"
    chunk = b"y" * (1 << 20)
    with path.open("wb") as handle:
        handle.write(b"Code,Name\nIT,Italy\nXX,")
        for _ in range(HUGE_FIELD_MB):
            handle.write(chunk)
        handle.write(b"\nES,Spain\n")
    return path


def test_a_100_mb_field_fails_the_run_naming_its_line_and_writes_nothing(
    db: Database, admin: Actor, country: BlockDef, huge_field_file: Path
) -> None:
    done = run(db, admin, country.id, huge_field_file, CODE_AND_NAME)
    assert done.status is RunStatus.FAILED
    assert [e.name for e in done.errors] == ["FileUnreadable"]
    assert "Line 3 is longer than 16 MB" in done.errors[0].description
    assert done.file_size == huge_field_file.stat().st_size
    assert (done.rows_read, done.inserted) == (0, 0)
    assert codes(db, admin, country) == UNTOUCHED


def test_a_100_mb_field_is_refused_without_holding_it_in_memory(
    db: Database, admin: Actor, country: BlockDef, huge_field_file: Path
) -> None:
    # "memory does not grow with the file" (reader): the failure path included.
    tracemalloc.start()
    try:
        done = run(db, admin, country.id, huge_field_file, CODE_AND_NAME)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done.status is RunStatus.FAILED
    # Bounded by the reader's few blocks in flight, below the 100 MB row itself: AHEAD, one
    # more while the consumer waits for a batch (so the parser never stalls), and the parser's.
    assert peak < 6 * BLOCK_SIZE, f"{peak >> 20} MB of Python memory to refuse one long row"


# ---------------------------------------------------------------- binary and badly encoded files


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40,
        bytes(range(256)) * 40,
    ],
    ids=["png", "every byte"],
)
def test_binary_garbage_fails_the_run_as_unreadable(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path, data: bytes
) -> None:
    done = import_bytes(db, admin, country, tmp_path, data)
    assert done.status is RunStatus.FAILED
    assert [e.name for e in done.errors] in (["FileUnreadable"], ["FileDoesNotMatch"])
    assert codes(db, admin, country) == UNTOUCHED


def test_nul_bytes_fail_the_run_as_binary_naming_the_line(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    done = import_bytes(db, admin, country, tmp_path, b"Code,Name\nIT,Ita\x00ly\n")
    assert done.status is RunStatus.FAILED
    assert [e.name for e in done.errors] == ["FileUnreadable"]
    assert "line 2 contains binary data" in done.errors[0].description


def test_mixed_line_endings_import_every_row(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    data = b"Code,Name\r\nIT,Italy\nES,Spain\rPT,Portugal\r\nGR,Greece"
    done = import_bytes(db, admin, country, tmp_path, data)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.inserted == 4
    assert codes(db, admin, country) == UNTOUCHED | {
        "IT": "Italy",
        "ES": "Spain",
        "PT": "Portugal",
        "GR": "Greece",
    }


def test_a_file_in_another_encoding_than_chosen_fails_naming_the_line(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    data = "Code,Name\nIT,Italy\nCI,Côte d'Ivoire\n".encode("cp1252")
    done = import_bytes(db, admin, country, tmp_path, data, encoding="utf-8")
    assert done.status is RunStatus.FAILED
    assert [e.name for e in done.errors] == ["FileUnreadable"]
    assert "Line 3" in done.errors[0].description
    assert "encoding" in done.errors[0].description
    assert codes(db, admin, country) == UNTOUCHED


def test_a_windows_1252_file_is_detected_and_imported(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    data = "Code,Name\nCI,Côte d'Ivoire\nEU,€ zone\n".encode("cp1252")
    done = import_bytes(db, admin, country, tmp_path, data)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert codes(db, admin, country)["CI"] == "Côte d'Ivoire"
    assert codes(db, admin, country)["EU"] == "€ zone"


# ---------------------------------------------------------------- ragged and hostile rows


def test_a_row_with_more_fields_than_the_header_is_skipped_with_its_line(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    data = b"Code,Name,Rate\nIT,Italy,1\nES,Spain,2,surplus\nPT\nGR,Greece,bad\nNL,Netherlands,3\n"
    chosen = mapping(field(CODE, "Code"), field(NAME, "Name"), field(prop(country, "Rate"), "Rate"))
    done = import_bytes(db, admin, country, tmp_path, data, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.rows_read, done.inserted, done.skipped) == (5, 2, 3)
    assert set(codes(db, admin, country)) == {"FR", "DE", "IT", "NL"}
    ragged = group(done, "ParsingError", "(row)")
    assert sample_lines(ragged) == [3, 4]
    assert "ES,Spain,2,surplus" in ragged.samples[0].value
    assert ragged.description == "The row has 4 fields; the header has 3."
    # A later row's line still counts the rows the parser dropped.
    assert sample_lines(group(done, "ParsingError", "Rate")) == [5]


def test_a_header_after_a_blank_line_is_not_imported_as_an_item(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    done = import_bytes(db, admin, country, tmp_path, b"\r\nCode,Name\r\nIT,Italy\r\n")
    assert done.status is RunStatus.COMPLETED, done.errors
    assert codes(db, admin, country) == UNTOUCHED | {"IT": "Italy"}


def test_a_blank_line_inside_the_file_does_not_shift_the_lines_reported_after_it(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    data = b"Code,Name\nIT,Italy\n\nES,Spain,surplus\n ,Nowhere\n"
    done = import_bytes(db, admin, country, tmp_path, data)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert sample_lines(group(done, "ParsingError", "(row)")) == [4]
    assert sample_lines(group(done, "ParsingError", "Code")) == [5]


def test_a_formula_cell_is_imported_as_text_and_exported_with_an_apostrophe(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "f.csv",
        ["Code", "Name", "Note", "Rate"],
        [["IT", FORMULA, FORMULA, "1"], ["ES", "Spain", "", FORMULA]],
    )
    chosen = mapping(
        field(CODE, "Code"),
        field(NAME, "Name"),
        field(prop(country, "Note"), "Note"),
        field(prop(country, "Rate"), "Rate"),
    )
    done = run(db, admin, country.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    stored = {r["Code"]: r for r in grid(db, admin, country.id)}
    assert (stored["IT"]["Name"], stored["IT"]["Note"]) == (FORMULA, FORMULA)
    _, chunks = block_data.export_csv(db, admin, country.id)
    exported = {r["Code"]: r for r in csv.DictReader(io.StringIO("".join(chunks)))}
    assert exported["IT"]["Name"] == "'" + FORMULA
    assert exported["IT"]["Note"] == "'" + FORMULA
    rejected = list(csv.reader(io.StringIO(rejects_text(db, admin, done.id))))
    assert [(r[0], r[2], r[3]) for r in rejected[1:]] == [("3", "Rate", "'" + FORMULA)]


def test_ten_thousand_columns_with_two_mapped_import_fine(
    db: Database, admin: Actor, country: BlockDef, tmp_path: Path
) -> None:
    header = [f"Filler {i}" for i in range(10_000)]
    header[1234], header[9876] = "Code", "Name"
    rows = []
    for code, name in (("IT", "Italy"), ("ES", "Spain")):
        row = [str(i) for i in range(10_000)]
        row[1234], row[9876] = code, name
        rows.append(row)
    path = write_csv(tmp_path / "wide.csv", header, rows)
    done = run(db, admin, country.id, path, CODE_AND_NAME)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert codes(db, admin, country) == UNTOUCHED | {"IT": "Italy", "ES": "Spain"}


# ---------------------------------------------------------------- random files

TRICKY = ['"', "'", ",", ";", "\t", "|", "\n", "\r", " ", "\\", "é", "\u2028", "="]
TRICKY_PIECES = ["\r\n", '""', "=1+2"]
cells = st.one_of(
    st.sampled_from(TRICKY + TRICKY_PIECES),
    st.lists(st.sampled_from(TRICKY + TRICKY_PIECES + ["a", "B", "1"]), max_size=6).map("".join),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
)
_lists = itertools.count()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(st.tuples(cells, cells), max_size=12))
def test_a_random_csv_file_is_imported_or_reported_row_by_row(
    db: Database, admin: Actor, app: ApplicationView, tmp_path: Path, rows: list[tuple[str, str]]
) -> None:
    target = blocks.create_list(db, admin, app.id, DL, f"Random {next(_lists)}")
    path = write_csv(tmp_path / "random.csv", ["Code", "Name"], rows)
    done = run(db, admin, target.id, path, CODE_AND_NAME, FileSettings(separator=","))
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.summary is not None
    assert done.rows_read == len(rows)
    overwritten = sum(g.count for g in done.summary.groups if g.reason == "OverwrittenByLaterRow")
    assert done.inserted + done.skipped + overwritten == len(rows)
    rejected = {
        int(line): reason
        for line, reason, *_ in list(csv.reader(io.StringIO(rejects_text(db, admin, done.id))))[1:]
    }
    imported = codes(db, admin, target)
    assert len(imported) == done.inserted
    line = 2  # lines are physical: a row starts after the line breaks of the rows before it
    for index, (code, name) in enumerate(rows):
        if index:
            line += 1 + len(LINE_BREAK.findall(",".join(rows[index - 1])))
        if line not in rejected:
            assert imported.get(code.strip()) == name, (line, code, name)
        elif rejected[line] == "OverwrittenByLaterRow":
            assert any(c.strip() == code.strip() for c, _ in rows[index + 1 :]), line
        else:
            assert rejected[line] == "ParsingError", line
