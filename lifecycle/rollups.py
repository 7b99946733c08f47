"""Daily activity rollups, maintained by one set-based upsert per processing chunk."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from accounts.models import Breeder, Workspace
from lifecycle.models import DailyActivity, Event, EventType
from lifecycle.models.tracking import feature_map

_ROLLUPS = DailyActivity._meta.db_table

# The local day is computed by PostgreSQL from the breeder's IANA time zone (else the
# workspace's), so a day boundary follows daylight-saving changes. The GROUP BY makes
# each conflict key appear once, as ON CONFLICT DO UPDATE requires.
ADD_TO_ROLLUPS_SQL = f"""
    INSERT INTO {_ROLLUPS} AS rollup (
        workspace_id, breeder_id, feature, day, event_count, first_event_at, last_event_at
    )
    SELECT
        event.workspace_id,
        event.breeder_id,
        plan.feature,
        (
            event.timestamp
            AT TIME ZONE COALESCE(NULLIF(breeder.time_zone, ''), workspace.time_zone)
        )::date AS local_day,
        count(*),
        min(event.timestamp),
        max(event.timestamp)
    FROM {Event._meta.db_table} AS event
    JOIN {Breeder._meta.db_table} AS breeder ON breeder.id = event.breeder_id
    JOIN {Workspace._meta.db_table} AS workspace ON workspace.id = event.workspace_id
    JOIN unnest(%(event_names)s::text[], %(features)s::text[]) AS plan (event_name, feature)
        ON plan.event_name = event.event_name
    WHERE event.workspace_id = %(workspace_id)s
        AND breeder.workspace_id = %(workspace_id)s
        AND event.id = ANY(%(event_ids)s::bigint[])
        AND event.type = %(track)s
    GROUP BY event.workspace_id, event.breeder_id, plan.feature, local_day
    ON CONFLICT (workspace_id, breeder_id, feature, day) DO UPDATE SET
        event_count = rollup.event_count + EXCLUDED.event_count,
        first_event_at = LEAST(rollup.first_event_at, EXCLUDED.first_event_at),
        last_event_at = GREATEST(rollup.last_event_at, EXCLUDED.last_event_at)
"""  # noqa: S608 (only table names are formatted in; values are bound)


def add_to_rollups(workspace_id: int, event_ids: Sequence[int]) -> int:
    """Count these events into the daily rollups; return how many rollup rows changed.

    The caller guarantees that each id is passed exactly once over the event's life:
    ids come from the UPDATE that gave the event its breeder, in the same transaction.
    Track events whose name the tracking plan does not map are skipped.
    """
    if not event_ids:
        return 0
    plan = feature_map(workspace_id)
    with connection.cursor() as cursor:
        cursor.execute(
            ADD_TO_ROLLUPS_SQL,
            {
                "workspace_id": workspace_id,
                "event_ids": list(event_ids),
                "event_names": list(plan),
                "features": list(plan.values()),
                "track": EventType.TRACK.value,
            },
        )
        return cursor.rowcount
