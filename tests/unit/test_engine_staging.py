"""Following the order of staged keys: when it holds, no key can repeat."""

from __future__ import annotations

import pyarrow as pa
import pytest

from planport.engine.staging import KeyOrder, keys_increase


def keys(*columns: list[object]) -> pa.Table:
    return pa.table({f"k{i}": column for i, column in enumerate(columns)})


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (keys([1, 2, 3]), True),
        (keys([1, 1, 2]), False),
        (keys([2, 1]), False),
        (keys([1, 1, 2], [5, 6, 1]), True),
        (keys([1, 1, 2], [6, 6, 1]), False),
        (keys([1, 1, 1], [1, 2, 2], [1, 1, 2]), True),
        (keys([1, 1, 1], [1, 2, 2], [1, 2, 2]), False),
        (keys(["FR", "IT", "US"]), True),
        (keys(["FR", "DE"]), False),
        (keys([1, None, 3]), False),
        (keys([1]), True),
        (keys(pa.array([], pa.int64())), True),
    ],
)
def test_keys_increase_only_when_each_row_is_greater_than_the_one_before(
    table: pa.Table, expected: bool
) -> None:
    assert keys_increase(table) is expected


def test_a_single_null_key_does_not_count_as_increasing() -> None:
    assert keys_increase(keys(pa.array([None], pa.int64()))) is False


def test_a_key_repeated_across_two_batches_is_noticed_at_their_border() -> None:
    order = KeyOrder(["k0"])
    order.follow(keys([1, 2, 3]))
    assert order.increasing
    order.follow(keys([3, 4]))
    assert not order.increasing


def test_keys_that_keep_increasing_across_batches_stay_increasing() -> None:
    order = KeyOrder(["k0", "k1"])
    order.follow(keys([1, 1], [1, 2]))
    order.follow(keys(pa.array([], pa.int64()), pa.array([], pa.int64())))
    order.follow(keys([1, 2], [3, 0]))
    assert order.increasing


def test_staging_without_a_key_never_claims_increasing_keys() -> None:
    order = KeyOrder([])
    order.follow(keys([1, 2]))
    assert not order.increasing
