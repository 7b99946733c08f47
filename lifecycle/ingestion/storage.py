"""The durable write of a request's events: one INSERT … ON CONFLICT DO NOTHING."""

from __future__ import annotations

from datetime import datetime

import psycopg
from django.db import connection

from lifecycle.ingestion.messages import EventRow
from lifecycle.models import Event

# One row per element of the parallel arrays. unnest() keeps the statement's text the
# same whatever the batch size, so it is prepared once per connection. Parameters go
# in binary format (%b): text arrays in text format need every element quoted and
# escaped, which made sending a batch's JSON payloads several times slower than
# inserting them.
INSERT_EVENTS_SQL = f"""
    INSERT INTO {Event._meta.db_table} (
        workspace_id, received_at, message_id, type, event_name, user_id, anonymous_id,
        group_id, timestamp, original_timestamp, sent_at, payload
    )
    SELECT
        %b, %b, message_id, type, event_name, user_id, anonymous_id,
        group_id, timestamp, original_timestamp, sent_at, payload
    FROM unnest(
        %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
        %b::timestamptz[], %b::timestamptz[], %b::timestamptz[], %b::text[]::jsonb[]
    ) WITH ORDINALITY AS batch (
        message_id, type, event_name, user_id, anonymous_id, group_id,
        timestamp, original_timestamp, sent_at, payload, position
    )
    ORDER BY position
    ON CONFLICT (workspace_id, message_id) DO NOTHING
"""  # noqa: S608 (only table names are formatted in; values are bound)


def insert_events(workspace_id: int, rows: list[EventRow], received_at: datetime) -> int:
    """Insert the rows, skipping messageIds the workspace already has, and count them.

    Must run inside a transaction. Rows are sorted by messageId first: two requests
    that carry overlapping messageIds (a retry racing the original) then take their
    unique-index locks in the same order, so one waits for the other instead of both
    deadlocking. The loser's conflicting rows are skipped once the winner commits.
    """
    if not rows:
        return 0
    rows = sorted(rows, key=lambda row: row.message_id)
    params = [
        workspace_id,
        received_at,
        [row.message_id for row in rows],
        [row.type for row in rows],
        [row.event_name for row in rows],
        [row.user_id for row in rows],
        [row.anonymous_id for row in rows],
        [row.group_id for row in rows],
        [row.timestamp for row in rows],
        [row.original_timestamp for row in rows],
        [row.sent_at for row in rows],
        [row.payload for row in rows],
    ]
    if not connection.in_atomic_block:
        raise RuntimeError("insert_events must run inside transaction.atomic().")
    connection.ensure_connection()
    # Django's psycopg cursors bind parameters on the client, which would quote every
    # array element into the SQL text. A plain psycopg cursor on the same connection
    # (and so the same transaction) sends them as bound parameters instead. Its errors
    # are turned into Django's database exceptions, as a Django cursor's would be.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(INSERT_EVENTS_SQL, params, prepare=True)
        return cursor.rowcount
