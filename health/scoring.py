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
from psycopg.types.json import Jsonb

from health.bulk import copy_upsert, dumps
from health.measures import MEASURES_BY_KEY, interpolate
from health.metrics import BreederInputs, WorkspaceInputs, load_inputs
from health.models import HealthMeasure, HealthModel, HealthScore, HealthSnapshot
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


@dataclass(frozen=True)
class CompiledMeasure:
    """A measure's settings in the shape the scoring loop reads fastest."""

    key: str
    category: str
    weight: int
    window_days: int
    freshness_days: int | None
    curve: list[list[float]]
    phase_curves: dict[str, list[list[float]]]

    @classmethod
    def from_measure(cls, measure: HealthMeasure) -> CompiledMeasure:
        return cls(
            measure.key,
            measure.category,
            measure.weight,
            measure.window_days,
            measure.freshness_days,
            measure.curve,
            measure.phase_curves or {},
        )

    def describe(self, raw: float) -> str:
        spec = MEASURES_BY_KEY.get(self.key)
        return spec.describe(raw, self.window_days) if spec else f"{raw:g}"


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
    measure: CompiledMeasure, inputs: BreederInputs, feeds: WorkspaceInputs
) -> tuple[str, float | None, date | None]:
    """Return (status, raw value, as-of day) for one measure of one breeder."""
    key = measure.key
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
        seen is None or (feeds.as_of - seen).days > measure.freshness_days
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
    measures: Sequence[CompiledMeasure],
    boundaries: tuple[int, int, int],
) -> BreederResult:
    phase = phase_of((feeds.as_of - inputs.signed_up_on).days, boundaries)
    category_weights = model.category_weights()
    weighted_sum = dict.fromkeys(category_weights, 0.0)
    weight_total = dict.fromkeys(category_weights, 0)
    rows: dict[str, dict[str, Any]] = {}
    for measure in measures:
        status, raw, seen = _raw_value(measure, inputs, feeds)
        row: dict[str, Any] = {
            "status": status,
            "raw": raw,
            "as_of": seen.isoformat() if seen else None,
        }
        if status == "ok" and raw is not None:
            curve = measure.phase_curves.get(phase) or measure.curve
            row["score"] = round(interpolate(curve, raw), 1)
            if measure.weight:
                weighted_sum[measure.category] += row["score"] * measure.weight
                weight_total[measure.category] += measure.weight
        rows[measure.key] = row

    category_scores = {
        c: (weighted_sum[c] / weight_total[c] if weight_total[c] else None)
        for c in category_weights
    }
    present_total = sum(w for c, w in category_weights.items() if weight_total[c])
    score: float | None = None
    coverage = 0.0
    if present_total:
        score = round(
            sum(
                (category_scores[c] or 0.0) * w
                for c, w in category_weights.items()
                if weight_total[c]
            )
            / present_total,
            1,
        )
        for measure in measures:
            row = rows[measure.key]
            if "score" in row and measure.weight:
                category = measure.category
                coverage += category_weights[category] * measure.weight / 10000
                row["weight"] = round(
                    category_weights[category]
                    / present_total
                    * measure.weight
                    / weight_total[category],
                    4,
                )
                row["contribution"] = round(row["weight"] * row["score"], 2)
    return BreederResult(
        breeder_id=breeder_id,
        score=score,
        band=model.band_for(score),
        coverage=round(coverage, 3),
        provisional=coverage * 100 < model.provisional_below_coverage,
        categories={
            c: (round(v, 1) if v is not None else None) for c, v in category_scores.items()
        },
        measures=rows,
        inputs=inputs,
    )


def explain_change(
    current: BreederResult,
    previous_measures: dict[str, Any],
    previous_score: float | None,
    previous_day: date,
    measures: Sequence[CompiledMeasure],
) -> list[str]:
    """Rank the measures that moved the score since the previous snapshot, in plain words.

    The first line is the total change; then up to four measures, largest move first,
    such as "usage -8: no new animal records or pedigrees in 30 days".
    """
    if current.score is None or previous_score is None:
        return []
    lines = [f"{current.score - previous_score:+.0f} since {previous_day:%d %b %Y}"]
    deltas = []
    for measure in measures:
        now = current.measures.get(measure.key, {})
        before = previous_measures.get(measure.key, {})
        delta = now.get("contribution", 0.0) - before.get("contribution", 0.0)
        if abs(delta) < 0.5:
            continue
        if now.get("raw") is not None and now.get("status") == "ok":
            reason = measure.describe(now["raw"])
        else:
            reason = (
                f"{measure.key.replace('_', ' ')} left out ({now.get('status', 'missing')} data)"
            )
        if before.get("raw") is not None and before.get("raw") != now.get("raw"):
            reason += f"; was: {measure.describe(before['raw'])}"
        deltas.append((abs(delta), f"{measure.category} {delta:+.0f}: {reason}"))
    deltas.sort(key=lambda pair: pair[0], reverse=True)
    return lines + [text for _, text in deltas[:4]]


def active_model(workspace_id: int) -> tuple[HealthModel, list[HealthMeasure]]:
    model = ensure_active_model(workspace_id)
    return model, list(model.measures.all().order_by("category", "key"))


def compile_measures(measures: Iterable[HealthMeasure]) -> list[CompiledMeasure]:
    return [CompiledMeasure.from_measure(measure) for measure in measures]


@dataclass(frozen=True)
class PastSnapshot:
    day: date
    score: float | None
    band: str
    measures: dict[str, Any]


def _latest_snapshots(
    breeder_ids: Iterable[int], on_or_before: date, *, with_measures: bool = False
) -> dict[int, PastSnapshot]:
    """Return each breeder's newest snapshot on or before a day (one DISTINCT ON query).

    Rows are read as tuples, not model instances, and the measures only when asked for,
    because this runs for every breeder of the workspace three times per recompute.
    """
    fields = ["breeder_id", "day", "score", "band"] + (["measures"] if with_measures else [])
    rows = (
        HealthSnapshot.objects.filter(breeder_id__in=list(breeder_ids), day__lte=on_or_before)
        .order_by("breeder_id", "-day")
        .distinct("breeder_id")
        .values_list(*fields)
    )
    return {
        row[0]: PastSnapshot(
            row[1],
            float(row[2]) if row[2] is not None else None,
            row[3],
            row[4] if with_measures else {},
        )
        for row in rows
    }


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
    compiled = compile_measures(measures)
    windows = {m.key: m.window_days for m in measures}
    feeds = load_inputs(workspace_id, as_of, windows, breeder_ids)
    settings = settings_for(workspace_id)
    boundaries = (
        settings.adoption_starts_day,
        settings.growth_starts_day,
        settings.advocacy_starts_day,
    )
    results = [
        score_breeder(breeder_id, inputs, feeds, model, compiled, boundaries)
        for breeder_id, inputs in feeds.breeders.items()
    ]
    if not persist or not results:
        return results

    ids = [r.breeder_id for r in results]
    previous = _latest_snapshots(ids, as_of - timedelta(days=1), with_measures=True)
    week_ago = _latest_snapshots(ids, as_of - timedelta(days=7))
    month_ago = _latest_snapshots(ids, as_of - timedelta(days=30))
    for result in results:
        before = previous.get(result.breeder_id)
        if before is not None:
            result.previous_score = before.score
            result.previous_band = before.band
            result.explanation = explain_change(
                result, before.measures, result.previous_score, before.day, compiled
            )
        for history, attribute in ((week_ago, "trend_7d"), (month_ago, "trend_30d")):
            old = history.get(result.breeder_id)
            if old is not None and old.score is not None and result.score is not None:
                setattr(result, attribute, round(result.score - old.score, 1))

    now = timezone.now()
    copy_upsert(
        HealthSnapshot,
        ["workspace_id", "breeder_id", "day", "model_id", "score", "band", "coverage", "measures"],
        (
            (
                workspace_id,
                r.breeder_id,
                as_of,
                model.pk,
                _decimal(r.score),
                r.band,
                r.coverage,
                Jsonb(r.measures, dumps),
            )
            for r in results
        ),
        conflict=["breeder_id", "day"],
        update=["model_id", "score", "band", "coverage", "measures"],
    )
    if as_of >= timezone.localdate():
        copy_upsert(
            HealthScore,
            [
                "workspace_id",
                "breeder_id",
                "model_id",
                "score",
                "band",
                "coverage",
                "provisional",
                "categories",
                "explanation",
                "trend_7d",
                "trend_30d",
                "as_of",
                "computed_at",
            ],
            (
                (
                    workspace_id,
                    r.breeder_id,
                    model.pk,
                    _decimal(r.score),
                    r.band,
                    r.coverage,
                    r.provisional,
                    Jsonb(r.categories, dumps),
                    Jsonb(r.explanation, dumps),
                    _decimal(r.trend_7d),
                    _decimal(r.trend_30d),
                    as_of,
                    now,
                )
                for r in results
            ),
            conflict=["breeder_id"],
            update=[
                "model_id",
                "score",
                "band",
                "coverage",
                "provisional",
                "categories",
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
