"""Turn raw metrics into scores, explanations and snapshots, set-based per workspace.

1. `load_inputs` reads every breeder's metrics in one grouped query, as numpy columns.
2. `health.vectorised.score_table` scores every measure of every breeder on its curve;
   a measure with no data or stale data is left out and its weight spread over the rest
   of its category, and an empty category's weight over the other categories.
   `score_breeder` below is the same rule for one breeder in plain Python: the
   reference the vectorised scorer is tested against.
3. `health.snapshots.load_history` reads each breeder's earlier snapshots, to explain
   the change and give the trends. The scores and the day's snapshots are written with
   COPY: the first run of a day inserts its snapshots directly, and otherwise an upsert
   rewrites only the rows whose values changed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np
import orjson
from django.db import connection, transaction
from django.utils import timezone

from health.bulk import copy_insert, copy_json, copy_numbers, copy_text, copy_upsert
from health.measures import CompiledMeasure, interpolate
from health.metrics import (
    ACTIVITY_MEASURES,
    BreederInputs,
    WorkspaceInputs,
    load_inputs,
)
from health.models import HealthMeasure, HealthModel, HealthScore, HealthSnapshot
from health.services import ensure_active_model
from health.snapshots import History, load_history
from health.vectorised import (
    STATUS_NAMES,
    BreakdownEncoder,
    ScoreTable,
    round_half_even,
    score_table,
)
from lifecycle.journey import settings_for

logger = logging.getLogger(__name__)

# Hash aggregation of the activity rollups keeps one group of about 400 bytes per breeder
# in memory. Beyond this memory PostgreSQL sorts or spills to disk instead, which is slower.
WORK_MEM = "64MB"


@dataclass(eq=False)
class BreederResult:
    """One breeder's outcome of a recompute, read from the workspace's score table.

    `measures` and `categories` are built on first access, because a whole-workspace
    run makes one result per breeder and most callers read only the score and band.
    """

    breeder_id: int
    score: float | None
    band: str
    coverage: float
    provisional: bool
    # Inputs of the usage anomaly alert: events in the last 7 days and the weekly
    # average of the 28 days before.
    events_last_7: int
    weekly_baseline: float
    table: ScoreTable = field(repr=False)
    index: int = field(repr=False)
    previous_score: float | None = None
    previous_band: str = ""
    trend_7d: float | None = None
    trend_30d: float | None = None
    explanation: list[str] = field(default_factory=list)

    @cached_property
    def measures(self) -> dict[str, dict[str, Any]]:
        return self.table.measure_rows(self.index)

    @cached_property
    def categories(self) -> dict[str, float | None]:
        return self.table.categories_of(self.index)


@dataclass
class BreederScore:
    """One breeder's score as the reference scorer computes it."""

    score: float | None
    band: str
    coverage: float
    provisional: bool
    categories: dict[str, float | None]
    measures: dict[str, dict[str, Any]]


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
    inputs: BreederInputs,
    feeds: WorkspaceInputs,
    model: HealthModel,
    measures: Sequence[CompiledMeasure],
    boundaries: tuple[int, int, int],
) -> BreederScore:
    """Score one breeder: the reference for `health.vectorised.score_table`."""
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
        # Added one by one, left to right, because sum() of floats rounds differently
        # from Python 3.12 on.
        weighted_total = 0.0
        for c, w in category_weights.items():
            if weight_total[c]:
                weighted_total += (category_scores[c] or 0.0) * w
        score = round(weighted_total / present_total, 1)
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
    return BreederScore(
        score=score,
        band=model.band_for(score),
        coverage=round(coverage, 3),
        provisional=coverage * 100 < model.provisional_below_coverage,
        categories={
            c: (round(v, 1) if v is not None else None) for c, v in category_scores.items()
        },
        measures=rows,
    )


@dataclass
class MeasureMove:
    """The change of one measure's contribution since the previous snapshot."""

    measure: CompiledMeasure
    delta: float
    status: str
    raw: float | None
    previous_raw: float | None


def explain_change(
    score: float, previous_score: float, previous_day: str, moves: Sequence[MeasureMove]
) -> list[str]:
    """Rank the measures that moved the score since the previous snapshot, in plain words.

    The first line is the total change; then up to four measures, largest move first,
    such as "usage -8: no new animal records or pedigrees in 30 days". `previous_day` is
    the previous snapshot's day as "30 Nov 2026". `moves` lists the measures whose
    contribution changed by at least half a point, in the model's order.
    """
    lines = [f"{score - previous_score:+.0f} since {previous_day}"]
    deltas = []
    for move in moves:
        measure = move.measure
        if move.raw is not None and move.status == "ok":
            reason = measure.describe(move.raw)
        else:
            reason = f"{measure.key.replace('_', ' ')} left out ({move.status} data)"
        if move.previous_raw is not None and move.previous_raw != move.raw:
            reason += f"; was: {measure.describe(move.previous_raw)}"
        deltas.append((abs(move.delta), f"{measure.category} {move.delta:+.0f}: {reason}"))
    deltas.sort(key=lambda pair: pair[0], reverse=True)
    return lines + [text for _, text in deltas[:4]]


def active_model(workspace_id: int) -> tuple[HealthModel, list[HealthMeasure]]:
    model = ensure_active_model(workspace_id)
    return model, list(model.measures.all().order_by("category", "key"))


def compile_measures(measures: Iterable[HealthMeasure]) -> list[CompiledMeasure]:
    return [CompiledMeasure.from_measure(measure) for measure in measures]


def _optional(value: float) -> float | None:
    """Return None for NaN, which stands for a missing value in the arrays."""
    return None if math.isnan(value) else value


def _build_results(
    table: ScoreTable, inputs: WorkspaceInputs, history: History | None
) -> list[BreederResult]:
    """Make one BreederResult per breeder, with trends and explanations when there is history."""
    events_last_7 = inputs.activity["events_last_7"].astype(np.int64).tolist()
    weekly_baseline = inputs.activity["weekly_baseline"].tolist()
    results = [
        BreederResult(
            breeder_id,
            None if math.isnan(score) else score,
            band,
            coverage,
            provisional,
            recent,
            baseline,
            table,
            index,
        )
        for index, (breeder_id, score, band, coverage, provisional, recent, baseline) in enumerate(
            zip(
                table.breeder_ids.tolist(),
                table.score.tolist(),
                table.band,
                table.coverage.tolist(),
                table.provisional.tolist(),
                events_last_7,
                weekly_baseline,
                strict=True,
            )
        )
    ]
    if history is not None:
        _add_trends(results, table, history)
        _add_explanations(results, table, history)
    return results


def _add_trends(results: list[BreederResult], table: ScoreTable, history: History) -> None:
    for attribute, old_scores in (
        ("trend_7d", history.week_score),
        ("trend_30d", history.month_score),
    ):
        trends = round_half_even(table.score - old_scores, 1)
        for index in np.flatnonzero(~np.isnan(trends)).tolist():
            setattr(results[index], attribute, float(trends[index]))


def _add_explanations(results: list[BreederResult], table: ScoreTable, history: History) -> None:
    """Set each breeder's previous score and band, and explain the change since then."""
    explained = history.previous_found & ~np.isnan(history.previous_score) & ~np.isnan(table.score)
    # The measures whose contribution moved by half a point or more, per breeder, in
    # the model's order.
    moves: dict[int, list[MeasureMove]] = {}
    for measure in table.measures:
        outcome = table.outcomes[measure.key]
        delta = (
            np.nan_to_num(outcome.contribution, nan=0.0)
            - history.previous_contribution[measure.key]
        )
        for index in np.flatnonzero(explained & (np.abs(delta) >= 0.5)).tolist():
            moves.setdefault(index, []).append(
                MeasureMove(
                    measure,
                    float(delta[index]),
                    STATUS_NAMES[int(outcome.status[index])],
                    _optional(float(outcome.raw[index])),
                    _optional(float(history.previous_raw[measure.key][index])),
                )
            )

    previous_scores = history.previous_score.tolist()
    days: dict[date, str] = {}
    for index in np.flatnonzero(history.previous_found).tolist():
        result = results[index]
        result.previous_score = _optional(previous_scores[index])
        result.previous_band = history.previous_band[index]
        previous_day = history.previous_day[index]
        if not explained[index] or previous_day is None:
            continue
        if previous_day not in days:
            days[previous_day] = f"{previous_day:%d %b %Y}"
        assert result.score is not None and result.previous_score is not None
        result.explanation = explain_change(
            result.score, result.previous_score, days[previous_day], moves.get(index, [])
        )


def _write_snapshots(workspace_id: int, as_of: date, model: HealthModel, table: ScoreTable) -> int:
    breeder_ids = [b"%d" % breeder_id for breeder_id in table.breeder_ids.tolist()]
    scores = copy_numbers(table.score)
    bands = [band.encode() for band in table.band]
    coverage = copy_numbers(table.coverage)
    breakdowns = BreakdownEncoder(table)
    constants = [b"%d" % workspace_id, as_of.isoformat().encode(), b"%d" % model.pk]

    def columns(start: int, stop: int) -> list[bytes | list[bytes]]:
        workspace, day, model_id = constants
        rows = slice(start, stop)
        return [
            workspace,
            breeder_ids[rows],
            day,
            model_id,
            scores[rows],
            bands[rows],
            coverage[rows],
            copy_json(breakdowns.encode(start, stop)),
        ]

    names = [
        "workspace_id",
        "breeder_id",
        "day",
        "model_id",
        "score",
        "band",
        "coverage",
        "measures",
    ]
    data = copy_text(len(table), columns)
    if not _has_snapshots(workspace_id, as_of):
        # The first run of a day: no row can conflict while this transaction holds the
        # workspace's recompute lock.
        copy_insert(HealthSnapshot, names, data)
        return len(table)
    return copy_upsert(
        HealthSnapshot,
        names,
        data,
        conflict=["breeder_id", "day"],
        update=["model_id", "score", "band", "coverage", "measures"],
    )


def _has_snapshots(workspace_id: int, day: date) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT FROM {HealthSnapshot._meta.db_table} "  # noqa: S608
            "WHERE workspace_id = %s AND day = %s)",
            [workspace_id, day],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _lock_workspace(workspace_id: int) -> None:
    """Wait for other recomputes of the workspace to commit; hold the lock until this one does.

    Two recomputes of one workspace then never write the same rows at once, and a run
    that finds no snapshot for its day can insert them without a conflict check.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"health.recompute:{workspace_id}"],
        )


def _write_scores(
    workspace_id: int,
    as_of: date,
    model: HealthModel,
    table: ScoreTable,
    results: Sequence[BreederResult],
) -> int:
    """Upsert the current scores; a row whose values did not change keeps its computed_at."""
    trend_7d = np.array([np.nan if r.trend_7d is None else r.trend_7d for r in results])
    trend_30d = np.array([np.nan if r.trend_30d is None else r.trend_30d for r in results])
    empty = orjson.dumps([])
    values: list[bytes | list[bytes]] = [
        b"%d" % workspace_id,
        [b"%d" % breeder_id for breeder_id in table.breeder_ids.tolist()],
        b"%d" % model.pk,
        copy_numbers(table.score),
        [band.encode() for band in table.band],
        copy_numbers(table.coverage),
        [b"t" if provisional else b"f" for provisional in table.provisional.tolist()],
        copy_json(table.categories_json()),
        copy_json([orjson.dumps(r.explanation) if r.explanation else empty for r in results]),
        copy_numbers(trend_7d),
        copy_numbers(trend_30d),
        as_of.isoformat().encode(),
        timezone.now().isoformat().encode(),
    ]

    def columns(start: int, stop: int) -> list[bytes | list[bytes]]:
        return [value if isinstance(value, bytes) else value[start:stop] for value in values]

    return copy_upsert(
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
        copy_text(len(results), columns),
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
        not_compared=["computed_at"],
    )


@transaction.atomic
def recompute(
    workspace_id: int,
    as_of: date | None = None,
    breeder_ids: Sequence[int] | None = None,
    *,
    model: HealthModel | None = None,
    persist: bool = True,
    as_current: bool = False,
) -> list[BreederResult]:
    """Score the workspace's breeders (or the given ones) as of a day.

    Writes the day's snapshot, and each breeder's current score when `as_of` is today
    or `as_current` is set (a replay of history whose last day stands for today).
    Running it again for the same day leaves the same rows, and rewrites only those
    whose values changed.
    """
    as_of = as_of or timezone.localdate()
    if model is None:
        model, measures = active_model(workspace_id)
    else:
        measures = list(model.measures.all().order_by("category", "key"))
    compiled = compile_measures(measures)
    windows = {m.key: m.window_days for m in measures}
    if persist:
        _lock_workspace(workspace_id)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    inputs = load_inputs(workspace_id, as_of, windows, breeder_ids)
    settings = settings_for(workspace_id)
    boundaries = (
        settings.adoption_starts_day,
        settings.growth_starts_day,
        settings.advocacy_starts_day,
    )
    table = score_table(inputs, model, compiled, boundaries)
    if not persist or not len(table):
        return _build_results(table, inputs, None)

    history = load_history(workspace_id, table, compiled, subset=breeder_ids is not None)
    results = _build_results(table, inputs, history)
    snapshots = _write_snapshots(workspace_id, as_of, model, table)
    scores = 0
    if as_current or as_of >= timezone.localdate():
        scores = _write_scores(workspace_id, as_of, model, table, results)
    logger.info(
        "Workspace %s: scored %s breeders as of %s with model v%s "
        "(%s snapshots and %s scores written, the rest unchanged)",
        workspace_id,
        len(results),
        as_of,
        model.version,
        snapshots,
        scores,
    )
    return results
