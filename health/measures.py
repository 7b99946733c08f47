"""The measures a health model can use: their metric, defaults and wording.

Each measure turns one raw metric into a 0-100 score through a curve of
[raw, score] points with linear interpolation between them; values beyond the ends
take the end scores. The default model (`DEFAULT_MEASURES`) uses all twelve.
docs/health-score.md explains each choice.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import ngettext

if TYPE_CHECKING:
    from health.models import HealthMeasure


def interpolate(curve: Sequence[Sequence[float]], raw: float) -> float:
    """Score a raw value on a curve of [raw, score] points sorted by raw value."""
    raws = [point[0] for point in curve]
    if raw <= raws[0]:
        return float(curve[0][1])
    if raw >= raws[-1]:
        return float(curve[-1][1])
    index = bisect_right(raws, raw)
    (x0, y0), (x1, y1) = curve[index - 1], curve[index]
    return float(y0 + (y1 - y0) * (raw - x0) / (x1 - x0))


@dataclass(frozen=True)
class MeasureSpec:
    key: str
    category: str
    label: str
    weight: int
    window_days: int
    freshness_days: int | None
    curve: list[list[float]]
    describe: Callable[[float, int], str]
    phase_curves: dict[str, list[list[float]]] | None = None


def _count(raw: float, singular: str, plural: str) -> str:
    """Format a raw count, rounded to a whole number, with its noun: "1 referral"."""
    number = round(float(raw))
    return f"{number} {ngettext(singular, plural, number)}"


def _last_days(window: int) -> str:
    return ngettext("the last day", "the last %(days)d days", window) % {"days": window}


def _previous_days(window: int) -> str:
    return ngettext("the previous day", "the previous %(days)d days", window) % {"days": window}


def _days(raw: float, window: int) -> str:
    return f"logged in on {raw:.0f} of {_last_days(window)}"


DEFAULT_MEASURES: list[MeasureSpec] = [
    MeasureSpec(
        "login_frequency",
        "usage",
        "Login frequency",
        30,
        30,
        14,
        [[0, 0], [2, 35], [8, 75], [15, 100]],
        _days,
        phase_curves={"onboarding": [[0, 0], [3, 50], [10, 100]]},
    ),
    MeasureSpec(
        "feature_adoption",
        "usage",
        "Feature adoption",
        30,
        30,
        14,
        [[0, 0], [1, 30], [3, 70], [5, 100]],
        lambda raw, w: f"used {_count(raw, 'core feature', 'core features')} in {_last_days(w)}",
        phase_curves={"onboarding": [[0, 0], [1, 40], [3, 100]]},
    ),
    MeasureSpec(
        "data_quality",
        "usage",
        "Data quality",
        15,
        0,
        None,
        [[0, 0], [0.5, 40], [0.8, 80], [1, 100]],
        lambda raw, w: f"profile {raw * 100:.0f}% complete",
    ),
    MeasureSpec(
        "community_engagement",
        "usage",
        "Community engagement",
        25,
        30,
        14,
        [[0, 0], [1, 50], [5, 80], [10, 100]],
        lambda raw, w: f"{_count(raw, 'community action', 'community actions')} in {_last_days(w)}",
    ),
    MeasureSpec(
        "subscription_status",
        "business",
        "Subscription status",
        35,
        0,
        400,
        [[0, 0], [100, 100]],
        lambda raw, w: {
            100: "subscription active",
            80: "in trial",
            40: "subscription paused",
            30: "payment past due",
            20: "set to cancel at period end",
            10: "subscription unpaid",
        }.get(int(raw), "subscription ended"),
    ),
    MeasureSpec(
        "growth",
        "business",
        "Growth in records",
        25,
        30,
        14,
        [[0, 0], [0.5, 35], [1, 60], [1.5, 85], [2, 100]],
        lambda raw, w: (
            f"no new animal records or pedigrees in {_last_days(w)}"
            if raw == 0
            else f"records and pedigrees at {raw:.1f}× {_previous_days(w)}"
        ),
    ),
    MeasureSpec(
        "marketplace_activity",
        "business",
        "Marketplace activity",
        25,
        30,
        14,
        [[0, 0], [1, 40], [5, 75], [15, 100]],
        lambda raw, w: (
            f"{_count(raw, 'marketplace action', 'marketplace actions')} in {_last_days(w)}"
        ),
    ),
    MeasureSpec(
        "integration_depth",
        "business",
        "Integration depth",
        15,
        365,
        14,
        [[0, 0], [1, 70], [3, 100]],
        lambda raw, w: (
            f"{_count(raw, 'integration connection', 'integration connections')} in {_last_days(w)}"
        ),
    ),
    MeasureSpec(
        "support_interactions",
        "satisfaction",
        "Support interactions",
        25,
        90,
        None,
        [[0, 100], [1, 85], [3, 55], [6, 20], [10, 0]],
        lambda raw, w: f"{_count(raw, 'support ticket', 'support tickets')} in {_last_days(w)}",
    ),
    MeasureSpec(
        "survey_responses",
        "satisfaction",
        "Survey responses",
        35,
        180,
        180,
        [[0, 0], [60, 40], [70, 70], [90, 100]],
        lambda raw, w: f"latest survey answers average {raw:.0f}/100",
    ),
    MeasureSpec(
        "advocacy",
        "satisfaction",
        "Advocacy",
        15,
        180,
        14,
        [[0, 40], [1, 75], [3, 100]],
        lambda raw, w: (
            f"{_count(raw, 'referral or review', 'referrals or reviews')} in {_last_days(w)}"
        ),
    ),
    MeasureSpec(
        "renewal_likelihood",
        "satisfaction",
        "Renewal likelihood",
        25,
        0,
        400,
        [[-1, 0], [0, 40], [3, 60], [12, 85], [24, 100]],
        lambda raw, w: (
            "set to cancel or already ended"
            if raw < 0
            else f"{_count(raw, 'month', 'months')} as a paying customer"
        ),
    ),
]

MEASURES_BY_KEY = {spec.key: spec for spec in DEFAULT_MEASURES}
CORE_FEATURES = ["records", "pedigrees", "community", "marketplace", "integrations", "education"]


@dataclass(frozen=True)
class CompiledMeasure:
    """A measure's settings in the shape the scorers read fastest."""

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
