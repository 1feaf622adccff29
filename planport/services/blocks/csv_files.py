"""CSV files Planport writes for people: streamed from a query, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Select

from planport.store.db import Database

STREAM_ROWS = 2000
# A cell starting with one of these is a formula to a spreadsheet; such text gets a leading
# apostrophe so it is shown, never executed (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """`text` as a spreadsheet shows it literally."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def stream_csv(
    db: Database,
    header: list[str],
    statement: Select[*tuple[Any, ...]],
    to_cells: Callable[[Sequence[Any]], list[str]],
    *,
    delimiter: str = ",",
    bom: bool = False,
) -> Iterator[str]:
    """CSV text chunks of `statement`'s rows, read from the database STREAM_ROWS at a time, so
    memory stays flat whatever the number of rows. `bom`: the text starts with U+FEFF (the
    UTF-8 byte order mark once encoded)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    if bom:
        buffer.write("\ufeff")
    writer.writerow(header)
    with db.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(
            statement
        )
        for chunk in result.partitions():
            writer.writerows(to_cells(row) for row in chunk)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
