"""A fast multi-row upsert through PostgreSQL's COPY.

Django's bulk_create sends rows as query parameters, and psycopg quotes large JSON
arrays of them slowly. COPY streams the rows into a temporary table instead, and one
INSERT … SELECT … ON CONFLICT moves them into place: a single set-based statement.
The caller gives the values already in COPY's text format, a column at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection, models
from psycopg.copy import QueuedLibpqWriter

NULL = b"\\N"
# Rows built and sent to COPY at a time, so a large workspace is never held as one buffer.
ROWS_PER_CHUNK = 5_000


def copy_numbers(values: npt.NDArray[np.float64]) -> list[bytes]:
    """Format floats for COPY text: NaN becomes NULL, the rest Python's repr.

    repr gives the shortest text that reads back as the same float, so a numeric column
    receives the same decimal that Decimal(str(value)) would give.
    """
    return [NULL if value != value else repr(value).encode() for value in values.tolist()]


def copy_json(documents: Iterable[bytes]) -> list[bytes]:
    """Escape JSON documents for COPY text, where a backslash starts an escape.

    JSON text has no raw tab or newline (they are escaped inside strings), so the
    backslash is the only character to double.
    """
    return [
        document.replace(b"\\", b"\\\\") if b"\\" in document else document
        for document in documents
    ]


def copy_text(
    size: int,
    columns: Callable[[int, int], Sequence[bytes | Sequence[bytes]]],
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> Iterator[bytes]:
    """Yield COPY text data for `size` rows, a chunk of rows at a time.

    `columns(start, stop)` returns the values of rows start to stop, one entry per
    column: a list of values in COPY text format (`copy_numbers`, `copy_json`, NULL), or
    one bytes value for every row. Building the values chunk by chunk lets the server
    parse one chunk while Python builds the next.
    """
    for start in range(0, size, rows_per_chunk):
        stop = min(start + rows_per_chunk, size)
        iterables = [
            repeat(column, stop - start) if isinstance(column, bytes) else column
            for column in columns(start, stop)
        ]
        yield b"".join(b"\t".join(row) + b"\n" for row in zip(*iterables, strict=True))


def _copy(cursor: Any, table: str, columns: Sequence[str], data: Iterable[bytes]) -> None:
    # The queued writer sends each chunk from a thread of its own, so building the next
    # chunk in this thread overlaps with the server parsing the previous one.
    psycopg_cursor = cursor.cursor
    with psycopg_cursor.copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN",
        writer=QueuedLibpqWriter(psycopg_cursor),
    ) as copy:
        for chunk in data:
            copy.write(chunk)


def copy_insert(model: type[models.Model], columns: Sequence[str], data: Iterable[bytes]) -> None:
    """COPY rows straight into the model's table, for when none of them can conflict.

    This skips the staging table and the upsert, about a third of the server's work for
    large rows. A row that does conflict makes COPY raise IntegrityError.
    """
    with connection.cursor() as cursor:
        _copy(cursor, model._meta.db_table, columns, data)


def copy_upsert(
    model: type[models.Model],
    columns: Sequence[str],
    data: Iterable[bytes],
    conflict: Sequence[str],
    update: Sequence[str],
    not_compared: Sequence[str] = (),
) -> int:
    """Insert rows into the model's table, updating `update` columns on conflict.

    `data` is the rows in COPY text format, such as `copy_text` yields. An existing row
    is rewritten only when an `update` column other than those in `not_compared`
    differs, so a rerun with the same results writes nothing. Returns the number of rows
    inserted or rewritten.

    Must run inside a transaction: the temporary table is dropped at commit.
    """
    table = model._meta.db_table
    staging = f"staging_{table}"
    column_list = ", ".join(columns)
    assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in update)
    compared = [name for name in update if name not in not_compared]
    changed = (
        f"WHERE ({', '.join(f'target.{name}' for name in compared)}) IS DISTINCT FROM "
        f"({', '.join(f'EXCLUDED.{name}' for name in compared)})"
        if compared
        else ""
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        _copy(cursor, staging, columns, data)
        cursor.execute(
            f"INSERT INTO {table} AS target ({column_list}) "  # noqa: S608
            f"SELECT {column_list} FROM {staging} "
            f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {assignments} {changed}"
        )
        written = cursor.rowcount
        cursor.execute(f"DROP TABLE {staging}")
    return written
