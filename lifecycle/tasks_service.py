"""Creating and completing staff tasks. The outcome of a completed task goes on the
breeder's timeline."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Breeder, Membership, User
from accounts.roles import Permission
from accounts.services import record_audit
from lifecycle.models import Task, TaskStatus, TimelineEntry, TimelineKind


@transaction.atomic
def create_task(
    breeder: Breeder,
    *,
    actor_membership: Membership,
    title: str,
    due_on: date,
    assignee: User | None = None,
    details: str = "",
) -> Task:
    if not actor_membership.can(Permission.LOG_ACTIVITY):
        raise PermissionDenied("Your role cannot create tasks.")
    if (
        assignee is not None
        and not Membership.objects.filter(workspace_id=breeder.workspace_id, user=assignee).exists()
    ):
        raise ValidationError({"assignee": "Choose a member of this workspace."})
    task = Task.objects.create(
        workspace_id=breeder.workspace_id,
        breeder=breeder,
        title=title.strip(),
        details=details.strip(),
        due_on=due_on,
        assignee=assignee or actor_membership.user,
        created_by=actor_membership.user,
    )
    record_audit(
        breeder.workspace,
        actor=actor_membership.user,
        action="task.created",
        target=task,
        breeder=str(breeder.public_id),
    )
    return task


@transaction.atomic
def complete_task(task: Task, *, actor_membership: Membership, outcome: str) -> Task:
    """Mark a task done and put its outcome on the breeder's timeline."""
    if not actor_membership.can(Permission.LOG_ACTIVITY):
        raise PermissionDenied("Your role cannot complete tasks.")
    if task.status != TaskStatus.OPEN:
        raise ValidationError("This task is already closed.")
    if not outcome.strip():
        raise ValidationError({"outcome": "Say what happened, so the timeline shows it."})
    task.status = TaskStatus.DONE
    task.outcome = outcome.strip()
    task.completed_at = timezone.now()
    task.completed_by = actor_membership.user
    task.save(update_fields=["status", "outcome", "completed_at", "completed_by"])
    TimelineEntry.objects.create(
        workspace_id=task.workspace_id,
        breeder_id=task.breeder_id,
        kind=TimelineKind.TASK,
        occurred_at=task.completed_at,
        title=f"Task done: {task.title}",
        body=task.outcome,
        actor=actor_membership.user,
        source_key=f"task:{task.public_id}:done",
    )
    record_audit(task.workspace, actor=actor_membership.user, action="task.completed", target=task)
    return task


def create_system_task(
    breeder: Breeder,
    *,
    source: str,
    source_key: str,
    title: str,
    due_on: date,
    assignee: User | None,
    details: str = "",
) -> tuple[Task, bool]:
    """Create a task that a job raised (a program step, an alert) once per `source_key`.

    Returns the task and whether this call created it; running the same job again
    finds the first task instead of adding another.
    """
    task, created = Task.objects.get_or_create(
        workspace_id=breeder.workspace_id,
        source_key=source_key,
        defaults={
            "breeder": breeder,
            "title": title[:300],
            "details": details,
            "due_on": due_on,
            "assignee": assignee,
            "source": source,
        },
    )
    return task, created
