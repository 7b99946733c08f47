"""Tasks for staff: follow-ups on a breeder, created by hand, by alerts or by programs."""

from __future__ import annotations

import uuid

from django.db import models

from accounts.models import Breeder, User, WorkspaceOwned


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELED = "canceled", "Canceled"


class TaskSource(models.TextChoices):
    MANUAL = "manual", "Created by hand"
    ALERT = "alert", "From an alert"
    PROGRAM = "program", "From a success program"


class Task(WorkspaceOwned):
    """Something a staff member should do for a breeder by a due date.

    `source_key` names what created the task (a program step, an alert), so a job that
    creates tasks can run twice without creating one twice.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=300)
    details = models.TextField(blank=True)
    due_on = models.DateField()
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=TaskSource.choices, default=TaskSource.MANUAL)
    source_key = models.CharField(max_length=200, null=True, blank=True)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    outcome = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source_key"],
                condition=models.Q(source_key__isnull=False),
                name="task_unique_source",
            ),
        ]
        indexes = [
            # "My tasks": a member's open tasks by due date.
            models.Index(
                fields=["workspace", "assignee", "status", "due_on"], name="task_inbox_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (due {self.due_on})"
