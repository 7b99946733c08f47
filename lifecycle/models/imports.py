"""The record of each CSV import, kept whether the import succeeded or not."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import User, WorkspaceOwned


class ImportKind(models.TextChoices):
    BREEDERS = "breeders", "Breeders"
    SUBSCRIPTIONS = "subscriptions", "Subscriptions"
    TICKETS = "tickets", "Support tickets"
    CANCELLATIONS = "cancellations", "Cancellations"
    EVENTS = "events", "Usage events"


class ImportStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed, nothing imported"
    DRY_RUN = "dry_run", "Checked only (dry run)"


class ImportOrigin(models.TextChoices):
    COMMAND = "command", "import_csv command"
    ADMIN = "admin", "Admin upload"


class ImportRun(WorkspaceOwned):
    """One CSV file imported into a workspace: its counts and the rows it rejected.

    A file imports whole or not at all, so a failed run lists its errors and wrote no
    rows. A failed run is saved on its own, after the import's transaction rolled back.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    file_name = models.CharField(max_length=255)
    mapping_name = models.CharField(max_length=255)
    origin = models.CharField(max_length=20, choices=ImportOrigin.choices)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=20, choices=ImportStatus.choices)
    row_count = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    repeated_count = models.PositiveIntegerField(
        default=0, help_text="Rows whose id appeared earlier in the same file; the later row won."
    )
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="The first rejected rows, as 'file line N: message'."
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(WorkspaceOwned.Meta):
        verbose_name = "CSV import"
        indexes = [
            models.Index(fields=["workspace", "-started_at"], name="import_run_ws_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.file_name} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
