"""Metric values land exactly, whichever way the engine loads them.

On PostgreSQL an empty metric is loaded by COPY in binary (fixed-width values without blanks)
and a re-import stages its rows the same way; a blank value sends its batch as CSV. Each path
must store the very values the file says, for every fixed-width value type.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from planport.domain.blocks import BlockDef
from planport.domain.enums import BlockKind, ValueType
from planport.domain.imports import RunStatus
from planport.domain.mapping import VALUE
from planport.domain.members import Actor
from planport.services import blocks
from planport.services.blocks import items
from planport.services.blocks.applications import ApplicationView
from planport.store import block_tables
from planport.store.db import Database
from tests.integration.import_builders import (
    field,
    group,
    mapping,
    run,
    sample_lines,
    write_csv,
)

CASES: list[tuple[ValueType, list[str], list[Any]]] = [
    (
        ValueType.NUMBER,
        ["0.30000000000000004", "-1e-300", "123456789012.5", "-0"],
        [0.30000000000000004, -1e-300, 123456789012.5, 0.0],
    ),
    (ValueType.INTEGER, ["9007199254740993", "-42", "0", "7"], [9007199254740993, -42, 0, 7]),
    (ValueType.BOOLEAN, ["true", "false", "yes", "0"], [True, False, True, False]),
    (
        ValueType.DATE,
        ["2000-01-01", "1969-12-31", "1900-02-28", "2099-12-31"],
        [date(2000, 1, 1), date(1969, 12, 31), date(1900, 2, 28), date(2099, 12, 31)],
    ),
]


@pytest.fixture
def product(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Product")
    items.write_items(db, admin, created.id, [{"Code": f"P{n}"} for n in range(12)])
    return blocks.get_block(db, admin, created.id)


def _stored_by_code(db: Database, metric: BlockDef, product: BlockDef) -> dict[str, Any]:
    table = block_tables.build_table(metric)
    codes = block_tables.item_codes_table(product.table_name, "p")
    dimension = table.c[metric.dimensions[0].column_name]
    with db.read() as session:
        statement = select(codes.c.code, table.c.value).join(codes, codes.c.id == dimension)
        return {str(code): value for code, value in session.execute(statement).all()}


def _stored(db: Database, metric: BlockDef) -> list[Any]:
    table = block_tables.build_table(metric)
    dimension = table.c[metric.dimensions[0].column_name]
    with db.read() as session:
        return list(session.scalars(select(table.c.value).order_by(dimension)))


def _load(
    db: Database, admin: Actor, metric: BlockDef, product: BlockDef, path: Path, texts: list[str]
) -> Any:
    write_csv(path, ["Product", "Value"], [[f"P{n}", t] for n, t in enumerate(texts)])
    chosen = mapping(field(product.id, "Product"), field(VALUE, "Value"))
    return run(db, admin, metric.id, path, chosen)


@pytest.mark.parametrize(("kind", "texts", "values"), CASES, ids=[c[0].value for c in CASES])
def test_values_of_each_type_land_exactly_in_an_empty_metric_and_on_reimport(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    product: BlockDef,
    tmp_path: Path,
    kind: ValueType,
    texts: list[str],
    values: list[Any],
) -> None:
    metric = blocks.create_metric(db, admin, app.id, "Measure", kind, [product.id])
    first = _load(db, admin, metric, product, tmp_path / "first.csv", texts)
    assert first.status is RunStatus.COMPLETED, first.errors
    assert _stored(db, metric) == values
    # The same values again, reversed across the items: every cell changes (update path).
    again = _load(db, admin, metric, product, tmp_path / "again.csv", texts[::-1])
    assert again.status is RunStatus.COMPLETED, again.errors
    assert (again.inserted, again.updated) == (0, 4)
    assert _stored(db, metric) == values[::-1]


def test_a_blank_value_in_the_file_clears_its_cell_and_the_others_land(
    db: Database, admin: Actor, app: ApplicationView, product: BlockDef, tmp_path: Path
) -> None:
    metric = blocks.create_metric(db, admin, app.id, "Measure", ValueType.NUMBER, [product.id])
    _load(db, admin, metric, product, tmp_path / "first.csv", ["1", "2", "3", "4"])
    done = _load(db, admin, metric, product, tmp_path / "blank.csv", ["1.25", "", "3", "4"])
    assert done.status is RunStatus.COMPLETED, done.errors
    assert done.deleted == 1
    table = block_tables.build_table(metric)
    with db.read() as session:
        rows = session.execute(select(table.c[metric.dimensions[0].column_name], table.c.value))
        assert sorted(value for _, value in rows) == [1.25, 3.0, 4.0]


# A re-import leaves out the rows that change nothing when the file comes in key order
# (PostgreSQL): the cells, the counts and the reported rows must be those of a full merge.


@pytest.fixture
def loaded(
    db: Database, admin: Actor, app: ApplicationView, product: BlockDef, tmp_path: Path
) -> BlockDef:
    metric = blocks.create_metric(db, admin, app.id, "Measure", ValueType.NUMBER, [product.id])
    first = _load(db, admin, metric, product, tmp_path / "first.csv", [str(n) for n in range(10)])
    assert first.inserted == 10
    return metric


def _write_rows(path: Path, rows: list[tuple[str, str]]) -> Path:
    return write_csv(path, ["Product", "Value"], [list(r) for r in rows])


def test_a_reimport_in_key_order_adds_and_changes_cells_and_counts_every_cell(
    db: Database, admin: Actor, loaded: BlockDef, product: BlockDef, tmp_path: Path
) -> None:
    rows = [(f"P{n}", str(n * 10 if n in (2, 5, 7) else n)) for n in range(12)]
    path = _write_rows(tmp_path / "again.csv", rows)
    chosen = mapping(field(product.id, "Product"), field(VALUE, "Value"))
    done = run(db, admin, loaded.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.inserted, done.updated, done.deleted) == (2, 10, 0)
    assert _stored_by_code(db, loaded, product) == {code: float(v) for code, v in rows}


def test_a_reimport_out_of_key_order_lands_the_same(
    db: Database, admin: Actor, loaded: BlockDef, product: BlockDef, tmp_path: Path
) -> None:
    rows = [(f"P{n}", str(n + 100 if n % 2 else n)) for n in reversed(range(12))]
    path = _write_rows(tmp_path / "again.csv", rows)
    chosen = mapping(field(product.id, "Product"), field(VALUE, "Value"))
    done = run(db, admin, loaded.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert (done.inserted, done.updated) == (2, 10)
    assert _stored_by_code(db, loaded, product) == {code: float(v) for code, v in rows}


def test_a_reimport_repeating_a_cell_later_keeps_its_last_row_even_when_unchanged(
    db: Database, admin: Actor, loaded: BlockDef, product: BlockDef, tmp_path: Path
) -> None:
    # In key order up to P9, then P3 again with its stored value: the last row wins, so P3
    # keeps 3 although an earlier row of the file changed it.
    rows = [(f"P{n}", "33" if n == 3 else str(n)) for n in range(10)] + [("P3", "3")]
    path = _write_rows(tmp_path / "again.csv", rows)
    chosen = mapping(field(product.id, "Product"), field(VALUE, "Value"))
    done = run(db, admin, loaded.id, path, chosen)
    assert done.status is RunStatus.COMPLETED, done.errors
    assert _stored_by_code(db, loaded, product)["P3"] == 3.0
    assert done.updated == 10
    assert sample_lines(group(done, "OverwrittenByLaterRow")) == [5]
