"""Backtest and backfill on a small history whose answer is known."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.scope import workspace_scope
from health.backtest import coverage_end, roc_auc, run_backtest
from health.models import HealthSnapshot
from lifecycle.models import DailyActivity, Subscription
from tests.factories import make_breeder

START = date(2026, 1, 1)


def aware(day):
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def history(workspace, name, *, active, churn_on=None):
    """A breeder subscribed since 2025 with daily activity (or none) through June 2026."""
    breeder = make_breeder(workspace, name=name, signed_up_at=aware(date(2025, 6, 1)))
    Subscription.objects.create(
        workspace=workspace,
        breeder=breeder,
        external_id=f"sub_{name}",
        source="import",
        status="canceled" if churn_on else "active",
        started_at=aware(date(2025, 6, 1)),
        canceled_at=aware(churn_on) if churn_on else None,
        ended_at=aware(churn_on) if churn_on else None,
    )
    rows = []
    day = date(2025, 10, 1)
    while day <= date(2026, 6, 30):
        if active:
            features = ["login", "records", "community", "marketplace", "pedigrees"]
        else:
            features = ["advocacy"] if day.day == 1 else []
        rows += [
            DailyActivity(
                workspace=workspace,
                breeder=breeder,
                feature=feature,
                day=day,
                event_count=2,
                first_event_at=aware(day),
                last_event_at=aware(day),
            )
            for feature in features
        ]
        day += timedelta(days=1)
    DailyActivity.objects.bulk_create(rows)
    return breeder


def test_roc_auc_known_values():
    assert roc_auc([(0.9, True), (0.8, True), (0.2, False), (0.1, False)]) == 1.0
    assert roc_auc([(0.1, True), (0.9, False)]) == 0.0
    assert roc_auc([(0.5, True), (0.5, False)]) == 0.5
    assert roc_auc([(0.5, True)]) is None


@pytest.fixture
def acme(cast):
    with workspace_scope(cast.acme):
        yield cast.acme


def test_backtest_separates_quiet_churners(acme):
    history(acme, "busy-1", active=True)
    history(acme, "busy-2", active=True)
    history(acme, "quiet-1", active=False, churn_on=date(2026, 3, 15))
    history(acme, "quiet-2", active=False, churn_on=date(2026, 3, 25))
    report = run_backtest(acme.pk, START, date(2026, 3, 1), step_days=30)
    assert report.days == [date(2026, 1, 1), date(2026, 1, 31)]
    assert report.auc == 1.0
    assert report.red_precision == 1.0
    assert report.red_recall == 1.0
    assert report.churned_breeders == 2
    # First red on 1 January for both; churn 73 and 83 days later.
    assert report.median_lead_days == 78


def test_backtest_command_prints_report(acme):
    history(acme, "busy", active=True)
    history(acme, "quiet", active=False, churn_on=date(2026, 2, 20))
    out = StringIO()
    call_command(
        "backtest",
        "--workspace",
        "acme",
        "--start",
        "2026-01-01",
        "--end",
        "2026-02-01",
        "--step-days",
        "31",
        stdout=out,
        stderr=StringIO(),
    )
    text = out.getvalue()
    assert "ROC AUC: 1.000" in text
    assert "Red band precision: 100.0%" in text


def test_backfill_writes_a_snapshot_per_day(acme):
    breeder = history(acme, "busy", active=True)
    out = StringIO()
    call_command(
        "backfill_health",
        "--workspace",
        "acme",
        "--start",
        "2026-02-01",
        "--end",
        "2026-02-05",
        stdout=out,
    )
    assert "[5/5] 2026-02-05" in out.getvalue()
    assert HealthSnapshot.objects.filter(breeder=breeder).count() == 5


def test_coverage_spans_renewals_and_upgrades():
    as_of = date(2024, 3, 1)
    renewed = [(date(2023, 1, 1), date(2024, 4, 1)), (date(2024, 4, 2), date(2024, 12, 1))]
    assert coverage_end(renewed, as_of) == date(2024, 12, 1)
    upgraded = [(date(2023, 1, 1), date(2024, 3, 15)), (date(2024, 3, 10), None)]
    assert coverage_end(upgraded, as_of) is None
    lapsed = [(date(2023, 1, 1), date(2024, 3, 15)), (date(2024, 6, 1), None)]
    assert coverage_end(lapsed, as_of) == date(2024, 3, 15)
    old_and_live = [(date(2022, 1, 1), date(2022, 6, 1)), (date(2023, 1, 1), date(2024, 5, 1))]
    assert coverage_end(old_and_live, as_of) == date(2024, 5, 1)
