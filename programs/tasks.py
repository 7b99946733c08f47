"""Beat jobs of the programs app: enrollment, milestone messages and delivery."""

from __future__ import annotations

import logging
import math

from celery import shared_task
from django.db.models import Count
from django.utils import timezone

from accounts.models import Workspace
from accounts.scope import unscoped_across_all_workspaces
from accounts.tasks import WorkspaceTask, fan_out
from programs import defaults, delivery, enrollment, milestones
from programs.models import ScheduledSend, SendState

logger = logging.getLogger(__name__)

# A workspace with a backlog gets one delivery task per this many due sends, at most
# MAX_TASKS_PER_WORKSPACE; the tasks share the rows through SKIP LOCKED. Each task
# stops after DELIVERY_SECONDS, shorter than the beat interval, and the next tick
# picks up what is left.
SENDS_PER_TASK = 200
MAX_TASKS_PER_WORKSPACE = 4
DELIVERY_SECONDS = 50.0


@shared_task(base=WorkspaceTask, bind=True)
def plan_programs(self: WorkspaceTask, *, workspace_id: int) -> dict[str, int]:
    """Enroll by the programs' rules, queue milestone messages, end finished
    enrollments. Every part is idempotent."""
    now = timezone.now()
    workspace = Workspace.objects.get(pk=workspace_id)
    if not defaults.defaults_are_current(workspace):
        defaults.ensure_default_programs(workspace)
    enrolled = enrollment.enroll_by_rules(workspace_id, now)
    queued = milestones.queue_milestone_messages(workspace_id, now)
    closed = enrollment.close_enrollments(workspace_id, now)
    return {"enrolled": enrolled, "milestone_messages": queued, "closed": sum(closed.values())}


@shared_task
def plan_programs_everywhere() -> int:
    return fan_out(plan_programs)


@shared_task(base=WorkspaceTask, bind=True)
def deliver_sends(self: WorkspaceTask, *, workspace_id: int) -> dict[str, int]:
    return dict(delivery.deliver_due(workspace_id, seconds=DELIVERY_SECONDS))


@shared_task
def deliver_sends_everywhere() -> int:
    """Queue delivery tasks for the workspaces that have due sends."""
    now = timezone.now()
    with unscoped_across_all_workspaces():
        due = (
            ScheduledSend.objects.filter(state=SendState.PENDING, send_after__lte=now)
            .values("workspace_id")
            .annotate(count=Count("pk"))
            .order_by("workspace_id")
        )
        backlog = {row["workspace_id"]: row["count"] for row in due}
    queued = 0
    for workspace_id, count in backlog.items():
        for _ in range(min(MAX_TASKS_PER_WORKSPACE, math.ceil(count / SENDS_PER_TASK))):
            deliver_sends.delay(workspace_id=workspace_id)
            queued += 1
    return queued
