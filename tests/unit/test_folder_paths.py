"""Server-folder sources: which paths and patterns stay under the import root (pure checks),
and which file "most recent" picks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from planport.connectors import FolderSource, SourceUnavailable
from planport.connectors.folder import check_folder_source, check_pattern, locate, relative_path
from planport.domain.errors import Invalid
from planport.settings import Settings


@pytest.mark.parametrize(
    ("written", "clean"),
    [
        ("sales.csv", "sales.csv"),
        ("./sales//2026/jan.csv", "sales/2026/jan.csv"),
        ("  erp/countries.csv ", "erp/countries.csv"),
        ("a..b.csv", "a..b.csv"),
        ("names with spaces/é.csv", "names with spaces/é.csv"),
    ],
)
def test_a_relative_path_is_normalised(written: str, clean: str) -> None:
    assert check_folder_source(FolderSource(path=written)) == FolderSource(path=clean)


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("/etc/passwd", "is absolute"),
        ("~/file.csv", "is absolute"),
        ("C:/data/file.csv", "is absolute"),
        ("../up.csv", "uses '..'"),
        ("sales/../../up.csv", "uses '..'"),
        ("sales/", "names a folder"),
        (".", "names no file"),
        ("sales\\jan.csv", "backslash"),
        ("bad\x00name.csv", "control character"),
        ("x" * 1001, "longer than 1000"),
    ],
)
def test_a_path_leaving_the_root_or_malformed_is_refused_naming_the_field(
    written: str, words: str
) -> None:
    with pytest.raises(Invalid) as raised:
        relative_path(written, field="path")
    assert words in raised.value.message
    assert raised.value.field == "path"


@pytest.mark.parametrize(
    "pattern", ["sales/*.csv", "*/2026-??.csv", "sales_[0-9][0-9].csv", "a[]]b.csv", "x[!]].csv"]
)
def test_glob_patterns_within_folder_levels_are_accepted(pattern: str) -> None:
    assert check_pattern(pattern) == pattern


@pytest.mark.parametrize(
    ("pattern", "words"),
    [("sales/**/*.csv", "not **"), ("sales_[0-9.csv", "without its ]"), ("[]x.csv", "without")],
)
def test_recursive_or_unclosed_patterns_are_refused(pattern: str, words: str) -> None:
    with pytest.raises(Invalid) as raised:
        check_pattern(pattern)
    assert words in raised.value.message
    assert raised.value.field == "pattern"


def test_a_source_names_exactly_one_of_a_path_and_a_pattern() -> None:
    for spec in (
        FolderSource(),
        FolderSource(path=" ", pattern=""),
        FolderSource(path="a", pattern="b"),
    ):
        with pytest.raises(Invalid, match="either a file path or a pattern"):
            check_folder_source(spec)


def _file(path: Path, modified: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Code\nFR\n", encoding="utf-8")
    os.utime(path, (modified, modified))
    return path


def test_most_recent_is_the_newest_modification_then_the_name_sorting_last(tmp_path: Path) -> None:
    _file(tmp_path / "b.csv", 100)
    _file(tmp_path / "a.csv", 200)
    _file(tmp_path / "c.csv", 200)
    _file(tmp_path / "z.csv", 50)
    found = locate(FolderSource(pattern="*.csv"), tmp_path, now=1000)
    assert (found.name, found.modified) == ("c.csv", 200)


def test_a_missing_import_root_is_transient_and_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="PLANPORT_IMPORT_ROOT") as raised:
        locate(FolderSource(path="a.csv"), tmp_path / "absent", now=0)
    assert raised.value.transient


def test_settling_counts_from_the_file_modification(tmp_path: Path) -> None:
    _file(tmp_path / "a.csv", 1000)
    with pytest.raises(SourceUnavailable, match="modified 10 s ago") as raised:
        locate(FolderSource(path="a.csv"), tmp_path, now=1010, settle_seconds=30)
    assert raised.value.transient
    assert locate(FolderSource(path="a.csv"), tmp_path, now=1030, settle_seconds=30).name == "a.csv"


def test_the_import_root_defaults_to_the_imports_folder_of_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_import_root == tmp_path / "imports"
    assert settings.masked()["PLANPORT_IMPORT_ROOT"] == str(tmp_path / "imports")
    chosen = Settings(data_dir=tmp_path, import_root=tmp_path / "drop")
    assert chosen.effective_import_root == tmp_path / "drop"
