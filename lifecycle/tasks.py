"""Celery tasks that fold stored events into breeders and rollups.

The ingestion view queues `process_events` after its INSERT commits. A flag in the
cache keeps that to one queued task per workspace: the task clears the flag as it
starts, so events committed after that point ask for a new task, and events
committed before it are still pending when the task reads them. The beat jobs below
pick up whatever a lost task or an unreachable broker left behind.
"""

from __future__ import annotations

import contextlib
import logging

from celery import shared_task
from django.core.cache import cache
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from accounts.cache import workspace_cache_key
from accounts.scope import unscoped_across_all_workspaces, workspace_scope
from accounts.tasks import TRANSIENT_ERRORS, WorkspaceTask, fan_out
from lifecycle.ingestion.outages import log_outage
from lifecycle.models import Event
from lifecycle.processing import attach_all_waiting_events, process_pending_events

logger = logging.getLogger(__name__)

# How long a "processing requested" flag lives if its task is lost; the beat job
# covers the gap.
PROCESSING_FLAG_SECONDS = 120


def processing_flag_key(workspace_id: int) -> str:
    with workspace_scope(workspace_id):
        return workspace_cache_key("lifecycle", "processing-requested")


def request_processing(workspace_id: int) -> None:
    """Queue `process_events` for the workspace unless one is already queued.

    Never raises for an unreachable Redis: the events are already committed, and
    the beat job processes them within a minute.
    """
    flag = processing_flag_key(workspace_id)
    try:
        if cache.add(flag, 1, PROCESSING_FLAG_SECONDS):
            process_events.delay(workspace_id=workspace_id)
    except (RedisError, BrokerError) as error:
        # Without the flag the next request tries again; if Redis is down entirely
        # this fails too, and the flag expires on its own.
        with contextlib.suppress(RedisError):
            cache.delete(flag)
        log_outage(
            logger,
            "processing-request",
            "Could not queue event processing for workspace %s (%s); the beat job will",
            workspace_id,
            error,
        )


@shared_task(base=WorkspaceTask, bind=True, ignore_result=True)
def process_events(self: WorkspaceTask, *, workspace_id: int) -> int:
    """Process the workspace's pending events, asking for a follow-up if time runs out."""
    cache.delete(processing_flag_key(workspace_id))
    result = process_pending_events(workspace_id)
    if not result.finished:
        request_processing(workspace_id)
    return result.processed


@shared_task(base=WorkspaceTask, bind=True, ignore_result=True)
def attach_waiting_events(self: WorkspaceTask, *, workspace_id: int) -> int:
    return attach_all_waiting_events(workspace_id)


@shared_task(autoretry_for=TRANSIENT_ERRORS, max_retries=3, retry_backoff=True, ignore_result=True)
def process_pending_events_everywhere() -> int:
    """Fan out one `process_events` task per workspace that has pending events."""
    # Reads only the partial index of pending events (event_pending_idx).
    with unscoped_across_all_workspaces():
        workspace_ids = list(
            Event.objects.filter(processed_at__isnull=True)
            .order_by("workspace_id")
            .values_list("workspace_id", flat=True)
            .distinct()
        )
    return fan_out(process_events, workspace_ids)


@shared_task(autoretry_for=TRANSIENT_ERRORS, max_retries=3, retry_backoff=True, ignore_result=True)
def attach_waiting_events_everywhere() -> int:
    """Fan out one `attach_waiting_events` task per workspace.

    Every workspace gets one: finding the workspaces with waiting events would read
    as many rows as the per-workspace tasks do through their partial indexes.
    """
    return fan_out(attach_waiting_events)
