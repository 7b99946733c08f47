"""Daily activity rollups: what scoring reads instead of raw events."""

from __future__ import annotations

from django.db import models

from accounts.models import Breeder, Workspace, WorkspaceOwned
from lifecycle.models.tracking import Feature


class DailyActivity(WorkspaceOwned):
    """How many counted events one breeder sent for one feature on one local day.

    `day` is the calendar day in the breeder's time zone (else the workspace's) at the
    time the events were processed. Rows are only ever changed by the set-based upsert
    in `lifecycle.rollups`.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    # Keeps Django's index on breeder_id: deleting a breeder deletes these rows with
    # `WHERE breeder_id IN (…)`.
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    feature = models.CharField(max_length=20, choices=Feature.choices)
    day = models.DateField()
    event_count = models.PositiveIntegerField()
    first_event_at = models.DateTimeField()
    last_event_at = models.DateTimeField()

    class Meta(WorkspaceOwned.Meta):
        verbose_name_plural = "daily activity"
        constraints = [
            # The upsert's conflict target.
            models.UniqueConstraint(
                fields=["workspace", "breeder", "feature", "day"],
                name="daily_activity_unique_day",
            ),
        ]
        indexes = [
            # Scoring reads a workspace's last N days for every breeder at once.
            models.Index(fields=["workspace", "day"], name="daily_activity_ws_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.breeder_id} {self.feature} {self.day}: {self.event_count}"
