"""The binary COPY encoder: which columns qualify, and the exact bytes PostgreSQL reads."""

from __future__ import annotations

import struct
from datetime import date

import pyarrow as pa
import pytest
from sqlalchemy import BigInteger, Boolean, Date, Float, Integer, Text

from planport.engine import binary_copy


def test_fixed_width_types_have_a_layout_and_others_do_not() -> None:
    assert binary_copy.layout([BigInteger(), Float(precision=53), Boolean(), Date()]) is not None
    assert binary_copy.layout([BigInteger(), Text()]) is None
    assert binary_copy.layout([Float(precision=24)]) is None  # real, not double precision
    assert binary_copy.layout([Integer()]) is None  # 4 bytes: the engine's ids are 8


def test_a_batch_with_a_null_or_another_arrow_type_does_not_fit() -> None:
    fields = binary_copy.layout([BigInteger(), Float(precision=53)])
    assert fields is not None
    assert binary_copy.fits(pa.table({"a": pa.array([1], pa.int64()), "v": [1.5]}), fields)
    assert not binary_copy.fits(pa.table({"a": pa.array([1], pa.int64()), "v": [None]}), fields)
    assert not binary_copy.fits(pa.table({"a": pa.array([1], pa.int32()), "v": [1.5]}), fields)
    with pytest.raises(ValueError, match="1 columns for 2 fields"):
        binary_copy.fits(pa.table({"a": pa.array([1], pa.int64())}), fields)


def test_rows_are_encoded_in_network_byte_order_with_lengths() -> None:
    fields = binary_copy.layout([BigInteger(), Float(precision=53), Boolean(), Date()])
    assert fields is not None
    batch = pa.table(
        {
            "id": pa.array([-1, 2**62], pa.int64()),
            "value": [1.5, -0.0],
            "flag": [True, False],
            "day": pa.array([date(2000, 1, 2), date(1969, 12, 31)], pa.date32()),
        }
    )
    expected = b"".join(
        struct.pack(">hiqidibii", 4, 8, q, 8, d, 1, f, 4, day)
        for q, d, f, day in ((-1, 1.5, 1, 1), (2**62, -0.0, 0, -10958))
    )
    assert binary_copy.encode_rows(batch, fields) == expected
