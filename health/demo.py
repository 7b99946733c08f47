"""Follow-up tasks that the demo's CSMs created for their alerts.

Playbooks will turn alerts into tasks on their own. Until then the demo shows CSMs who
created follow-ups by hand for most of their critical and high alerts.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from accounts.models import Membership
from health.models import Alert, AlertState, Severity
from lifecycle.models import Task, TaskStatus
from lifecycle.tasks_service import create_task

# Share of a CSM's critical and high alerts that already have a follow-up task.
FOLLOW_UP_SHARE = 0.6


def create_follow_up_tasks(seed: int, today: date) -> int:
    """Create follow-up tasks, by their CSM, for some open urgent alerts; return how many.

    Must run inside the workspace's scope. Running it again creates no second task for
    the same alert, because a breeder's open task with the same title is reused.
    """
    memberships = {m.user_id: m for m in Membership.objects.select_related("user")}
    open_alerts = (
        Alert.objects.filter(
            state=AlertState.OPEN,
            severity__in=[Severity.CRITICAL, Severity.HIGH],
            owner__isnull=False,
        )
        .select_related("breeder")
        .order_by("pk")
    )
    created = 0
    for alert in open_alerts:
        membership = memberships.get(alert.owner_id) if alert.owner_id else None
        if membership is None:
            continue
        rng = random.Random(f"{seed}:follow-up:{alert.breeder.external_id}:{alert.kind}")  # noqa: S311
        if rng.random() >= FOLLOW_UP_SHARE:
            continue
        title = f"Follow up: {alert.title}"[:300]
        if Task.objects.filter(breeder=alert.breeder, title=title, status=TaskStatus.OPEN).exists():
            continue
        create_task(
            alert.breeder,
            actor_membership=membership,
            title=title,
            due_on=today + timedelta(days=rng.randint(0, 4)),
            details=alert.detail,
        )
        created += 1
    return created
