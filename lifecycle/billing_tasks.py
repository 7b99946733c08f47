"""Celery tasks that apply stored Stripe events, and the beat job that re-queues them."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from accounts.scope import unscoped_across_all_workspaces
from accounts.tasks import TRANSIENT_ERRORS, WorkspaceTask, fan_out
from lifecycle.billing_processing import process_stored_event
from lifecycle.models.billing import StripeEvent, StripeEventStatus

logger = logging.getLogger(__name__)

# A pending event older than this missed its task (a broker outage, a lost message, a
# crashed worker) and is queued again. Normal processing takes well under a second.
REQUEUE_AFTER = timedelta(minutes=5)
# At most this many events per workspace and run, so one backlog cannot fill the queue.
BATCH_SIZE = 500


@shared_task(base=WorkspaceTask, bind=True)
def process_stripe_event(self: WorkspaceTask, *, workspace_id: int, stripe_event_id: str) -> str:
    """Apply one stored event; returns its new status, or "skipped" when there was no work."""
    outcome = process_stored_event(stripe_event_id)
    if outcome is None:
        return "skipped"
    if outcome.linked_customer_id:
        retry_unmatched_stripe_events.delay(
            workspace_id=workspace_id, customer_id=outcome.linked_customer_id
        )
    return outcome.status


@shared_task(base=WorkspaceTask, bind=True)
def retry_unmatched_stripe_events(
    self: WorkspaceTask, *, workspace_id: int, customer_id: str = ""
) -> int:
    """Apply again the workspace's unmatched events (of one customer, if given), oldest first.

    A customer event in the batch may link its customer to a breeder. That customer's
    later events then match in the same pass, and a second task retries its earlier ones.
    """
    events = StripeEvent.objects.filter(status=StripeEventStatus.UNMATCHED)
    if customer_id:
        events = events.filter(customer_id=customer_id)
    stripe_ids = list(
        events.order_by("stripe_created", "id").values_list("stripe_id", flat=True)[:BATCH_SIZE]
    )
    linked: set[str] = set()
    matched = 0
    for stripe_id in stripe_ids:
        outcome = process_stored_event(stripe_id)
        if outcome is None:
            continue
        if outcome.status != StripeEventStatus.UNMATCHED:
            matched += 1
        if outcome.linked_customer_id:
            linked.add(outcome.linked_customer_id)
    for linked_customer_id in sorted(linked - {customer_id}):
        retry_unmatched_stripe_events.delay(
            workspace_id=workspace_id, customer_id=linked_customer_id
        )
    if stripe_ids:
        logger.info(
            "Retried %s unmatched Stripe events in workspace %s; %s now matched",
            len(stripe_ids),
            workspace_id,
            matched,
        )
    return matched


@shared_task(base=WorkspaceTask, bind=True)
def requeue_stripe_events(self: WorkspaceTask, *, workspace_id: int) -> int:
    """Queue a processing task for each of the workspace's stale pending events."""
    cutoff = timezone.now() - REQUEUE_AFTER
    stripe_ids = list(
        StripeEvent.objects.filter(status=StripeEventStatus.PENDING, received_at__lt=cutoff)
        .order_by("stripe_created", "id")
        .values_list("stripe_id", flat=True)[:BATCH_SIZE]
    )
    for stripe_id in stripe_ids:
        process_stripe_event.delay(workspace_id=workspace_id, stripe_event_id=stripe_id)
    if stripe_ids:
        logger.warning(
            "Re-queued %s Stripe events of workspace %s that were never processed",
            len(stripe_ids),
            workspace_id,
        )
    return len(stripe_ids)


@shared_task(autoretry_for=TRANSIENT_ERRORS, max_retries=3, retry_backoff=True)
def requeue_stripe_events_everywhere() -> int:
    """Fan out `requeue_stripe_events` to each workspace with stale pending events."""
    cutoff = timezone.now() - REQUEUE_AFTER
    with unscoped_across_all_workspaces():
        workspace_ids = list(
            StripeEvent.objects.filter(status=StripeEventStatus.PENDING, received_at__lt=cutoff)
            .order_by("workspace_id")
            .values_list("workspace_id", flat=True)
            .distinct()
        )
    return fan_out(requeue_stripe_events, workspace_ids)
