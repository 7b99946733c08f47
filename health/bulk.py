"""A fast multi-row upsert through PostgreSQL's COPY.

Django's bulk_create sends rows as query parameters, and psycopg quotes large JSON
arrays of them slowly. COPY streams the rows into a temporary table instead, and one
INSERT … SELECT … ON CONFLICT moves them into place: a single set-based statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from django.db import connection, models


def dumps(value: Any) -> bytes:
    """Serialise JSON for psycopg with orjson, several times faster than json.dumps."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def copy_upsert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert rows into the model's table, updating `update` columns on conflict.

    Must run inside a transaction: the temporary table is dropped at commit.
    JSON values must be wrapped in psycopg's `Jsonb`.
    """
    table = model._meta.db_table
    staging = f"staging_{table}"
    column_list = ", ".join(columns)
    assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in update)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {staging} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} "  # noqa: S608
            f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {assignments}"
        )
        cursor.execute(f"DROP TABLE {staging}")
