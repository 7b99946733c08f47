"""Turn raw metrics into scores, explanations and snapshots, set-based per workspace.

1. `load_inputs` reads every breeder's metrics in a few grouped queries.
2. Each breeder's measures are scored on their curves; a measure with no data or
   stale data is left out and its weight spread over the rest of its category, and an
   empty category's weight over the other categories.
3. Scores and the day's snapshot are written with one multi-row upsert each, and
   compared with the previous snapshot to explain the change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from health.measures import MEASURES_BY_KEY, interpolate
from health.metrics import BreederInputs, WorkspaceInputs, load_inputs
from health.models import Category, HealthMeasure, HealthModel, HealthScore, HealthSnapshot
from health.services import ensure_active_model
from lifecycle.journey import settings_for

logger = logging.getLogger(__name__)

ACTIVITY_MEASURES = {
    "login_frequency",
    "feature_adoption",
    "community_engagement",
    "growth",
    "marketplace_activity",
    "integration_depth",
    "advocacy",
}
WRITE_BATCH = 2000


@dataclass
class MeasureResult:
    key: str
    category: str
    status: str  # "ok", "missing" or "stale"
    raw: float | None = None
    score: float | None = None
    as_of: str | None = None
    weight: float = 0.0
    contribution: float = 0.0
    text: str = ""


@dataclass
class BreederResult:
    breeder_id: int
    score: float | None
    band: str
    coverage: float
    provisional: bool
    categories: dict[str, float | None]
    measures: dict[str, dict[str, Any]]
    inputs: BreederInputs
    previous_score: float | None = None
    previous_band: str = ""
    trend_7d: float | None = None
    trend_30d: float | None = None
    explanation: list[str] = field(default_factory=list)


def _raw_value(
    key: str, inputs: BreederInputs, feeds: WorkspaceInputs, measure: HealthMeasure
) -> tuple[str, float | None, date | None]:
    """Return (status, raw value, as-of day) for one measure of one breeder."""
    as_of = feeds.as_of
    if key in ACTIVITY_MEASURES:
        if not inputs.has_activity:
            return "missing", None, None
        raw, seen = float(inputs.activity[key]), feeds.activity_feed_day
    elif key == "data_quality":
        raw, seen = inputs.profile_completeness, inputs.profile_as_of
    elif key in ("subscription_status", "renewal_likelihood"):
        if inputs.subscription is None:
            return "missing", None, None
        status_score, tenure, seen = inputs.subscription
        raw = status_score if key == "subscription_status" else tenure
    elif key == "support_interactions":
        if feeds.ticket_feed_day is None:
            return "missing", None, None
        raw, seen = float(inputs.tickets_in_window), feeds.ticket_feed_day
    elif key == "survey_responses":
        if inputs.survey_average is None:
            return "missing", None, None
        raw, seen = inputs.survey_average, inputs.survey_as_of
    else:
        return "missing", None, None
    if measure.freshness_days is not None and (
        seen is None or seen < as_of - timedelta(days=measure.freshness_days)
    ):
        return "stale", raw, seen
    return "ok", raw, seen


def phase_of(days_since_signup: int, boundaries: tuple[int, int, int]) -> str:
    adoption, growth, advocacy = boundaries
    if days_since_signup >= advocacy:
        return "advocacy"
    if days_since_signup >= growth:
        return "growth"
    if days_since_signup >= adoption:
        return "adoption"
    return "onboarding"


def score_breeder(
    breeder_id: int,
    inputs: BreederInputs,
    feeds: WorkspaceInputs,
    model: HealthModel,
    measures: Sequence[HealthMeasure],
    boundaries: tuple[int, int, int],
) -> BreederResult:
    phase = phase_of((feeds.as_of - inputs.signed_up_on).days, boundaries)
    results: list[MeasureResult] = []
    for measure in measures:
        status, raw, seen = _raw_value(measure.key, inputs, feeds, measure)
        result = MeasureResult(
            key=measure.key,
            category=measure.category,
            status=status,
            raw=raw,
            as_of=seen.isoformat() if seen else None,
        )
        if status == "ok" and raw is not None:
            curve = measure.phase_curves.get(phase) or measure.curve
            result.score = round(interpolate(curve, raw), 1)
            spec = MEASURES_BY_KEY.get(measure.key)
            result.text = spec.describe(raw, measure.window_days) if spec else f"{raw:g}"
        results.append(result)

    category_weights = model.category_weights()
    by_category: dict[str, list[tuple[MeasureResult, int]]] = {c: [] for c in Category.values}
    for result, measure in zip(results, measures, strict=True):
        by_category[measure.category].append((result, measure.weight))
    category_scores: dict[str, float | None] = {}
    for category, members in by_category.items():
        usable = [(r, w) for r, w in members if r.status == "ok" and w > 0]
        total = sum(w for _, w in usable)
        weighted = sum((r.score or 0.0) * w for r, w in usable)
        category_scores[category] = weighted / total if total else None
    present = {c: w for c, w in category_weights.items() if category_scores[c] is not None}
    present_total = sum(present.values())
    coverage = 0.0
    score: float | None = None
    if present_total:
        score = sum((category_scores[c] or 0.0) * w for c, w in present.items()) / present_total
        for category, members in by_category.items():
            usable = [(r, w) for r, w in members if r.status == "ok" and w > 0]
            total = sum(w for _, w in usable)
            for result, weight in usable:
                coverage += category_weights[category] * weight / 10000
                if category in present:
                    result.weight = present[category] / present_total * weight / total
                    result.contribution = round(result.weight * (result.score or 0), 2)
        score = round(score, 1)
    return BreederResult(
        breeder_id=breeder_id,
        score=score,
        band=model.band_for(score),
        coverage=round(coverage, 3),
        provisional=coverage * 100 < model.provisional_below_coverage,
        categories={
            c: (round(v, 1) if v is not None else None) for c, v in category_scores.items()
        },
        measures={r.key: r.__dict__ for r in results},
        inputs=inputs,
    )


def explain_change(
    current: BreederResult,
    previous_measures: dict[str, Any],
    previous_score: float | None,
    previous_day: date,
) -> list[str]:
    """Rank the measures that moved the score since the previous snapshot, in plain words."""
    if current.score is None or previous_score is None:
        return []
    lines = [f"{current.score - previous_score:+.0f} since {previous_day:%d %b %Y}"]
    deltas = []
    for key, now in current.measures.items():
        before = previous_measures.get(key, {})
        delta = now.get("contribution", 0.0) - before.get("contribution", 0.0)
        if abs(delta) >= 0.5:
            reason = (
                now.get("text") or f"{key.replace('_', ' ')} no longer counted ({now['status']})"
            )
            if before.get("text") and before.get("text") != now.get("text"):
                reason += f"; was: {before['text']}"
            deltas.append((abs(delta), f"{now['category']} {delta:+.0f}: {reason}"))
    deltas.sort(reverse=True)
    return lines + [text for _, text in deltas[:4]]


def active_model(workspace_id: int) -> tuple[HealthModel, list[HealthMeasure]]:
    model = ensure_active_model(workspace_id)
    return model, list(model.measures.all().order_by("category", "key"))


def _latest_snapshots(breeder_ids: Iterable[int], on_or_before: date) -> dict[int, HealthSnapshot]:
    """Return each breeder's newest snapshot on or before a day (one DISTINCT ON query)."""
    rows = (
        HealthSnapshot.objects.filter(breeder_id__in=list(breeder_ids), day__lte=on_or_before)
        .order_by("breeder_id", "-day")
        .distinct("breeder_id")
    )
    return {row.breeder_id: row for row in rows}


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 1)))


@transaction.atomic
def recompute(
    workspace_id: int,
    as_of: date | None = None,
    breeder_ids: Sequence[int] | None = None,
    *,
    model: HealthModel | None = None,
    persist: bool = True,
) -> list[BreederResult]:
    """Score the workspace's breeders (or the given ones) as of a day.

    Writes each breeder's current score (when `as_of` is today) and the day's snapshot;
    running it again for the same day rewrites the same rows.
    """
    as_of = as_of or timezone.localdate()
    if model is None:
        model, measures = active_model(workspace_id)
    else:
        measures = list(model.measures.all().order_by("category", "key"))
    windows = {m.key: m.window_days for m in measures}
    feeds = load_inputs(workspace_id, as_of, windows, breeder_ids)
    settings = settings_for(workspace_id)
    boundaries = (
        settings.adoption_starts_day,
        settings.growth_starts_day,
        settings.advocacy_starts_day,
    )
    results = [
        score_breeder(breeder_id, inputs, feeds, model, measures, boundaries)
        for breeder_id, inputs in feeds.breeders.items()
    ]
    if not persist or not results:
        return results

    ids = [r.breeder_id for r in results]
    previous = _latest_snapshots(ids, as_of - timedelta(days=1))
    week_ago = _latest_snapshots(ids, as_of - timedelta(days=7))
    month_ago = _latest_snapshots(ids, as_of - timedelta(days=30))
    for result in results:
        before = previous.get(result.breeder_id)
        if before is not None:
            result.previous_score = float(before.score) if before.score is not None else None
            result.previous_band = before.band
            result.explanation = explain_change(
                result, before.measures, result.previous_score, before.day
            )
        for history, attribute in ((week_ago, "trend_7d"), (month_ago, "trend_30d")):
            old = history.get(result.breeder_id)
            if old is not None and old.score is not None and result.score is not None:
                setattr(result, attribute, round(result.score - float(old.score), 1))

    now = timezone.now()
    snapshots = [
        HealthSnapshot(
            workspace_id=workspace_id,
            breeder_id=r.breeder_id,
            day=as_of,
            model=model,
            score=_decimal(r.score),
            band=r.band,
            coverage=Decimal(str(r.coverage)),
            measures=r.measures,
        )
        for r in results
    ]
    HealthSnapshot.objects.bulk_create(
        snapshots,
        batch_size=WRITE_BATCH,
        update_conflicts=True,
        unique_fields=["breeder", "day"],
        update_fields=["model", "score", "band", "coverage", "measures"],
    )
    if as_of >= timezone.localdate():
        scores = [
            HealthScore(
                workspace_id=workspace_id,
                breeder_id=r.breeder_id,
                model=model,
                score=_decimal(r.score),
                band=r.band,
                coverage=Decimal(str(r.coverage)),
                provisional=r.provisional,
                categories=r.categories,
                measures=r.measures,
                explanation=r.explanation,
                trend_7d=_decimal(r.trend_7d),
                trend_30d=_decimal(r.trend_30d),
                as_of=as_of,
                computed_at=now,
            )
            for r in results
        ]
        HealthScore.objects.bulk_create(
            scores,
            batch_size=WRITE_BATCH,
            update_conflicts=True,
            unique_fields=["breeder"],
            update_fields=[
                "model",
                "score",
                "band",
                "coverage",
                "provisional",
                "categories",
                "measures",
                "explanation",
                "trend_7d",
                "trend_30d",
                "as_of",
                "computed_at",
            ],
        )
    logger.info(
        "Workspace %s: scored %s breeders as of %s with model v%s",
        workspace_id,
        len(results),
        as_of,
        model.version,
    )
    return results
