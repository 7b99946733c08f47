"""At-risk alerts: raised set-based after each scoring run, one per breeder and kind.

A partial unique constraint allows one unresolved alert per breeder and kind, so the
inserts below use ON CONFLICT DO NOTHING and a rerun raises nothing twice. After an
alert is resolved, the same kind waits for the model's cool-down before it can open
again; renewal alerts fire once per renewal date.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import ngettext

from accounts.models import Breeder, Membership, Workspace
from accounts.roles import Permission
from accounts.services import record_audit
from health.models import (
    ALERT_SEVERITY,
    Alert,
    AlertKind,
    AlertState,
    Band,
    HealthModel,
)
from health.scoring import BreederResult
from lifecycle.models import (
    AchievementStatus,
    MilestoneAchievement,
    Subscription,
    SurveyAnswer,
    Task,
    TaskSource,
)
from lifecycle.tasks_service import create_system_task

logger = logging.getLogger(__name__)

RECENT = timedelta(days=2)
RENEWAL_KINDS = [(30, AlertKind.RENEWAL_30), (60, AlertKind.RENEWAL_60), (90, AlertKind.RENEWAL_90)]


@dataclass
class Candidate:
    breeder_id: int
    kind: str
    title: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def score_candidates(results: Sequence[BreederResult], model: HealthModel) -> list[Candidate]:
    """Alerts that follow from score changes: entering red, leaving green, sharp drops,
    and usage far below the breeder's own baseline."""
    candidates = []
    ratio = float(model.anomaly_ratio)
    for r in results:
        reasons = "; ".join(r.explanation[1:3])
        # A first score has no band to fall from: a new breeder's low start is followed
        # by the milestone alerts instead.
        if r.band == Band.RED and not r.provisional and r.previous_band not in (None, "", Band.RED):
            candidates.append(
                Candidate(
                    r.breeder_id,
                    AlertKind.ENTERED_RED,
                    f"Health score fell to {r.score:.0f} (red)",
                    reasons,
                    {"score": r.score, "previous_band": r.previous_band},
                )
            )
        if r.previous_band == Band.GREEN and r.band == Band.YELLOW:
            candidates.append(
                Candidate(
                    r.breeder_id,
                    AlertKind.LEFT_GREEN,
                    f"Health score fell to {r.score:.0f} (yellow)",
                    reasons,
                    {"score": r.score},
                )
            )
        if r.trend_7d is not None and r.trend_7d <= -model.drop_alert_points:
            candidates.append(
                Candidate(
                    r.breeder_id,
                    AlertKind.SCORE_DROP,
                    f"Health score dropped {abs(r.trend_7d):.0f} points in 7 days",
                    reasons,
                    {"trend_7d": r.trend_7d},
                )
            )
        baseline = r.weekly_baseline
        recent = r.events_last_7
        if baseline >= model.anomaly_min_weekly_events and recent < ratio * baseline:
            candidates.append(
                Candidate(
                    r.breeder_id,
                    AlertKind.USAGE_ANOMALY,
                    f"Usage fell to {recent:.0f} events this week from about {baseline:.0f} a week",
                    "",
                    {"last_7_days": recent, "weekly_baseline": baseline},
                )
            )
    return candidates


def signal_candidates(workspace_id: int, now: datetime) -> list[Candidate]:
    """Alerts that follow from signals: missed milestones, renewals, failed payments and
    detractor answers."""
    candidates = []
    missed = MilestoneAchievement.objects.filter(
        workspace_id=workspace_id, status=AchievementStatus.MISSED, missed_at__gte=now - RECENT
    ).select_related("milestone")
    for row in missed:
        candidates.append(
            Candidate(
                row.breeder_id,
                AlertKind.MILESTONE_MISSED,
                f"Missed milestone: {row.milestone.name}",
                f"Due {row.due_at.day} {row.due_at:%b %Y}",
                {"milestone": row.milestone.key},
            )
        )
    renewals = Subscription.objects.filter(
        workspace_id=workspace_id,
        status__in=["active", "trialing"],
        cancel_at_period_end=False,
        current_period_end__gt=now,
        current_period_end__lte=now + timedelta(days=90),
    ).values_list("breeder_id", "current_period_end")
    for breeder_id, period_end in renewals:
        if period_end is None:
            continue
        days = (period_end - now).days
        kind = next(kind for limit, kind in RENEWAL_KINDS if days < limit)
        candidates.append(
            Candidate(
                breeder_id,
                kind,
                f"Renews on {period_end.day} {period_end:%b %Y} "
                + ngettext("(%(days)d day)", "(%(days)d days)", days) % {"days": days},
                "",
                {"period_end": period_end.date().isoformat()},
            )
        )
    failing = Subscription.objects.filter(
        workspace_id=workspace_id, status__in=["past_due", "unpaid"]
    ).values_list("breeder_id", "status")
    for breeder_id, status in failing:
        candidates.append(
            Candidate(
                breeder_id,
                AlertKind.PAYMENT_FAILED,
                f"Payment failed; subscription is {status.replace('_', ' ')}",
                "",
                {"status": status},
            )
        )
    detractors = SurveyAnswer.objects.filter(
        Q(kind="nps", score__lte=6) | Q(kind="csat", score__lte=2),
        workspace_id=workspace_id,
        answered_at__gte=now - RECENT,
    )
    for answer in detractors:
        scale = "0-10" if answer.kind == "nps" else "1-5"
        candidates.append(
            Candidate(
                answer.breeder_id,
                AlertKind.DETRACTOR,
                f"{answer.kind.upper()} answer {answer.score} ({scale})",
                answer.comment,
                {"answer": str(answer.public_id)},
            )
        )
    return candidates


@transaction.atomic
def raise_alerts(
    workspace_id: int,
    candidates: Sequence[Candidate],
    model: HealthModel,
    now: datetime | None = None,
) -> int:
    """Open the candidate alerts that are not already open or cooling down."""
    now = now or timezone.now()
    if not candidates:
        return 0
    breeder_ids = {c.breeder_id for c in candidates}
    cooling = set(
        Alert.objects.filter(
            breeder_id__in=breeder_ids,
            state=AlertState.RESOLVED,
            resolved_at__gte=now - timedelta(days=model.alert_cooldown_days),
        ).values_list("breeder_id", "kind")
    )
    renewal_seen = set(
        Alert.objects.filter(breeder_id__in=breeder_ids, kind__startswith="renewal_").values_list(
            "breeder_id", "kind", "data__period_end"
        )
    )
    owners = dict(Breeder.objects.filter(pk__in=breeder_ids).values_list("pk", "assigned_csm_id"))
    alerts = [
        Alert(
            workspace_id=workspace_id,
            breeder_id=c.breeder_id,
            kind=c.kind,
            severity=ALERT_SEVERITY[AlertKind(c.kind)],
            owner_id=owners.get(c.breeder_id),
            title=c.title,
            detail=c.detail,
            data=c.data,
            opened_at=now,
        )
        for c in candidates
        if (c.breeder_id, c.kind) not in cooling
        and (c.breeder_id, c.kind, c.data.get("period_end")) not in renewal_seen
    ]
    before = Alert.objects.filter(breeder_id__in=breeder_ids).count()
    Alert.objects.bulk_create(alerts, ignore_conflicts=True)
    opened = Alert.objects.filter(breeder_id__in=breeder_ids).count() - before
    if opened:
        logger.info("Workspace %s: opened %s alerts", workspace_id, opened)
    return opened


def wake_snoozed(workspace_id: int, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return Alert.objects.filter(
        workspace_id=workspace_id, state=AlertState.SNOOZED, snoozed_until__lte=now
    ).update(state=AlertState.OPEN, snoozed_until=None)


def inbox_filter(membership: Membership) -> Q:
    """Alerts a member should see: their own, and the pool's when they work the pool."""
    mine = Q(owner=membership.user)
    if membership.works_pool:
        mine |= Q(owner__isnull=True)
    return mine


def open_alert_count(membership: Membership) -> int:
    return Alert.objects.filter(inbox_filter(membership), state__in=[AlertState.OPEN]).count()


# State changes made by staff.


def _check(alert: Alert, actor: Membership) -> None:
    if not actor.can(Permission.LOG_ACTIVITY):
        raise PermissionDenied("Your role cannot work alerts.")
    if alert.state == AlertState.RESOLVED:
        raise ValidationError("This alert is already resolved.")


@transaction.atomic
def acknowledge(alert: Alert, *, actor: Membership) -> Alert:
    _check(alert, actor)
    alert.state = AlertState.ACKNOWLEDGED
    alert.save(update_fields=["state", "updated_at"])
    record_audit(
        Workspace.objects.get(pk=alert.workspace_id),
        actor=actor.user,
        action="alert.acknowledged",
        target=alert,
    )
    return alert


# Days a follow-up task made from an alert has before it is due.
FOLLOW_UP_DAYS = 2


@transaction.atomic
def create_follow_up_task(alert: Alert, *, actor: Membership) -> Task:
    """Give the acting member a follow-up task for the alert, once per alert.

    An open alert counts as acknowledged by it. A second request returns the first
    task.
    """
    _check(alert, actor)
    task, created = create_system_task(
        alert.breeder,
        source=TaskSource.ALERT,
        source_key=f"alert:{alert.public_id}",
        title=f"Follow up: {alert.title}",
        due_on=timezone.localdate() + timedelta(days=FOLLOW_UP_DAYS),
        assignee=actor.user,
        details=alert.detail,
    )
    if alert.state == AlertState.OPEN:
        alert.state = AlertState.ACKNOWLEDGED
        alert.save(update_fields=["state", "updated_at"])
    if created:
        record_audit(
            Workspace.objects.get(pk=alert.workspace_id),
            actor=actor.user,
            action="alert.task_created",
            target=alert,
            task=str(task.public_id),
        )
    return task


@transaction.atomic
def snooze(alert: Alert, *, actor: Membership, until: datetime) -> Alert:
    _check(alert, actor)
    if until <= timezone.now():
        raise ValidationError({"until": "Choose a time in the future to snooze until."})
    alert.state = AlertState.SNOOZED
    alert.snoozed_until = until
    alert.save(update_fields=["state", "snoozed_until", "updated_at"])
    record_audit(
        Workspace.objects.get(pk=alert.workspace_id),
        actor=actor.user,
        action="alert.snoozed",
        target=alert,
        until=until.isoformat(),
    )
    return alert


@transaction.atomic
def resolve(alert: Alert, *, actor: Membership, note: str) -> Alert:
    _check(alert, actor)
    alert.state = AlertState.RESOLVED
    alert.resolved_at = timezone.now()
    alert.note = note.strip()
    alert.save(update_fields=["state", "resolved_at", "note", "updated_at"])
    record_audit(
        Workspace.objects.get(pk=alert.workspace_id),
        actor=actor.user,
        action="alert.resolved",
        target=alert,
        note=alert.note,
    )
    return alert
