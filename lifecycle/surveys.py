"""Recording survey answers, from any source, with their timeline entry."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Breeder
from lifecycle.models import SurveyAnswer, SurveyKind, TimelineEntry, TimelineKind

SCALES = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}


def validate_score(kind: str, score: int) -> None:
    low, high = SCALES[SurveyKind(kind)]
    if not low <= score <= high:
        raise ValidationError({"score": f"Choose a whole number from {low} to {high}."})


@transaction.atomic
def record_survey_answer(
    breeder: Breeder,
    *,
    kind: str,
    score: int,
    comment: str,
    source_key: str,
    answered_at: datetime,
    survey_name: str = "",
) -> tuple[SurveyAnswer, bool]:
    """Store one answer per `source_key`; a second call with the same key changes it.

    Returns the answer and whether it was new. The timeline gets one entry per answer,
    updated when the answer changes.
    """
    validate_score(kind, score)
    answer, created = SurveyAnswer.objects.select_for_update().get_or_create(
        workspace_id=breeder.workspace_id,
        source_key=source_key,
        defaults={
            "breeder": breeder,
            "kind": kind,
            "score": score,
            "comment": comment.strip(),
            "answered_at": answered_at,
        },
    )
    if not created:
        answer.score = score
        answer.comment = comment.strip()
        answer.answered_at = answered_at
        answer.save(update_fields=["score", "comment", "answered_at"])
    label = survey_name or SurveyKind(kind).label
    scale = SCALES[SurveyKind(kind)]
    TimelineEntry.objects.update_or_create(
        workspace_id=breeder.workspace_id,
        source_key=f"survey:{source_key}",
        defaults={
            "breeder": breeder,
            "kind": TimelineKind.SURVEY,
            "occurred_at": answered_at,
            "title": f"{label}: {score} of {scale[1]}" + ("" if created else " (changed)"),
            "body": comment.strip(),
        },
    )
    return answer, created
