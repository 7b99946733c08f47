"""Celery tasks that keep phases and milestones up to date."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.models import Workspace
from accounts.tasks import TRANSIENT_ERRORS, WorkspaceTask, fan_out
from lifecycle import journey

logger = logging.getLogger(__name__)


@shared_task(base=WorkspaceTask, bind=True)
def refresh_journey(self: WorkspaceTask, *, workspace_id: int) -> dict[str, int]:
    """Bring one workspace's phases and milestones up to date.

    Achievements are normally recorded as events are processed; the full pass here
    catches up on anything that processing missed, such as a milestone rule an admin
    just changed.
    """
    workspace = Workspace.objects.get(pk=workspace_id)
    journey.ensure_default_milestones(workspace)
    phases = journey.update_phases(workspace_id)
    achieved = journey.record_achievements(workspace_id)
    missed = journey.mark_missed_milestones(workspace_id)
    return {"phases": phases, "on_time": achieved.on_time, "late": achieved.late, "missed": missed}


@shared_task(autoretry_for=TRANSIENT_ERRORS, max_retries=3, retry_backoff=True)
def refresh_journeys_everywhere() -> int:
    """Fan out one `refresh_journey` task per workspace."""
    return fan_out(refresh_journey)
