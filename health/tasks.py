"""Beat jobs of the health app: incremental and daily recomputes, alerts, digests."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Membership, Workspace
from accounts.tasks import TRANSIENT_ERRORS, WorkspaceTask, fan_out
from health import alerts, scoring
from health.metrics import breeders_with_changed_inputs
from health.models import Alert, AlertDigest, AlertState, ScoringCursor

logger = logging.getLogger(__name__)


def score_and_alert(
    workspace_id: int, as_of: date | None, breeder_ids: list[int] | None
) -> dict[str, int]:
    model, _ = scoring.active_model(workspace_id)
    results = scoring.recompute(workspace_id, as_of, breeder_ids)
    now = timezone.now()
    candidates = alerts.score_candidates(results, model) + alerts.signal_candidates(
        workspace_id, now
    )
    opened = alerts.raise_alerts(workspace_id, candidates, model, now)
    woken = alerts.wake_snoozed(workspace_id, now)
    return {"scored": len(results), "alerts_opened": opened, "snoozes_ended": woken}


@shared_task(base=WorkspaceTask, bind=True)
def recompute_workspace(
    self: WorkspaceTask, *, workspace_id: int, as_of: str | None = None
) -> dict[str, int]:
    """Score every breeder of the workspace, write the day's snapshots and raise alerts.

    Idempotent per breeder and day: a second run updates the same snapshot rows (only
    those whose values changed) and finds its alerts already open.
    """
    day = date.fromisoformat(as_of) if as_of else None
    return score_and_alert(workspace_id, day, None)


@shared_task(base=WorkspaceTask, bind=True)
def recompute_changed(self: WorkspaceTask, *, workspace_id: int) -> dict[str, int]:
    """Score only the breeders whose inputs changed since the previous run."""
    started = timezone.now()
    with transaction.atomic():
        cursor, _ = ScoringCursor.objects.select_for_update().get_or_create(
            workspace_id=workspace_id, defaults={"changed_since": started - timedelta(days=1)}
        )
        # Inputs written while this run reads could be missed, so the next run looks
        # back a minute further than this one started.
        changed = breeders_with_changed_inputs(workspace_id, cursor.changed_since)
        cursor.changed_since = started - timedelta(minutes=1)
        cursor.save(update_fields=["changed_since"])
    if not changed:
        return {"scored": 0, "alerts_opened": 0, "snoozes_ended": 0}
    return score_and_alert(workspace_id, None, sorted(changed))


@shared_task(base=WorkspaceTask, bind=True)
def send_alert_digests(self: WorkspaceTask, *, workspace_id: int) -> int:
    """Email each member a list of their open alerts, at most once a day."""
    workspace = Workspace.objects.get(pk=workspace_id)
    today = timezone.localdate()
    sent = 0
    for membership in Membership.objects.select_related("user"):
        inbox = list(
            Alert.objects.filter(
                alerts.inbox_filter(membership),
                state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED],
            )
            .select_related("breeder")
            .order_by("severity", "-opened_at")[:50]
        )
        if not inbox:
            continue
        try:
            with transaction.atomic():
                AlertDigest.objects.create(
                    workspace=workspace, user=membership.user, day=today, alert_count=len(inbox)
                )
        except IntegrityError:
            continue
        context = {
            "workspace": workspace,
            "user": membership.user,
            "alerts": inbox,
            "site_url": settings.SITE_URL,
        }
        message = EmailMultiAlternatives(
            subject=f"{len(inbox)} open alerts in {workspace.name}",
            body=render_to_string("health/email/alert_digest.txt", context),
            to=[membership.user.email],
        )
        message.attach_alternative(
            render_to_string("health/email/alert_digest.html", context), "text/html"
        )
        message.send()
        sent += 1
    logger.info("Workspace %s: sent %s alert digests", workspace_id, sent)
    return sent


@shared_task(autoretry_for=TRANSIENT_ERRORS, max_retries=3, retry_backoff=True)
def recompute_changed_everywhere() -> int:
    return fan_out(recompute_changed)


@shared_task(autoretry_for=TRANSIENT_ERRORS, max_retries=3, retry_backoff=True)
def recompute_all_everywhere() -> int:
    return fan_out(recompute_workspace)


@shared_task(autoretry_for=TRANSIENT_ERRORS, max_retries=3, retry_backoff=True)
def send_alert_digests_everywhere() -> int:
    return fan_out(send_alert_digests)
