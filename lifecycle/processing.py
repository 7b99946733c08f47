"""Fold stored events into breeders and daily rollups, one workspace at a time.

Processing runs in Celery tasks after the ingestion request has committed (see
lifecycle.tasks), never in the request itself, so a request costs one INSERT however
much work its events cause.

1. Only one process works on a workspace at a time: each chunk runs in a transaction
   that holds a PostgreSQL advisory lock for the workspace. A second task that finds
   the lock taken returns at once, because the holder re-checks for pending events
   after releasing it.
2. A chunk takes the oldest pending events, applies identify calls (creating
   breeders and linking anonymousIds), attaches earlier events that were waiting for
   those breeders, resolves every event's breeder and marks it processed.
3. Events that got their breeder in this transaction are counted into the rollups
   and group calls among them are applied. An event gets its breeder once (the
   UPDATEs only touch rows whose breeder is still empty), so it is counted once even
   when processing runs twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from accounts.scope import WorkspaceScopeError, active_workspace_id
from lifecycle.identity import (
    PendingEvent,
    apply_groups,
    apply_identifies,
    attach_waiting_events,
    find_breeders,
)
from lifecycle.journey import record_achievements
from lifecycle.models import Event, EventType
from lifecycle.rollups import add_to_rollups

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
# A task stops taking new chunks after this long and queues a follow-up task, so one
# busy workspace does not keep a worker indefinitely.
MAX_RUN_SECONDS = 30.0

MARK_PROCESSED_SQL = f"""
    UPDATE {Event._meta.db_table} AS event
    SET processed_at = %(now)s, breeder_id = resolved.breeder_id
    FROM unnest(%(event_ids)s::bigint[], %(breeder_ids)s::bigint[]) AS resolved (id, breeder_id)
    WHERE event.workspace_id = %(workspace_id)s
        AND event.id = resolved.id
        AND event.processed_at IS NULL
    RETURNING event.id, event.breeder_id
"""  # noqa: S608 (only table names are formatted in; values are bound)


@dataclass(frozen=True)
class ProcessingResult:
    processed: int
    finished: bool


def _require_scope(workspace_id: int) -> None:
    # The ORM queries below rely on the scoped managers, the raw SQL on workspace_id;
    # both must name the same workspace.
    if active_workspace_id() != workspace_id:
        raise WorkspaceScopeError(
            f"Processing workspace {workspace_id} needs that workspace's scope; "
            f"the scope is {active_workspace_id()}."
        )


def _try_lock_workspace(workspace_id: int) -> bool:
    """Take the workspace's processing lock until the transaction ends, if it is free."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"lifecycle.processing:{workspace_id}"],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def process_pending_events(workspace_id: int) -> ProcessingResult:
    """Process the workspace's pending events chunk by chunk (see the module docstring)."""
    _require_scope(workspace_id)
    deadline = time.monotonic() + MAX_RUN_SECONDS
    processed = 0
    while True:
        with transaction.atomic():
            if not _try_lock_workspace(workspace_id):
                logger.debug("Workspace %s is being processed elsewhere", workspace_id)
                return ProcessingResult(processed, finished=True)
            count = _process_chunk(workspace_id)
        processed += count
        # The lock is released now. Events committed while it was held, whose own
        # task gave up on the lock, are found by this check.
        if count == 0 and not Event.objects.filter(processed_at__isnull=True).exists():
            return ProcessingResult(processed, finished=True)
        if time.monotonic() > deadline:
            return ProcessingResult(processed, finished=False)


def _process_chunk(workspace_id: int) -> int:
    pending = [
        PendingEvent(*row)
        for row in Event.objects.filter(processed_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "type", "user_id", "anonymous_id", "timestamp")[:CHUNK_SIZE]
    ]
    if not pending:
        return 0

    identifies = [event for event in pending if event.type == EventType.IDENTIFY]
    attached: list[int] = []
    if identifies:
        traits_by_event = dict(
            Event.objects.filter(pk__in=[event.id for event in identifies]).values_list(
                "pk", "payload__traits"
            )
        )
        apply_identifies(workspace_id, identifies, traits_by_event)
        attached = attach_waiting_events(
            workspace_id,
            user_ids=sorted({event.user_id for event in identifies if event.user_id}),
            anonymous_ids=sorted(
                {event.anonymous_id for event in identifies if event.anonymous_id}
            ),
        )

    by_user, by_anonymous = find_breeders(
        (event.user_id for event in pending if event.user_id),
        (event.anonymous_id for event in pending if not event.user_id),
    )
    breeder_ids = [
        by_user.get(event.user_id) if event.user_id else by_anonymous.get(event.anonymous_id)
        for event in pending
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            MARK_PROCESSED_SQL,
            {
                "now": timezone.now(),
                "workspace_id": workspace_id,
                "event_ids": [event.id for event in pending],
                "breeder_ids": breeder_ids,
            },
        )
        newly_resolved = [event_id for event_id, breeder_id in cursor.fetchall() if breeder_id]

    counted = attached + newly_resolved
    add_to_rollups(workspace_id, counted)
    apply_groups(workspace_id, counted)
    # Milestones are recorded in the same transaction as the events that complete them,
    # so an achievement appears as soon as its event is processed.
    touched = sorted({breeder_id for breeder_id in breeder_ids if breeder_id})
    if attached:
        touched = sorted(
            set(touched)
            | set(Event.objects.filter(pk__in=attached).values_list("breeder_id", flat=True))
        )
    if touched:
        record_achievements(workspace_id, touched)
    logger.info(
        "Processed %s events in workspace %s: %s have a breeder, %s earlier events attached",
        len(pending),
        workspace_id,
        len(newly_resolved),
        len(attached),
    )
    return len(pending)


def attach_all_waiting_events(workspace_id: int) -> int:
    """Attach every waiting event whose breeder now exists, and count it.

    Covers breeders created outside identify calls, such as in the admin or by an
    import. Returns how many events were attached.
    """
    _require_scope(workspace_id)
    with transaction.atomic():
        if not _try_lock_workspace(workspace_id):
            return 0
        attached = attach_waiting_events(workspace_id, user_ids=None, anonymous_ids=None)
        add_to_rollups(workspace_id, attached)
        apply_groups(workspace_id, attached)
    if attached:
        logger.info("Attached %s waiting events in workspace %s", len(attached), workspace_id)
    return len(attached)
