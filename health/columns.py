"""Read a query's result as numpy arrays, one per column, in one round trip.

Fetching 100,000 rows as tuples makes a Python object per value and then a numpy array
per column. Here the server gathers each column with array_agg and sends it in
PostgreSQL's binary array format, which numpy reads directly: a 20-byte header for a
one-dimensional array, then per element a 4-byte length and the big-endian value.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from django.db import connection
from psycopg.adapt import Loader
from psycopg.pq import Format

# Array type OIDs read as raw bytes, and the numpy type of their elements by element OID.
RAW_ARRAY_TYPES = {"int8[]": 1016, "int4[]": 1007, "float8[]": 1022, "bool[]": 1000}
ELEMENT_TYPES = {20: np.dtype(">i8"), 23: np.dtype(">i4"), 701: np.dtype(">f8"), 16: np.dtype("?")}
# Number of dimensions, whether any element is NULL, element type OID; then, per
# dimension, its size and lower bound.
HEADER = struct.Struct(">iii")
DIMENSION = struct.Struct(">ii")


class _RawArrayLoader(Loader):
    format = Format.BINARY

    def load(self, data: Any) -> bytes:
        return bytes(data)


def decode_array(raw: bytes, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """Decode a one-dimensional array in PostgreSQL's binary format into `dtype`.

    Raises ValueError for an array with NULL elements (their length field is -1 and
    they have no value bytes), so queries must replace NULL, for example with NaN.
    """
    dimensions, has_null, element_oid = HEADER.unpack_from(raw)
    if has_null:
        raise ValueError(
            "Column array has NULL elements. Replace them in the query with coalesce()."
        )
    if dimensions == 0:
        return np.empty(0, dtype=dtype)
    if dimensions != 1:
        raise ValueError(f"Expected a one-dimensional array, got {dimensions} dimensions.")
    size = DIMENSION.unpack_from(raw, HEADER.size)[0]
    records = np.frombuffer(
        raw,
        dtype=np.dtype([("length", ">i4"), ("value", ELEMENT_TYPES[element_oid])]),
        count=size,
        offset=HEADER.size + DIMENSION.size,
    )
    return records["value"].astype(dtype)


def fetch_columns(
    sql: str, params: dict[str, Any], dtypes: Sequence[np.dtype[Any] | type | None]
) -> list[Any]:
    """Run `sql` and return its columns in the same (unspecified) row order.

    `dtypes` has one entry per column: a numpy type for a bigint, integer, double
    precision or boolean column (which must not contain NULL), or None to get the
    column as a list of Python values. The query runs on Django's connection, so inside
    the current transaction, with server-side parameters in psycopg's %(name)s style.
    """
    names = [f"c{i}" for i in range(len(dtypes))]
    wrapped = (
        f"SELECT {', '.join(f'array_agg({name})' for name in names)} "  # noqa: S608
        f"FROM ({sql}) AS q({', '.join(names)})"
    )
    connection.ensure_connection()
    raw_connection = connection.connection
    assert isinstance(raw_connection, psycopg.Connection)
    with psycopg.Cursor(raw_connection) as cursor:
        for oid in RAW_ARRAY_TYPES.values():
            cursor.adapters.register_loader(oid, _RawArrayLoader)
        cursor.execute(wrapped, params, binary=True)
        row = cursor.fetchone()
    assert row is not None
    columns: list[Any] = []
    for value, dtype in zip(row, dtypes, strict=True):
        if dtype is None:
            columns.append(value or [])
        elif value is None:
            columns.append(np.empty(0, dtype=dtype))
        elif isinstance(value, bytes):
            columns.append(decode_array(value, np.dtype(dtype)))
        else:
            raise TypeError(
                f"Column {len(columns)} is not bigint, integer, double precision or boolean; "
                "cast it in the query or ask for it as a list (dtype None)."
            )
    return columns
