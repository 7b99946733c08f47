"""The vectorised scorer against the per-breeder reference, number for number.

Cases are built as arrays, without the database: hand-computed breeders (full, missing,
stale and onboarding-phase inputs), then thousands of random breeders under random
models, where every field of every breeder must equal the reference exactly. The last
tests read query columns into numpy arrays as the scorer's inputs are read.
"""

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import orjson
import pytest

from health.columns import fetch_columns
from health.measures import DEFAULT_MEASURES, CompiledMeasure, interpolate
from health.metrics import ACTIVITY_FIGURES, WorkspaceInputs
from health.models import HealthModel
from health.scoring import score_breeder
from health.vectorised import (
    BreakdownEncoder,
    interpolate_many,
    round_half_even,
    score_table,
)

AS_OF = date(2026, 11, 30)
BOUNDARIES = (31, 91, 366)
DEFAULT_COMPILED = [
    CompiledMeasure(
        spec.key,
        spec.category,
        spec.weight,
        spec.window_days,
        spec.freshness_days,
        spec.curve,
        spec.phase_curves or {},
    )
    for spec in sorted(DEFAULT_MEASURES, key=lambda spec: (spec.category, spec.key))
]

FULL = {
    "days_since_signup": 200,
    "profile_completeness": 1.0,
    "profile_age_days": 3,
    "has_activity": True,
    "login_frequency": 8,
    "feature_adoption": 4,
    "community_engagement": 5,
    "growth": 1.0,
    "marketplace_activity": 5,
    "integration_depth": 1,
    "advocacy": 1,
    "events_last_7": 12,
    "weekly_baseline": 9.5,
    "has_subscription": True,
    "subscription_status": 100.0,
    "subscription_tenure": 12.0,
    "subscription_age_days": 365,
    "tickets_in_window": 1,
    "has_survey": True,
    "survey_average": 90.0,
    "survey_age_days": 15,
}
EMPTY = {
    "days_since_signup": 10,
    "profile_completeness": 2 / 9,
    "profile_age_days": 0,
    "has_activity": False,
    "has_subscription": False,
    "has_survey": False,
}


def make_inputs(breeders, *, activity_feed_age=0, ticket_feed_age=20):
    """Build WorkspaceInputs from dicts of the fields above; absent fields are zero."""

    def column(name, dtype):
        return np.array([breeder.get(name, 0) for breeder in breeders], dtype=dtype)

    def feed(age):
        return None if age is None else AS_OF - timedelta(days=age)

    return WorkspaceInputs(
        as_of=AS_OF,
        activity_feed_day=feed(activity_feed_age),
        ticket_feed_day=feed(ticket_feed_age),
        breeder_ids=np.arange(1, len(breeders) + 1, dtype=np.int64),
        days_since_signup=column("days_since_signup", np.int64),
        profile_completeness=column("profile_completeness", np.float64),
        profile_age_days=column("profile_age_days", np.int64),
        has_activity=column("has_activity", np.bool_),
        activity={key: column(key, np.float64) for key in ACTIVITY_FIGURES},
        has_subscription=column("has_subscription", np.bool_),
        subscription_status=column("subscription_status", np.float64),
        subscription_tenure=column("subscription_tenure", np.float64),
        subscription_age_days=column("subscription_age_days", np.int64),
        tickets_in_window=column("tickets_in_window", np.float64),
        has_survey=column("has_survey", np.bool_),
        survey_average=column("survey_average", np.float64),
        survey_age_days=column("survey_age_days", np.int64),
    )


def default_model():
    return HealthModel(version=1)


def assert_same_as_reference(inputs, model, measures, boundaries=BOUNDARIES):
    """Score with both scorers and compare every field of every breeder exactly."""
    table = score_table(inputs, model, measures, boundaries)
    documents = BreakdownEncoder(table).encode(0, len(table))
    categories = table.categories_json()
    for index in range(len(inputs)):
        expected = score_breeder(inputs.breeder(index), inputs, model, measures, boundaries)
        score = table.score[index]
        assert (None if np.isnan(score) else float(score)) == expected.score, index
        assert table.band[index] == expected.band, index
        assert float(table.coverage[index]) == expected.coverage, index
        assert bool(table.provisional[index]) == expected.provisional, index
        assert table.categories_of(index) == expected.categories, index
        assert table.measure_rows(index) == expected.measures, index
        assert orjson.loads(documents[index]) == expected.measures, index
        assert orjson.loads(categories[index]) == expected.categories, index
    return table


def test_full_inputs_worked_example():
    table = assert_same_as_reference(make_inputs([FULL]), default_model(), DEFAULT_COMPILED)
    # docs/health-score.md: 0.4 × 83.0 + 0.3 × 79.25 + 0.3 × 88.75 = 83.6.
    assert float(table.score[0]) == 83.6
    assert table.band == ["green"]
    assert table.categories_of(0) == {"usage": 83.0, "business": 79.2, "satisfaction": 88.8}
    rows = table.measure_rows(0)
    assert rows["login_frequency"]["score"] == 75.0
    assert rows["support_interactions"]["score"] == 85.0
    assert sum(row["contribution"] for row in rows.values()) == pytest.approx(83.6, abs=0.1)


def test_missing_inputs_redistribute_weight():
    table = assert_same_as_reference(
        make_inputs([EMPTY], ticket_feed_age=None), default_model(), DEFAULT_COMPILED
    )
    # Only data quality has data: 40 × 0.222 / 0.5 = 17.8 carries the whole score.
    assert float(table.score[0]) == 17.8
    assert float(table.coverage[0]) == 0.06
    assert bool(table.provisional[0]) is True
    rows = table.measure_rows(0)
    assert rows["login_frequency"] == {"status": "missing", "raw": None, "as_of": None}
    assert rows["support_interactions"]["status"] == "missing"
    assert rows["data_quality"]["weight"] == 1.0


def test_stale_feed_left_out():
    table = assert_same_as_reference(
        make_inputs([FULL], activity_feed_age=20), default_model(), DEFAULT_COMPILED
    )
    rows = table.measure_rows(0)
    assert rows["login_frequency"]["status"] == "stale"
    assert rows["login_frequency"]["raw"] == 8.0
    assert "score" not in rows["login_frequency"]
    assert rows["data_quality"]["status"] == "ok"
    assert float(table.coverage[0]) == 0.42


def test_no_score_without_data():
    breeder = dict(EMPTY, profile_completeness=0.0)
    measures = [m for m in DEFAULT_COMPILED if m.key != "data_quality"]
    table = assert_same_as_reference(
        make_inputs([breeder], ticket_feed_age=None), default_model(), measures
    )
    assert np.isnan(table.score[0])
    assert table.band == [""]
    assert table.categories_of(0) == {"usage": None, "business": None, "satisfaction": None}


def test_onboarding_phase_curve():
    onboarding = dict(FULL, days_since_signup=10, login_frequency=3)
    growth = dict(FULL, days_since_signup=200, login_frequency=3)
    table = assert_same_as_reference(
        make_inputs([onboarding, growth]), default_model(), DEFAULT_COMPILED
    )
    # Onboarding curve 0→0, 3→50, 10→100; the default curve gives 35 + 40 × 1/6 = 41.7.
    scores = table.outcomes["login_frequency"].score
    assert float(scores[0]) == 50.0
    assert float(scores[1]) == 41.7


@pytest.mark.parametrize(
    "value, digits",
    [(0.15, 1), (0.25, 1), (2.675, 2), (7.125, 2), (0.075 * 95, 2), (-6.45, 1), (0.0005, 3)],
)
def test_rounding_matches_round_at_halves(value, digits):
    assert float(round_half_even(np.array([value]), digits)[0]) == round(value, digits)


def test_rounding_matches_round_random():
    generator = np.random.default_rng(7)
    values = np.concatenate(
        [
            generator.uniform(-100, 100, 20_000),
            np.round(generator.uniform(0, 100, 20_000), 3),
            generator.integers(0, 10_000, 20_000) / 8,
        ]
    )
    for digits in (1, 2, 3, 4):
        rounded = round_half_even(values, digits)
        expected = np.array([round(float(value), digits) for value in values])
        assert np.array_equal(rounded, expected), digits


def test_rounding_decimal_ties():
    # Exact binary halves round to even, like Decimal's ROUND_HALF_EVEN.
    values = np.array([0.125, 0.375, 2.5, 3.5, 1.0625])
    expected = [float(Decimal(v).quantize(Decimal("0.01"), ROUND_HALF_EVEN)) for v in values]
    assert round_half_even(values, 2).tolist() == expected


def test_interpolation_matches_reference():
    curves: list[list[list[float]]] = [
        [[0, 0], [2, 35], [8, 75], [15, 100]],
        [[0, 100], [1, 85], [3, 55], [6, 20], [10, 0]],
        [[-1, 0], [0, 40], [3, 60], [12, 85], [24, 100]],
        [[0, 0], [0.5, 40], [0.8, 80], [1, 100]],
    ]
    raws = np.array([-5, -1, 0, 0.3, 0.5, 1, 2, 2.5, 3, 7.9, 8, 12, 15, 24, 30, 1e9])
    for curve in curves:
        expected = [interpolate(curve, float(raw)) for raw in raws]
        assert interpolate_many(curve, raws).tolist() == expected


def random_curve(generator, decreasing=False):
    size = generator.randint(2, 6)
    xs = sorted(generator.sample(range(-2, 40), size))
    xs = [x / generator.choice([1, 2, 4, 10]) for x in xs]
    xs = sorted(set(xs))
    if len(xs) < 2:
        xs = [0, 1]
    ys = sorted(
        generator.choice([generator.randint(0, 100), generator.uniform(0, 100)]) for _ in xs
    )
    if decreasing:
        ys.reverse()
    return [[x, y] for x, y in zip(xs, ys, strict=True)]


def random_model(generator):
    usage = generator.choice([0, 20, 40, 55, 100])
    business = generator.randint(0, 100 - usage)
    return HealthModel(
        version=1,
        usage_weight=usage,
        business_weight=business,
        satisfaction_weight=100 - usage - business,
        green_from=generator.randint(61, 95),
        yellow_from=generator.randint(20, 60),
        provisional_below_coverage=generator.randint(0, 100),
    )


def random_measures(generator):
    measures = []
    for spec in DEFAULT_MEASURES:
        phase_curves = {
            phase: random_curve(generator)
            for phase in ("onboarding", "adoption", "growth", "advocacy")
            if generator.random() < 0.3
        }
        measures.append(
            CompiledMeasure(
                spec.key,
                spec.category,
                generator.choice([0, 10, 15, 25, 30, 35]),
                spec.window_days,
                generator.choice([None, 0, 7, 14, 180]),
                random_curve(generator, decreasing=spec.key == "support_interactions"),
                phase_curves,
            )
        )
    measures.append(
        CompiledMeasure("unknown_metric", "usage", 10, 30, None, [[0, 0], [1, 100]], {})
    )
    return sorted(measures, key=lambda m: (m.category, m.key))


def random_breeder(generator):
    has_activity = generator.random() < 0.8
    recent = generator.choice([0, 0, 3, 10])
    return {
        "days_since_signup": generator.randint(0, 500),
        "profile_completeness": generator.randint(0, 9) / 9,
        "profile_age_days": generator.randint(0, 40),
        "has_activity": has_activity,
        "login_frequency": generator.randint(0, 30),
        "feature_adoption": generator.randint(0, 6),
        "community_engagement": generator.randint(0, 40),
        "growth": 0.0 if recent == 0 else recent / generator.choice([1, 3, 7, 10]),
        "marketplace_activity": generator.randint(0, 40),
        "integration_depth": generator.randint(0, 5),
        "advocacy": generator.randint(0, 4),
        "events_last_7": generator.randint(0, 50),
        "weekly_baseline": generator.randint(0, 200) / 4,
        "has_subscription": generator.random() < 0.9,
        "subscription_status": float(generator.choice([0, 10, 20, 30, 40, 80, 100])),
        "subscription_tenure": generator.choice([-1.0, 0.0, generator.randint(0, 900) / 30.4]),
        "subscription_age_days": generator.randint(-3, 500),
        "tickets_in_window": generator.randint(0, 12),
        "has_survey": generator.random() < 0.5,
        "survey_average": generator.choice([generator.randint(0, 100), generator.uniform(0, 100)]),
        "survey_age_days": generator.randint(0, 200),
    }


@pytest.mark.parametrize("seed", range(6))
def test_random_breeders_match_reference(seed):
    generator = random.Random(seed)
    breeders = [random_breeder(generator) for _ in range(1500)]
    inputs = make_inputs(
        breeders,
        activity_feed_age=generator.choice([None, 0, 5, 20]),
        ticket_feed_age=generator.choice([None, 0, 100]),
    )
    boundaries = tuple(sorted(generator.sample(range(1, 400), 3)))
    assert_same_as_reference(
        inputs, random_model(generator), random_measures(generator), boundaries
    )


@pytest.mark.django_db
def test_fetch_columns_types_and_order():
    sql = """
        SELECT g::bigint, g::int * 2, g / 4.0::float8, g %% 2 = 0, 'row ' || g
        FROM generate_series(1, %(count)s) g
    """
    ids, doubles, quarters, even, labels = fetch_columns(
        sql, {"count": 5}, [np.int64, np.int64, np.float64, np.bool_, None]
    )
    order = np.argsort(ids)
    assert ids[order].tolist() == [1, 2, 3, 4, 5]
    assert doubles[order].tolist() == [2, 4, 6, 8, 10]
    assert quarters[order].tolist() == [0.25, 0.5, 0.75, 1.0, 1.25]
    assert even[order].tolist() == [False, True, False, True, False]
    assert [labels[i] for i in order] == ["row 1", "row 2", "row 3", "row 4", "row 5"]
    assert doubles.dtype == np.int64


@pytest.mark.django_db
def test_fetch_columns_empty_and_null():
    sql = "SELECT g::bigint, NULL::float8 FROM generate_series(1, %(count)s) g"
    ids, missing = fetch_columns(sql, {"count": 0}, [np.int64, np.float64])
    assert ids.dtype == np.int64
    assert len(ids) == 0
    assert len(missing) == 0
    with pytest.raises(ValueError, match="NULL"):
        fetch_columns(sql, {"count": 2}, [np.int64, np.float64])
    with pytest.raises(TypeError, match="cast it"):
        fetch_columns("SELECT 1.5::numeric", {}, [np.float64])
