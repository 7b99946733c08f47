"""Backtest: how well a health model separates breeders who churn from those who stay.

For each as-of day in a range, every breeder with a live subscription that day is
scored from the data dated up to that day, and labelled "churned" when the
subscription ended within the following horizon (90 days by default). The report:

- ROC AUC of the risk (100 − score) against the churn label, computed with the
  Mann-Whitney rank statistic: 0.5 is chance, 1.0 a perfect ranking;
- precision and recall of the red band as a churn prediction;
- the median lead time between a churned breeder's first red score and its churn.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from health import scoring
from health.models import Band, HealthModel
from lifecycle.models import Subscription


@dataclass
class BacktestReport:
    model_version: int
    days: list[date]
    observations: int = 0
    churned: int = 0
    auc: float | None = None
    red_precision: float | None = None
    red_recall: float | None = None
    median_lead_days: float | None = None
    churned_breeders: int = 0
    churned_with_red: int = 0
    notes: list[str] = field(default_factory=list)


def roc_auc(labelled_risks: list[tuple[float, bool]]) -> float | None:
    """Return the ROC AUC of risk values against labels (ties count half)."""
    ordered = sorted(labelled_risks, key=lambda pair: pair[0])
    positives = sum(1 for _, label in ordered if label)
    negatives = len(ordered) - positives
    if not positives or not negatives:
        return None
    rank_sum = 0.0
    index = 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1][0] == ordered[index][0]:
            end += 1
        average_rank = (index + end) / 2 + 1
        rank_sum += average_rank * sum(1 for _, label in ordered[index : end + 1] if label)
        index = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _subscription_windows(workspace_id: int) -> dict[int, list[tuple[date, date | None]]]:
    windows: dict[int, list[tuple[date, date | None]]] = {}
    rows = Subscription.objects.filter(workspace_id=workspace_id).values_list(
        "breeder_id", "started_at", "created_at", "ended_at", "canceled_at"
    )
    for breeder_id, started, created, ended, canceled in rows:
        start = (started or created).date()
        end_at = ended or canceled
        windows.setdefault(breeder_id, []).append((start, end_at.date() if end_at else None))
    return windows


def coverage_end(spans: Sequence[tuple[date, date | None]], as_of: date) -> date | None:
    """Return when the breeder's paid coverage that includes `as_of` ends, or None.

    A breeder often has several subscriptions (upgrades, add-ons, renewals). Coverage
    continues across every subscription that starts by the day after the previous one
    ends, so
    the breeder churns only when the last of them ends, not when one is replaced.
    """
    ordered = sorted(spans, key=lambda span: span[0])
    end: date | None = as_of
    for start, span_end in ordered:
        if end is None:
            return None
        if start <= end + timedelta(days=1) and (span_end is None or span_end > as_of):
            end = None if span_end is None else max(end, span_end)
    return end


def run_backtest(
    workspace_id: int,
    start: date,
    end: date,
    *,
    step_days: int = 30,
    horizon_days: int = 90,
    model: HealthModel | None = None,
    progress: Callable[[date], None] | None = None,
) -> BacktestReport:
    if model is None:
        model, _ = scoring.active_model(workspace_id)
    windows = _subscription_windows(workspace_id)
    days = []
    day = start
    while day <= end:
        days.append(day)
        day += timedelta(days=step_days)
    report = BacktestReport(model_version=model.version, days=days)

    risks: list[tuple[float, bool]] = []
    red_true = red_false = missed = 0
    first_red: dict[int, date] = {}
    churn_day: dict[int, date] = {}
    for as_of in days:
        if progress:
            progress(as_of)
        live = {
            breeder_id: coverage_end(spans, as_of)
            for breeder_id, spans in windows.items()
            if any(start <= as_of and (end is None or end > as_of) for start, end in spans)
        }
        if not live:
            continue
        results = scoring.recompute(workspace_id, as_of, sorted(live), model=model, persist=False)
        for result in results:
            if result.score is None:
                continue
            span_end = live[result.breeder_id]
            churned = span_end is not None and span_end <= as_of + timedelta(days=horizon_days)
            risks.append((100 - result.score, churned))
            is_red = result.band == Band.RED
            if churned and span_end is not None:
                churn_day[result.breeder_id] = span_end
                if is_red:
                    first_red.setdefault(result.breeder_id, as_of)
            if is_red and churned:
                red_true += 1
            elif is_red:
                red_false += 1
            elif churned:
                missed += 1

    report.observations = len(risks)
    report.churned = sum(1 for _, label in risks if label)
    report.auc = roc_auc(risks)
    if red_true + red_false:
        report.red_precision = red_true / (red_true + red_false)
    if red_true + missed:
        report.red_recall = red_true / (red_true + missed)
    leads = [(churn_day[b] - first_red[b]).days for b in first_red]
    report.churned_breeders = len(churn_day)
    report.churned_with_red = len(first_red)
    if leads:
        report.median_lead_days = statistics.median(leads)
    if report.auc is None:
        report.notes.append("AUC needs both churned and retained observations.")
    return report


def format_report(report: BacktestReport) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    lines = [
        f"Health model version {report.model_version}",
        f"As-of days: {len(report.days)} ({report.days[0]} to {report.days[-1]})"
        if report.days
        else "As-of days: none",
        f"Observations (breeder × day): {report.observations}, churned within horizon: "
        f"{report.churned}",
        f"ROC AUC: {'n/a' if report.auc is None else f'{report.auc:.3f}'}",
        f"Red band precision: {pct(report.red_precision)}",
        f"Red band recall: {pct(report.red_recall)}",
        f"Churned breeders: {report.churned_breeders}, red before churn: {report.churned_with_red}",
        "Median lead time from first red to churn: "
        + ("n/a" if report.median_lead_days is None else f"{report.median_lead_days:.0f} days"),
    ]
    return "\n".join(lines + report.notes)
