"""Health-score models (versioned), scores, daily snapshots and alerts."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.models import Breeder, User, WorkspaceOwned


class Category(models.TextChoices):
    USAGE = "usage", "Usage"
    BUSINESS = "business", "Business"
    SATISFACTION = "satisfaction", "Satisfaction"


class Band(models.TextChoices):
    GREEN = "green", "Thriving"
    YELLOW = "yellow", "Stable"
    RED = "red", "At risk"


class ModelStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class HealthModel(WorkspaceOwned):
    """One version of a workspace's health-score model.

    Only a draft can be edited. Activating a draft retires the active version, so
    every score records the exact version that produced it.
    """

    name = models.CharField(max_length=200, default="Default health model")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=ModelStatus.choices, default=ModelStatus.DRAFT)
    usage_weight = models.PositiveSmallIntegerField(default=40)
    business_weight = models.PositiveSmallIntegerField(default=30)
    satisfaction_weight = models.PositiveSmallIntegerField(default=30)
    green_from = models.PositiveSmallIntegerField(default=80)
    yellow_from = models.PositiveSmallIntegerField(default=60)
    provisional_below_coverage = models.PositiveSmallIntegerField(
        default=60,
        validators=[MaxValueValidator(100)],
        help_text="Scores whose inputs cover less than this percentage of the weight are "
        "shown as provisional.",
    )
    drop_alert_points = models.PositiveSmallIntegerField(
        default=15, help_text="Raise an alert when the score falls this many points in 7 days."
    )
    anomaly_ratio = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=0.3,
        help_text="Usage anomaly: last 7 days below this share of the 28-day weekly baseline.",
    )
    anomaly_min_weekly_events = models.PositiveIntegerField(
        default=10, help_text="Usage anomalies need at least this many events a week at baseline."
    )
    alert_cooldown_days = models.PositiveSmallIntegerField(
        default=7, help_text="After an alert is resolved, the same kind waits this long."
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "version"], name="health_model_unique_version"
            ),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(status="active"),
                name="health_model_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.get_status_display()})"

    def category_weights(self) -> dict[str, int]:
        return {
            Category.USAGE: self.usage_weight,
            Category.BUSINESS: self.business_weight,
            Category.SATISFACTION: self.satisfaction_weight,
        }

    def band_for(self, score: float | None) -> str:
        if score is None:
            return ""
        if score >= self.green_from:
            return Band.GREEN
        if score >= self.yellow_from:
            return Band.YELLOW
        return Band.RED

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if sum(self.category_weights().values()) != 100:
            errors["usage_weight"] = (
                "Category weights must add up to 100; they add up to "
                f"{sum(self.category_weights().values())}."
            )
        if not 0 < self.yellow_from < self.green_from <= 100:
            errors["green_from"] = "Bands need 0 < yellow_from < green_from ≤ 100."
        if errors:
            raise ValidationError(errors)


def validate_curve(curve: Any) -> None:
    """Check a scoring curve: [[raw, score], …] with raw values increasing, scores 0-100."""
    if not isinstance(curve, list) or len(curve) < 2:
        raise ValidationError("A curve needs at least two [raw, score] points.")
    previous_raw = None
    for index, point in enumerate(curve):
        if (
            not isinstance(point, list | tuple)
            or len(point) != 2
            or not all(isinstance(v, int | float) for v in point)
        ):
            raise ValidationError(f"Point {index + 1} must be [raw value, score].")
        raw, score = point
        if not 0 <= score <= 100:
            raise ValidationError(f"Point {index + 1}: the score {score} is outside 0-100.")
        if previous_raw is not None and raw <= previous_raw:
            raise ValidationError(
                f"Point {index + 1}: raw values must increase; {raw} follows {previous_raw}."
            )
        previous_raw = raw


class HealthMeasure(WorkspaceOwned):
    """One measure of a health model: its metric, window, freshness limit and curve."""

    model = models.ForeignKey(HealthModel, on_delete=models.CASCADE, related_name="measures")
    key = models.CharField(max_length=40, help_text="Which metric this measure reads.")
    category = models.CharField(max_length=20, choices=Category.choices)
    weight = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Share of its category, in percent; a category's measures add up to 100.",
    )
    window_days = models.PositiveSmallIntegerField(default=30)
    freshness_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Inputs older than this are stale and left out."
    )
    curve = models.JSONField(validators=[validate_curve])
    phase_curves = models.JSONField(
        default=dict,
        blank=True,
        help_text='Optional curves per lifecycle phase, e.g. {"onboarding": [[0, 0], [2, 100]]}.',
    )

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["model", "key"], name="health_measure_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.category}, {self.weight}%)"


class HealthScore(WorkspaceOwned):
    """A breeder's current score. Recomputed by the health jobs; one row per breeder."""

    # The reverse name lets the portfolio join scores to breeders in one query.
    breeder = models.OneToOneField(Breeder, on_delete=models.CASCADE, related_name="health_score")
    model = models.ForeignKey(HealthModel, on_delete=models.PROTECT, related_name="+")
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True)
    band = models.CharField(max_length=10, choices=Band.choices, blank=True)
    coverage = models.DecimalField(max_digits=4, decimal_places=3)
    provisional = models.BooleanField(default=False)
    categories = models.JSONField(default=dict)
    # The per-measure breakdown lives in the day's snapshot, so it is written once.
    explanation = models.JSONField(default=list, blank=True)
    trend_7d = models.DecimalField(max_digits=5, decimal_places=1, null=True)
    trend_30d = models.DecimalField(max_digits=5, decimal_places=1, null=True)
    as_of = models.DateField()
    # When the stored values last changed: a rerun that computes the same values leaves
    # the row, and this time, as they were.
    computed_at = models.DateTimeField()

    # Migration 0003 sets fillfactor 70 on this table, so that the daily rewrite of every
    # row can keep the new version on the same page without new index entries.
    class Meta(WorkspaceOwned.Meta):
        indexes = [
            models.Index(fields=["workspace", "band"], name="health_score_ws_band_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.breeder_id}: {self.score} ({self.band})"


class HealthSnapshot(WorkspaceOwned):
    """A breeder's score as of one day, for history, trends and explanations."""

    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    model = models.ForeignKey(HealthModel, on_delete=models.PROTECT, related_name="+")
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True)
    band = models.CharField(max_length=10, choices=Band.choices, blank=True)
    coverage = models.DecimalField(max_digits=4, decimal_places=3)
    measures = models.JSONField(default=dict)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["breeder", "day"], name="health_snapshot_unique_day"),
        ]
        indexes = [
            models.Index(fields=["workspace", "day"], name="health_snapshot_ws_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.breeder_id} {self.day}: {self.score}"


class AlertKind(models.TextChoices):
    ENTERED_RED = "entered_red", "Entered the red band"
    LEFT_GREEN = "left_green", "Dropped from green to yellow"
    SCORE_DROP = "score_drop", "Score dropped sharply"
    USAGE_ANOMALY = "usage_anomaly", "Usage fell far below normal"
    MILESTONE_MISSED = "milestone_missed", "Missed an onboarding milestone"
    RENEWAL_90 = "renewal_90", "Renewal in 90 days"
    RENEWAL_60 = "renewal_60", "Renewal in 60 days"
    RENEWAL_30 = "renewal_30", "Renewal in 30 days"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    DETRACTOR = "detractor", "Detractor survey answer"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


ALERT_SEVERITY = {
    AlertKind.ENTERED_RED: Severity.CRITICAL,
    AlertKind.PAYMENT_FAILED: Severity.HIGH,
    AlertKind.SCORE_DROP: Severity.HIGH,
    AlertKind.DETRACTOR: Severity.HIGH,
    AlertKind.USAGE_ANOMALY: Severity.MEDIUM,
    AlertKind.LEFT_GREEN: Severity.MEDIUM,
    AlertKind.MILESTONE_MISSED: Severity.MEDIUM,
    AlertKind.RENEWAL_30: Severity.MEDIUM,
    AlertKind.RENEWAL_60: Severity.LOW,
    AlertKind.RENEWAL_90: Severity.LOW,
}


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"


UNRESOLVED_STATES = [AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.SNOOZED]


class Alert(WorkspaceOwned):
    """Something about a breeder that needs a human.

    At most one unresolved alert per breeder and kind (a partial unique constraint),
    so a job that runs twice, or a condition that persists, never raises it twice.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    state = models.CharField(max_length=15, choices=AlertState.choices, default=AlertState.OPEN)
    owner = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The breeder's CSM; empty means the digital-success pool.",
    )
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField()
    snoozed_until = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["breeder", "kind"],
                condition=~models.Q(state="resolved"),
                name="alert_one_unresolved_per_kind",
            ),
        ]
        indexes = [
            # The alerts inbox: a CSM's (or the pool's) unresolved alerts.
            models.Index(fields=["workspace", "owner", "state"], name="alert_inbox_idx"),
            models.Index(fields=["breeder", "kind", "-resolved_at"], name="alert_cooldown_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.breeder_id} ({self.state})"


class ScoringCursor(WorkspaceOwned):
    """When the incremental job last looked for changed inputs in a workspace."""

    workspace = models.OneToOneField(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    changed_since = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.workspace_id}: {self.changed_since:%Y-%m-%d %H:%M}"


class AlertDigest(WorkspaceOwned):
    """A daily alert digest sent to one member; the unique day makes it once a day."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    alert_count = models.PositiveIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user", "day"], name="alert_digest_once_a_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.alert_count} alerts"
