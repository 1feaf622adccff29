"""How a run writes its block on SQLite (services/_sqlite_lane): prepared in a scratch file,
moved in by chunks, swapped in with the run's finish; prepared again when a list changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, ValueType
from planport.domain.errors import Conflict
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus
from planport.domain.mapping import VALUE, ClearMode, Mapping, UnknownItems
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import items, lane
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import runs
from planport.settings import Settings
from planport.store import block_tables, scratch
from planport.store.db import Database
from tests.integration.builders import grid, table_names
from tests.integration.import_builders import field, mapping, write_csv


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'planport.db'}"


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Move in every change of more than 3 rows, 4 rows per transaction: small files then
    take the path of large ones."""
    monkeypatch.setattr(lane, "APPLY_ROWS", 3)
    monkeypatch.setattr(lane, "CHUNK_ROWS", 4)


@pytest.fixture
def month(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Month")
    items.write_items(db, admin, created.id, [{"Code": f"M{m:02d}"} for m in range(1, 13)])
    return created


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    items.write_items(db, admin, created.id, [{"Code": c} for c in ("FR", "DE")])
    return created


@pytest.fixture
def revenue(
    db: Database, admin: Actor, app: ApplicationView, country: BlockDef, month: BlockDef
) -> BlockDef:
    return blocks.create_metric(
        db, admin, app.id, "Revenue", ValueType.NUMBER, [country.id, month.id]
    )


def revenue_mapping(country: BlockDef, month: BlockDef, **options: object) -> Mapping:
    return mapping(
        field(country.id, "Country", unknown=UnknownItems.CREATE),
        field(month.id, "Month"),
        field(VALUE, "Revenue"),
        **options,
    )


def import_rows(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    chosen: Mapping,
    path: Path,
    rows: list[list[str]],
    on_progress: object = None,
) -> runs.RunView:
    write_csv(path, ["Country", "Month", "Revenue"], rows)
    run_id = runs.start_import(db, admin, revenue.id, path, FileSettings(), chosen)
    assert runs.claim_run(db, run_id, "worker")
    settings = Settings(data_dir=path.parent, database_url=db.url)
    return runs.execute_run(db, run_id, "worker", on_progress, settings=settings)  # type: ignore[arg-type]


def cells(db: Database, admin: Actor, block: BlockDef) -> dict[tuple[str, str], str]:
    return {(row["Country"], row["Month"]): row["Revenue"] for row in grid(db, admin, block.id)}


def leftovers(db: Database, block: BlockDef) -> set[str]:
    return {n for n in table_names(db) if n.startswith(block.table_name) and n != block.table_name}


def test_a_large_change_to_a_filled_block_is_moved_in_and_swapped_whole(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
    small_chunks: None,
) -> None:
    chosen = revenue_mapping(country, month)
    first = [[c, f"M{m:02d}", "1"] for c in ("FR", "DE") for m in range(1, 13)]
    assert import_rows(db, admin, revenue, chosen, tmp_path / "a.csv", first).inserted == 24
    cleared = revenue_mapping(country, month, clear=ClearMode.ALL)
    second = [[c, f"M{m:02d}", f"{m}.5"] for c in ("FR", "IT") for m in range(1, 7)]
    done = import_rows(db, admin, revenue, cleared, tmp_path / "b.csv", second)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert cells(db, admin, revenue) == {
        (c, f"M{m:02d}"): f"{m}.5" for c in ("FR", "IT") for m in range(1, 7)
    }
    assert "IT" in {row["Code"] for row in grid(db, admin, country.id)}
    assert leftovers(db, revenue) == set()
    # The swapped-in table still refuses a repeated cell (its key came along).
    with db.write() as session:
        key = session.execute(text(f"SELECT d1, d2 FROM {revenue.table_name} LIMIT 1")).one()
    repeat = text(f"INSERT INTO {revenue.table_name} VALUES (:a, :b, 1)")
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(repeat, {"a": key[0], "b": key[1]})


def test_items_added_to_a_list_during_an_import_are_kept_and_the_import_lands(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    added: list[str] = []

    def add_an_item_by_hand_once(_rows: int) -> None:
        if not added:
            items.write_items(db, admin, country.id, [{"Code": "ES"}])
            added.append("ES")

    chosen = revenue_mapping(country, month)
    rows = [["FR", "M01", "1"], ["PT", "M02", "2"]]
    done = import_rows(
        db, admin, revenue, chosen, tmp_path / "a.csv", rows, add_an_item_by_hand_once
    )
    assert done.status is RunStatus.COMPLETED, done.errors
    assert {row["Code"] for row in grid(db, admin, country.id)} == {"FR", "DE", "ES", "PT"}
    assert cells(db, admin, revenue) == {("FR", "M01"): "1", ("PT", "M02"): "2"}


def test_a_run_cancelled_while_it_prepares_leaves_the_block_and_no_table_behind(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
    small_chunks: None,
) -> None:
    chosen = revenue_mapping(country, month)
    first = [["FR", "M01", "1"]]
    assert import_rows(db, admin, revenue, chosen, tmp_path / "a.csv", first).inserted == 1

    def cancel(_rows: int) -> None:
        (running,) = [
            r for r in runs.list_runs(db, admin, revenue.id) if r.status.value == "running"
        ]
        runs.cancel_run(db, admin, running.id)

    many = [[c, f"M{m:02d}", "9"] for c in ("FR", "DE", "IT") for m in range(1, 13)]
    done = import_rows(db, admin, revenue, chosen, tmp_path / "b.csv", many, cancel)
    assert done.status is RunStatus.CANCELLED
    assert cells(db, admin, revenue) == {("FR", "M01"): "1"}
    assert "IT" not in {row["Code"] for row in grid(db, admin, country.id)}
    assert leftovers(db, revenue) == set()


def test_a_hand_edit_of_a_block_being_imported_is_refused_and_other_blocks_stay_editable(
    db: Database,
    admin: Actor,
    revenue: BlockDef,
    country: BlockDef,
    month: BlockDef,
    tmp_path: Path,
) -> None:
    refused: list[str] = []

    def edit_by_hand(_rows: int) -> None:
        if refused:
            return
        with pytest.raises(Conflict) as error:
            items.set_cells(
                db, admin, revenue.id, [{"Country": "FR", "Month": "M01", "Value": "7"}]
            )
        refused.append(error.value.message)
        items.write_items(db, admin, month.id, [{"Code": "M01", "Name": "January"}])

    chosen = revenue_mapping(country, month)
    done = import_rows(
        db, admin, revenue, chosen, tmp_path / "a.csv", [["FR", "M01", "1"]], edit_by_hand
    )
    assert done.status is RunStatus.COMPLETED, done.errors
    assert refused
    assert "An import into 'Revenue' is running" in refused[0]
    assert cells(db, admin, revenue) == {("FR", "M01"): "1"}
    names = {row["Code"]: row["Name"] for row in grid(db, admin, month.id)}
    assert names["M01"] == "January"  # the list the import read was edited, and kept
    items.set_cells(db, admin, revenue.id, [{"Country": "FR", "Month": "M01", "Value": "7"}])
    assert cells(db, admin, revenue) == {("FR", "M01"): "7"}


def test_the_keys_of_changed_rows_are_typed_like_the_blocks_key(
    db: Database, revenue: BlockDef, tmp_path: Path
) -> None:
    """The change log's key has the block key's types: an untyped column has no affinity, and
    SQLite then cannot use its index to compare it with a typed key, so every row an import
    writes scanned the whole log (a 100,000-row import ran for minutes)."""
    table = block_tables.build_table(revenue)
    main_path = db.url.removeprefix("sqlite:///")
    engine = scratch.scratch_engine(tmp_path / "scratch.db", main_path)
    with engine.begin() as connection:
        scratch.copy_in(connection, table, track=True)
        changed = connection.execute(
            text(f"PRAGMA main.table_info({scratch.quote('planport_changed_' + table.name)})")
        ).all()
        block = connection.execute(text(f"PRAGMA main.table_info({table.name})")).all()
    key_types = {row.name: row.type for row in block if row.pk}
    assert key_types
    assert {row.name: row.type for row in changed} == key_types
    engine.dispose()
