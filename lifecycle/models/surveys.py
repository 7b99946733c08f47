"""Survey answers from breeders: NPS (0-10) and CSAT (1-5)."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.models import Breeder, WorkspaceOwned


class SurveyKind(models.TextChoices):
    NPS = "nps", "Net Promoter Score (0-10)"
    CSAT = "csat", "Customer satisfaction (1-5)"


class SurveyAnswer(WorkspaceOwned):
    """One breeder's answer to one survey question.

    `source_key` identifies what was answered (a survey send, a help-desk rating), so
    the same answer arriving twice is stored once.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=SurveyKind.choices)
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField()
    source_key = models.CharField(max_length=200)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source_key"], name="survey_answer_unique_source"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="nps", score__lte=10)
                | models.Q(kind="csat", score__gte=1, score__lte=5),
                name="survey_answer_score_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["breeder", "-answered_at"], name="survey_breeder_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.score} from {self.breeder_id}"

    @property
    def is_detractor(self) -> bool:
        return (self.kind == SurveyKind.NPS and self.score <= 6) or (
            self.kind == SurveyKind.CSAT and self.score <= 2
        )
