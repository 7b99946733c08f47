"""Support tickets, received through the ticket webhook or a CSV import."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from accounts.models import Breeder, WorkspaceOwned
from lifecycle.models.billing import RecordSource


class TicketCategory(models.TextChoices):
    TECHNICAL = "technical", "Technical"
    ACCOUNT = "account", "Account"
    FEATURE_REQUEST = "feature_request", "Feature request"
    BILLING = "billing", "Billing"


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class TicketStatus(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


class Ticket(WorkspaceOwned):
    """A support ticket of a breeder.

    `escalation_path` is the category's chain of teams above first-line support, copied
    onto the ticket when it is written, and `escalation_level` records how far up that chain
    the ticket went: 0 means support handled it, 1 the first team of the path, and so on.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="tickets")
    external_id = models.CharField(max_length=255, help_text="The ticket's id in the help desk.")
    source = models.CharField(max_length=20, choices=RecordSource.choices)
    subject = models.CharField(max_length=300)
    category = models.CharField(max_length=30, choices=TicketCategory.choices)
    priority = models.CharField(
        max_length=10, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    status = models.CharField(max_length=10, choices=TicketStatus.choices)
    satisfaction_rating = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The breeder's rating from 1 (worst) to 5 (best)."
    )
    opened_at = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    escalation_path = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"], name="ticket_unique_external_id"
            ),
            models.CheckConstraint(
                condition=models.Q(satisfaction_rating__isnull=True)
                | models.Q(satisfaction_rating__gte=1, satisfaction_rating__lte=5),
                name="ticket_satisfaction_1_to_5",
            ),
        ]
        indexes = [
            # A breeder's tickets, newest first, for the timeline and the health score.
            models.Index(
                fields=["workspace", "breeder", "-opened_at"], name="ticket_ws_breeder_idx"
            ),
            models.Index(fields=["workspace", "-opened_at"], name="ticket_ws_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.subject}"

    @property
    def escalated_to(self) -> str:
        """Return the team the ticket reached, or an empty string for first-line support."""
        if self.escalation_level == 0 or not self.escalation_path:
            return ""
        return self.escalation_path[min(self.escalation_level, len(self.escalation_path)) - 1]
