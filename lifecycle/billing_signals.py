"""Apply unmatched Stripe events again when a breeder they may belong to is saved."""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Breeder
from accounts.scope import workspace_scope
from lifecycle.billing_tasks import retry_unmatched_stripe_events
from lifecycle.models.billing import StripeEvent, StripeEventStatus

# Only these fields take part in matching Stripe customers to breeders.
MATCHING_FIELDS = frozenset({"external_id", "email"})


def schedule_unmatched_retry(workspace_id: int) -> None:
    """Queue a retry of the workspace's unmatched events after the commit, if it has any."""
    with workspace_scope(workspace_id):
        waiting = StripeEvent.objects.filter(status=StripeEventStatus.UNMATCHED).exists()
    if waiting:
        transaction.on_commit(
            functools.partial(retry_unmatched_stripe_events.delay, workspace_id=workspace_id),
            robust=True,
        )


@receiver(post_save, sender=Breeder, dispatch_uid="lifecycle.retry_stripe_events_on_breeder")
def retry_stripe_events_on_breeder_save(
    sender: type[Breeder],
    instance: Breeder,
    created: bool,
    raw: bool = False,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    if raw:
        return
    if update_fields is not None and not MATCHING_FIELDS & set(update_fields):
        return
    schedule_unmatched_retry(instance.workspace_id)
