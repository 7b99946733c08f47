"""Lifecycle phases and onboarding milestones of each breeder."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from accounts.models import Breeder, Workspace, WorkspaceOwned


class Phase(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    ADOPTION = "adoption", "Adoption"
    GROWTH = "growth", "Growth"
    ADVOCACY = "advocacy", "Advocacy"


class LifecycleSettings(WorkspaceOwned):
    """Start day of each lifecycle phase, counted from the signup day (day 0)."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="lifecycle_settings"
    )
    adoption_starts_day = models.PositiveIntegerField(default=31)
    growth_starts_day = models.PositiveIntegerField(default=91)
    advocacy_starts_day = models.PositiveIntegerField(default=366)

    class Meta(WorkspaceOwned.Meta):
        verbose_name_plural = "lifecycle settings"

    def __str__(self) -> str:
        return (
            f"adoption from day {self.adoption_starts_day}, growth from day "
            f"{self.growth_starts_day}, advocacy from day {self.advocacy_starts_day}"
        )

    def clean(self) -> None:
        if not (0 < self.adoption_starts_day < self.growth_starts_day < self.advocacy_starts_day):
            raise ValidationError(
                "Phase start days must increase: adoption, then growth, then advocacy, "
                "each after day 0."
            )

    def phase_for_day(self, day: int) -> Phase:
        if day >= self.advocacy_starts_day:
            return Phase.ADVOCACY
        if day >= self.growth_starts_day:
            return Phase.GROWTH
        if day >= self.adoption_starts_day:
            return Phase.ADOPTION
        return Phase.ONBOARDING


class BreederPhase(WorkspaceOwned):
    """The phase a breeder is in now, kept up to date by the phase job."""

    breeder = models.OneToOneField(
        Breeder, on_delete=models.CASCADE, related_name="lifecycle_phase"
    )
    phase = models.CharField(max_length=20, choices=Phase.choices)
    since = models.DateTimeField()

    class Meta(WorkspaceOwned.Meta):
        indexes = [models.Index(fields=["workspace", "phase"], name="breeder_phase_ws_idx")]

    def __str__(self) -> str:
        return f"{self.breeder_id}: {self.phase} since {self.since:%Y-%m-%d}"


RULE_OPERATORS = {">=": "gte", ">": "gt", "==": "exact", "<=": "lte", "contains": "contains"}
TRAIT_FIELDS = {
    "animal_count",
    "species",
    "plan",
    "operation",
    "experience",
    "country",
    "business_name",
}


def validate_milestone_rule(rule: Any) -> None:
    """Check a milestone rule; the message names the part to fix.

    Two shapes are accepted:
    - events: {"all": [{"events": ["Profile Completed"], "min": 1}, …]} is met once
      every listed condition has at least `min` events with one of its names;
    - trait: {"trait": "animal_count", "op": ">=", "value": 1} is met once the
      breeder's field compares true.
    """
    if not isinstance(rule, dict):
        raise ValidationError('The rule must be a JSON object with "all" or "trait".')
    if "all" in rule:
        conditions = rule["all"]
        if not isinstance(conditions, list) or not conditions:
            raise ValidationError('"all" must be a non-empty list of conditions.')
        for index, condition in enumerate(conditions):
            events = condition.get("events") if isinstance(condition, dict) else None
            if (
                not isinstance(events, list)
                or not events
                or not all(isinstance(name, str) and name for name in events)
            ):
                raise ValidationError(
                    f'Condition {index + 1}: "events" must be a non-empty list of event names.'
                )
            minimum = condition.get("min", 1)
            if not isinstance(minimum, int) or minimum < 1:
                raise ValidationError(f'Condition {index + 1}: "min" must be a whole number ≥ 1.')
        return
    if "trait" in rule:
        if rule["trait"] not in TRAIT_FIELDS:
            raise ValidationError(
                f'"trait" must be one of {", ".join(sorted(TRAIT_FIELDS))}; got {rule["trait"]!r}.'
            )
        if rule.get("op") not in RULE_OPERATORS:
            raise ValidationError(f'"op" must be one of {", ".join(RULE_OPERATORS)}.')
        if "value" not in rule:
            raise ValidationError('A trait rule needs a "value" to compare with.')
        return
    raise ValidationError('The rule must have "all" (event conditions) or "trait".')


class MilestoneDefinition(WorkspaceOwned):
    """An onboarding milestone: what the breeder must do and by which day."""

    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    target_day = models.PositiveIntegerField(
        validators=[MinValueValidator(0)],
        help_text="Days after signup (day 0) by which the milestone is on time.",
    )
    order = models.PositiveIntegerField(default=0)
    rule = models.JSONField(
        validators=[validate_milestone_rule],
        help_text='Events: {"all": [{"events": ["Pedigree Created"], "min": 1}]}. '
        'Trait: {"trait": "animal_count", "op": ">=", "value": 1}.',
    )
    active = models.BooleanField(default=True)
    send_nudge_when_missed = models.BooleanField(
        default=False, help_text="Let programs send a nudge email when this is missed."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        ordering = ["order", "target_day"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="milestone_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (day {self.target_day})"

    def event_names(self) -> list[str]:
        return sorted({name for c in self.rule.get("all", []) for name in c["events"]})


class AchievementStatus(models.TextChoices):
    ON_TIME = "on_time", "Achieved on time"
    LATE = "late", "Achieved late"
    MISSED = "missed", "Missed"


class MilestoneAchievement(WorkspaceOwned):
    """One breeder's result for one milestone.

    A missed milestone that is achieved later becomes "late" and keeps `missed_at`.
    """

    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    milestone = models.ForeignKey(MilestoneDefinition, on_delete=models.CASCADE)
    status = models.CharField(max_length=10, choices=AchievementStatus.choices)
    due_at = models.DateTimeField()
    achieved_at = models.DateTimeField(null=True, blank=True)
    missed_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["breeder", "milestone"], name="achievement_one_per_milestone"
            ),
        ]
        indexes = [
            # KPI reports: a workspace's results per milestone and status.
            models.Index(
                fields=["workspace", "milestone", "status"], name="achievement_ws_status_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.breeder_id} {self.milestone_id}: {self.status}"


DEFAULT_MILESTONES: list[dict[str, Any]] = [
    {
        "key": "account_setup",
        "name": "Account set up and first animal record",
        "target_day": 1,
        "rule": {
            "all": [
                {"events": ["Profile Completed"], "min": 1},
                {"events": ["Animal Created"], "min": 1},
            ]
        },
    },
    {
        "key": "first_pedigree",
        "name": "First pedigree",
        "target_day": 3,
        "rule": {"all": [{"events": ["Pedigree Created"], "min": 1}]},
    },
    {
        "key": "community",
        "name": "First community engagement",
        "target_day": 7,
        "rule": {
            "all": [
                {
                    "events": ["Forum Post Created", "Forum Reply Created", "Connection Made"],
                    "min": 1,
                }
            ]
        },
    },
    {
        "key": "marketplace",
        "name": "Marketplace exploration or first listing",
        "target_day": 14,
        "rule": {"all": [{"events": ["Marketplace Browsed", "Listing Published"], "min": 1}]},
    },
    {
        "key": "assessment",
        "name": "Platform-utilisation assessment completed",
        "target_day": 30,
        "rule": {"all": [{"events": ["Assessment Completed"], "min": 1}]},
    },
]


class TimelineKind(models.TextChoices):
    PHASE_CHANGED = "phase_changed", "Phase changed"
    MILESTONE_ACHIEVED = "milestone_achieved", "Milestone achieved"
    MILESTONE_MISSED = "milestone_missed", "Milestone missed"
    NOTE = "note", "Note"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    TICKET = "ticket", "Support ticket"
    BILLING = "billing", "Billing"
    EMAIL = "email", "Email"
    SURVEY = "survey", "Survey answer"
    TASK = "task", "Task"


class TimelineEntry(WorkspaceOwned):
    """One thing that happened to a breeder, for the breeder's timeline.

    Raw product events are not copied here; the timeline shows them summarised per
    day from the daily activity rollups. `source_key` makes writers idempotent: an
    entry for the same source is written once however often its job runs.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=TimelineKind.choices)
    occurred_at = models.DateTimeField()
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_key = models.CharField(max_length=200, null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        verbose_name_plural = "timeline entries"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source_key"],
                name="timeline_unique_source",
                condition=models.Q(source_key__isnull=False),
            ),
        ]
        indexes = [
            # The breeder timeline, newest first.
            models.Index(fields=["breeder", "-occurred_at"], name="timeline_breeder_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d} {self.kind}: {self.title}"
