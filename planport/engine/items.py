"""Resolving dimension cells to items, on whole Arrow arrays.

An `ItemIndex` holds one Dimension List's codes (or names) and item ids as Arrow arrays and
resolves a column of text with one `index_in` call. New items (the "create" option) are
inserted set-based and added to the index, so later batches find them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from planport.domain.blocks import BlockDef
from planport.domain.mapping import MatchBy
from planport.domain.names import MAX_CODE_LENGTH
from planport.store import block_tables

CHUNK = 1000


class ItemIndex:
    """One Dimension List's keys and item ids. `before_write` is called before new items are
    inserted: the pipeline's COPY may be using the shared connection on another thread."""

    def __init__(
        self,
        connection: Connection,
        dimension_list: BlockDef,
        match_by: MatchBy,
        before_write: Callable[[], None] = lambda: None,
    ) -> None:
        self.list = dimension_list
        self.match_by = match_by
        self._connection = connection
        self._before_write = before_write
        self._table = block_tables.build_table(dimension_list)
        key = self._table.c.code if match_by is MatchBy.CODE else self._table.c.name
        rows = connection.execute(
            select(key, self._table.c.id).where(key.is_not(None)).order_by(self._table.c.id)
        ).all()
        keys, ids = _first_per_key(rows)
        self._keys = pa.array(keys, pa.string())
        self._ids = pa.array(ids, pa.int64())
        self.created: list[str] = []

    def resolve(self, texts: pa.Array) -> pa.Array:
        """Item ids for the (trimmed) texts; null where blank or unknown."""
        positions = pc.index_in(texts, value_set=self._keys)
        return pc.take(self._ids, positions)

    def create(self, texts: list[str]) -> None:
        """Add items for `texts` (distinct, non-blank, unknown) to the list and to the index."""
        if not texts:
            return
        self._before_write()
        texts = self._without_taken_codes(texts)
        if not texts:
            return
        rows = [{"code": t, "name": t if self.match_by is MatchBy.NAME else None} for t in texts]
        self._connection.execute(self._table.insert(), rows)
        new_ids: dict[str, int] = {}
        key = self._table.c.code
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            new_ids |= dict(
                self._connection.execute(select(key, self._table.c.id).where(key.in_(chunk))).all()
            )
        self._keys = pa.concat_arrays([self._keys, pa.array(texts, pa.string())])
        self._ids = pa.concat_arrays([self._ids, pa.array([new_ids[t] for t in texts], pa.int64())])
        self.created += texts

    def _without_taken_codes(self, texts: list[str]) -> list[str]:
        """Matching by name, a name may equal another item's code: such an item cannot be
        created (codes are unique), so the text stays unknown and its rows are reported."""
        if self.match_by is MatchBy.CODE or not texts:
            return texts
        key = self._table.c.code
        taken: set[str] = set()
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            taken |= set(self._connection.scalars(select(key).where(key.in_(chunk))))
        return [t for t in texts if t not in taken]


def valid_code_mask(texts: pa.Array) -> pa.BooleanArray:
    """Codes a new item may have: at most MAX_CODE_LENGTH characters, no control characters."""
    short = pc.less_equal(pc.utf8_length(texts), MAX_CODE_LENGTH)
    clean = pc.invert(pc.match_substring_regex(texts, r"[\x00-\x1f\x7f-\x9f]"))
    return pc.fill_null(pc.and_(short, clean), False)


def _first_per_key(rows: Any) -> tuple[list[str], list[int]]:
    """Keys and ids, keeping the first (lowest) id of a repeated key (names may repeat)."""
    keys: list[str] = []
    ids: list[int] = []
    seen: set[str] = set()
    for key, item_id in rows:
        if key not in seen:
            seen.add(key)
            keys.append(key)
            ids.append(item_id)
    return keys, ids
