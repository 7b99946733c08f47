"""Score every breeder of a workspace at once with numpy arrays.

This is the scorer `health.scoring.recompute` runs. It follows the reference scorer
(`health.scoring.score_breeder`, one breeder at a time) operation by operation: the
same float64 operations in the same order, and rounding that matches Python's round().
So both give the same numbers, which tests/test_health_vectorised.py checks on
hand-computed and random cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from health.measures import CompiledMeasure
from health.metrics import ACTIVITY_MEASURES, BoolArray, FloatArray, IntArray, WorkspaceInputs
from health.models import Band, HealthModel

STATUS_OK, STATUS_STALE, STATUS_MISSING = 0, 1, 2
STATUS_NAMES = ("ok", "stale", "missing")
PHASES = ("onboarding", "adoption", "growth", "advocacy")

# Stands for "no value" in the keys of the JSON caches below, because NaN never equals
# itself and would miss the cache every time. No real weight, score or day is this.
NO_VALUE = -1.0
NO_DAY = np.iinfo(np.int64).min


def round_half_even(values: FloatArray, ndigits: int) -> FloatArray:
    """Round every element as Python's round(value, ndigits) does; NaN stays NaN.

    Python rounds the exact binary value to the nearest decimal (ties to even), then
    returns the float nearest to that decimal. np.rint(values * 10**n) / 10**n gives the
    same float, except where values * 10**n lands on or next to a half: the product is
    rounded itself, so 0.15 * 10 gives 1.5 although 0.15 is stored a little below it.
    Those few elements are rounded by Python instead.
    """
    scale = 10.0**ndigits
    scaled = values * scale
    rounded: FloatArray = np.rint(scaled) / scale
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    for index in np.flatnonzero(near_half):
        rounded[index] = round(float(values[index]), ndigits)
    return rounded


def interpolate_many(curve: Sequence[Sequence[float]], raws: FloatArray) -> FloatArray:
    """Score raw values on a curve exactly as `health.measures.interpolate` does."""
    xs = np.array([point[0] for point in curve], dtype=np.float64)
    ys = np.array([point[1] for point in curve], dtype=np.float64)
    # bisect_right, clipped so that values beyond the ends still index a real segment;
    # the np.where calls below replace those with the end scores.
    index = np.clip(np.searchsorted(xs, raws, side="right"), 1, len(xs) - 1)
    x0, x1, y0, y1 = xs[index - 1], xs[index], ys[index - 1], ys[index]
    inner = y0 + (y1 - y0) * (raws - x0) / (x1 - x0)
    result: FloatArray = np.where(raws <= xs[0], ys[0], np.where(raws >= xs[-1], ys[-1], inner))
    return result


def phase_codes(days_since_signup: IntArray, boundaries: tuple[int, int, int]) -> IntArray:
    """Return each breeder's index in PHASES, as `health.scoring.phase_of` decides it."""
    adoption, growth, advocacy = boundaries
    codes: IntArray = np.select(
        [days_since_signup >= advocacy, days_since_signup >= growth, days_since_signup >= adoption],
        [3, 2, 1],
        default=0,
    )
    return codes


@dataclass
class MeasureOutcome:
    """One measure's result for every breeder; NaN where a value does not apply."""

    status: npt.NDArray[np.int8]
    raw: FloatArray
    # Days before the as-of day of the input's own day, where `seen_known` is true.
    seen_days: IntArray
    seen_known: BoolArray
    score: FloatArray
    # Share of the total score, and points added to it. NaN where the measure does not count.
    weight: FloatArray
    contribution: FloatArray


def _measure_inputs(
    measure: CompiledMeasure, inputs: WorkspaceInputs
) -> tuple[BoolArray, FloatArray, IntArray, BoolArray]:
    """Return (present, raw, seen days, seen known) like `health.scoring._raw_value`."""
    size = len(inputs)
    key = measure.key

    def feed_days(feed_day: date | None) -> tuple[IntArray, BoolArray]:
        days = (inputs.as_of - feed_day).days if feed_day is not None else 0
        return np.full(size, days, dtype=np.int64), np.full(size, feed_day is not None)

    everyone = np.ones(size, dtype=np.bool_)
    if key in ACTIVITY_MEASURES:
        days, known = feed_days(inputs.activity_feed_day)
        return inputs.has_activity, inputs.activity[key], days, known
    if key == "data_quality":
        return everyone, inputs.profile_completeness, inputs.profile_age_days, everyone
    if key in ("subscription_status", "renewal_likelihood"):
        raw = (
            inputs.subscription_status
            if key == "subscription_status"
            else inputs.subscription_tenure
        )
        return inputs.has_subscription, raw, inputs.subscription_age_days, everyone
    if key == "support_interactions":
        days, known = feed_days(inputs.ticket_feed_day)
        return known, inputs.tickets_in_window, days, known
    if key == "survey_responses":
        return inputs.has_survey, inputs.survey_average, inputs.survey_age_days, everyone
    nobody = np.zeros(size, dtype=np.bool_)
    return nobody, np.zeros(size), np.zeros(size, dtype=np.int64), nobody


def _score_measure(
    measure: CompiledMeasure, inputs: WorkspaceInputs, phases: IntArray
) -> MeasureOutcome:
    present, raw, seen_days, seen_known = _measure_inputs(measure, inputs)
    if measure.freshness_days is None:
        stale = np.zeros(len(inputs), dtype=np.bool_)
    else:
        stale = present & (~seen_known | (seen_days > measure.freshness_days))
    status = np.where(present, np.where(stale, STATUS_STALE, STATUS_OK), STATUS_MISSING)
    ok = status == STATUS_OK

    values = interpolate_many(measure.curve, raw)
    for code, phase in enumerate(PHASES):
        phase_curve = measure.phase_curves.get(phase)
        in_phase = phases == code
        if phase_curve and in_phase.any():
            values[in_phase] = interpolate_many(phase_curve, raw[in_phase])
    score = np.full(len(inputs), np.nan)
    score[ok] = round_half_even(values[ok], 1)
    return MeasureOutcome(
        status=status.astype(np.int8),
        raw=np.where(present, raw, np.nan),
        seen_days=seen_days,
        seen_known=seen_known,
        score=score,
        weight=np.full(len(inputs), np.nan),
        contribution=np.full(len(inputs), np.nan),
    )


@dataclass
class ScoreTable:
    """Every breeder's score, band, coverage and per-measure breakdown as arrays.

    Element i belongs to `breeder_ids[i]`. NaN in `score` or a category score means
    no measure had data, as None does in the reference scorer.
    """

    as_of: date
    breeder_ids: IntArray
    measures: list[CompiledMeasure]
    outcomes: dict[str, MeasureOutcome]
    category_scores: dict[str, FloatArray]
    score: FloatArray
    band: list[str]
    coverage: FloatArray
    provisional: BoolArray

    def __len__(self) -> int:
        return len(self.breeder_ids)

    def day_text(self, days: int) -> str:
        """Return the ISO date `days` before the as-of day."""
        return (self.as_of - timedelta(days=days)).isoformat()

    def measure_rows(self, index: int) -> dict[str, dict[str, Any]]:
        """Return one breeder's breakdown in the reference scorer's shape."""
        rows = {}
        for measure in self.measures:
            outcome = self.outcomes[measure.key]
            status = int(outcome.status[index])
            seen = (
                self.day_text(int(outcome.seen_days[index]))
                if status != STATUS_MISSING and outcome.seen_known[index]
                else None
            )
            rows[measure.key] = _measure_row(
                status,
                float(outcome.raw[index]),
                seen,
                float(outcome.score[index]),
                float(outcome.weight[index]),
                float(outcome.contribution[index]),
            )
        return rows

    def categories_of(self, index: int) -> dict[str, float | None]:
        return {
            category: _optional(float(scores[index]))
            for category, scores in self.category_scores.items()
        }

    def categories_json(self) -> list[bytes]:
        """Encode every breeder's category scores as JSON, the same as categories_of."""
        names = [str(category) for category in self.category_scores]
        cache: dict[tuple[float, ...], bytes] = {}
        documents = []
        rows = zip(
            *(np.nan_to_num(s, nan=NO_VALUE).tolist() for s in self.category_scores.values()),
            strict=True,
        )
        for row in rows:
            document = cache.get(row)
            if document is None:
                values = [None if value == NO_VALUE else value for value in row]
                document = cache[row] = orjson.dumps(dict(zip(names, values, strict=True)))
            documents.append(document)
        return documents


class BreakdownEncoder:
    """Encode breeders' breakdowns as JSON: the documents of ScoreTable.measure_rows.

    Most breeders share a measure's values with many others (login days are 0 to 30,
    for example), so each distinct set of values of a measure is encoded once and
    cached, and each breeder's document joins its measures' cached pieces.
    """

    def __init__(self, table: ScoreTable) -> None:
        self.table = table
        self.caches: list[dict[tuple[int, float, int, float, float, float], bytes]] = [
            {} for _ in table.measures
        ]

    def encode(self, start: int, stop: int) -> list[bytes]:
        """Return the JSON documents of the breeders at positions start to stop."""
        columns = [
            self._encode_measure(measure, cache, start, stop)
            for measure, cache in zip(self.table.measures, self.caches, strict=True)
        ]
        return [b"{%b}" % b",".join(pieces) for pieces in zip(*columns, strict=True)]

    def _encode_measure(
        self,
        measure: CompiledMeasure,
        cache: dict[tuple[int, float, int, float, float, float], bytes],
        start: int,
        stop: int,
    ) -> list[bytes]:
        outcome = self.table.outcomes[measure.key]
        rows = slice(start, stop)
        present = outcome.status[rows] != STATUS_MISSING
        keys = zip(
            outcome.status[rows].tolist(),
            np.where(present, outcome.raw[rows], 0.0).tolist(),
            np.where(present & outcome.seen_known[rows], outcome.seen_days[rows], NO_DAY).tolist(),
            np.nan_to_num(outcome.score[rows], nan=NO_VALUE).tolist(),
            np.nan_to_num(outcome.weight[rows], nan=NO_VALUE).tolist(),
            np.nan_to_num(outcome.contribution[rows], nan=NO_VALUE).tolist(),
            strict=True,
        )
        pieces = []
        for key in keys:
            piece = cache.get(key)
            if piece is None:
                status, raw, seen, score, weight, contribution = key
                row = _measure_row(
                    status,
                    raw,
                    None if seen == NO_DAY else self.table.day_text(seen),
                    score,
                    _nan_if_no_value(weight),
                    _nan_if_no_value(contribution),
                )
                # The document {key: row} without its outer braces.
                piece = cache[key] = orjson.dumps({measure.key: row})[1:-1]
            pieces.append(piece)
        return pieces


def _optional(value: float) -> float | None:
    return None if np.isnan(value) else value


def _nan_if_no_value(value: float) -> float:
    return float("nan") if value == NO_VALUE else value


def _measure_row(
    status: int,
    raw: float,
    seen: str | None,
    score: float,
    weight: float,
    contribution: float,
) -> dict[str, Any]:
    """Build one measure's breakdown entry, with the keys the reference scorer sets."""
    row: dict[str, Any] = {
        "status": STATUS_NAMES[status],
        "raw": None if status == STATUS_MISSING else raw,
        "as_of": seen,
    }
    if status == STATUS_OK:
        row["score"] = score
        if not np.isnan(weight):
            row["weight"] = weight
            row["contribution"] = contribution
    return row


def score_table(
    inputs: WorkspaceInputs,
    model: HealthModel,
    measures: Sequence[CompiledMeasure],
    boundaries: tuple[int, int, int],
) -> ScoreTable:
    """Score every breeder in `inputs` with the model's measures."""
    size = len(inputs)
    phases = phase_codes(inputs.days_since_signup, boundaries)
    category_weights = model.category_weights()
    weighted_sum = {category: np.zeros(size) for category in category_weights}
    weight_total = {category: np.zeros(size, dtype=np.int64) for category in category_weights}
    outcomes: dict[str, MeasureOutcome] = {}
    for measure in measures:
        outcome = outcomes[measure.key] = _score_measure(measure, inputs, phases)
        if measure.weight:
            ok = outcome.status == STATUS_OK
            # Added in the measures' order, as the reference's `+=` does.
            weighted_sum[measure.category] = weighted_sum[measure.category] + np.where(
                ok, outcome.score * measure.weight, 0.0
            )
            weight_total[measure.category] = weight_total[measure.category] + np.where(
                ok, measure.weight, 0
            )

    has_data = {category: weight_total[category] > 0 for category in category_weights}
    category_scores = {
        category: np.divide(
            weighted_sum[category],
            weight_total[category],
            out=np.full(size, np.nan),
            where=has_data[category],
        )
        for category in category_weights
    }
    present_total = np.zeros(size, dtype=np.int64)
    weighted_total = np.zeros(size)
    for category, weight in category_weights.items():
        present_total = present_total + np.where(has_data[category], weight, 0)
        weighted_total = weighted_total + np.where(
            has_data[category], category_scores[category] * weight, 0.0
        )
    has_score = present_total > 0
    score = round_half_even(
        np.divide(weighted_total, present_total, out=np.full(size, np.nan), where=has_score), 1
    )

    coverage = np.zeros(size)
    for measure in measures:
        if not measure.weight:
            continue
        outcome = outcomes[measure.key]
        counted = (outcome.status == STATUS_OK) & has_score
        category_weight = category_weights[measure.category]
        coverage = coverage + np.where(counted, category_weight * measure.weight / 10000, 0.0)
        share = np.divide(category_weight, present_total, out=np.zeros(size), where=counted)
        weight = np.divide(
            share * measure.weight,
            weight_total[measure.category],
            out=np.full(size, np.nan),
            where=counted,
        )
        outcome.weight = round_half_even(weight, 4)
        outcome.contribution = round_half_even(outcome.weight * outcome.score, 2)

    band = np.where(
        score >= model.green_from,
        Band.GREEN.value,
        np.where(score >= model.yellow_from, Band.YELLOW.value, Band.RED.value),
    )
    band = np.where(has_score, band, "")
    return ScoreTable(
        as_of=inputs.as_of,
        breeder_ids=inputs.breeder_ids,
        measures=list(measures),
        outcomes=outcomes,
        category_scores={
            category: round_half_even(scores, 1) for category, scores in category_scores.items()
        },
        score=score,
        band=band.tolist(),
        coverage=round_half_even(coverage, 3),
        provisional=coverage * 100 < model.provisional_below_coverage,
    )
