"""The KPI page: onboarding targets per signup cohort, health bands over time and monthly
churn, computed at a fixed time, and the page itself with the cast."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.scope import workspace_scope
from health import services as health_services
from health.models import HealthSnapshot
from lifecycle.models import (
    Cancellation,
    MilestoneAchievement,
    MilestoneDefinition,
    Subscription,
)
from segments import kpis
from segments.models import OnboardingTarget
from tests.factories import make_breeder

URL = reverse("segments:kpis", args=["acme"])
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def at(day, hour=12):
    return datetime(2026, day[0], day[1], hour, 0, tzinfo=UTC)


def achieve(workspace, breeder, key, after):
    with workspace_scope(workspace):
        milestone = MilestoneDefinition.objects.get(key=key)
        MilestoneAchievement.objects.create(
            workspace=workspace,
            breeder=breeder,
            milestone=milestone,
            status="on_time",
            due_at=breeder.signed_up_at + timedelta(days=milestone.target_day),
            achieved_at=breeder.signed_up_at + after,
        )


@pytest.fixture
def cohorts(cast):
    """Two April signups and two May signups, one of them a day old at NOW."""
    april_a = make_breeder(cast.acme, name="April A", signed_up_at=at((4, 10), 10))
    april_b = make_breeder(cast.acme, name="April B", signed_up_at=at((4, 15)))
    make_breeder(cast.acme, name="May new", signed_up_at=NOW - timedelta(days=1))
    may_d = make_breeder(cast.acme, name="May D", signed_up_at=at((5, 10)))
    achieve(cast.acme, april_a, "account_setup", timedelta(hours=47))
    achieve(cast.acme, april_a, "first_pedigree", timedelta(days=8))
    achieve(cast.acme, april_b, "account_setup", timedelta(hours=50))
    achieve(cast.acme, may_d, "account_setup", timedelta(hours=1))
    # The cast breeder signed up now, after NOW: it falls in no month of the report.
    with workspace_scope(cast.acme):
        targets = list(OnboardingTarget.objects.filter(active=True).select_related("milestone"))
        return kpis.onboarding_cohorts(cast.acme, targets, now=NOW, months=3)


def cells(row):
    return [(cell.reached, cell.due, cell.pending, cell.met) for cell in row.cells]


@pytest.mark.parametrize(
    ("hours", "label"), [(1, "1 hour"), (48, "48 hours"), (72, "3 days"), (100, "100 hours")]
)
def test_target_window_label(hours, label):
    assert OnboardingTarget(within_hours=hours).window_label == label


def test_cohort_months_newest_first(cohorts):
    assert [row.month for row in cohorts] == [date(2026, 5, 1), date(2026, 4, 1), date(2026, 3, 1)]
    assert [row.size for row in cohorts] == [2, 2, 0]


def test_april_cohort_against_targets(cohorts):
    april = cohorts[1]
    # Profile setup: A in 47 h, B in 50 h (too late for 48 h). Pedigree: A after 8 days.
    assert cells(april) == [(1, 2, 0, False), (0, 2, 0, False), (0, 2, 0, False)]
    assert april.cells[0].percent == 50


def test_may_cohort_leaves_out_open_windows(cohorts):
    may = cohorts[0]
    # The day-old signup is still inside every window; D's 14 days have not ended.
    assert cells(may) == [(1, 1, 1, True), (0, 1, 1, False), (0, 0, 2, None)]
    assert may.cells[2].percent is None


def test_empty_month(cohorts):
    assert cells(cohorts[2]) == [(0, 0, 0, None)] * 3


def test_cohort_month_uses_workspace_time_zone(cast):
    cast.acme.time_zone = "America/New_York"
    cast.acme.save(update_fields=["time_zone"])
    # 1 May 02:00 UTC is still 30 April in New York.
    make_breeder(cast.acme, signed_up_at=datetime(2026, 5, 1, 2, 0, tzinfo=UTC))
    with workspace_scope(cast.acme):
        rows = kpis.onboarding_cohorts(cast.acme, [], now=NOW, months=2)
    assert [(row.month, row.size) for row in rows] == [
        (date(2026, 5, 1), 0),
        (date(2026, 4, 1), 1),
    ]


def snapshot(workspace, breeder, day, band, model):
    HealthSnapshot.objects.create(
        workspace=workspace,
        breeder=breeder,
        day=day,
        model=model,
        score=Decimal("50.0") if band else None,
        band=band,
        coverage=1,
    )


def test_band_history_weekly_from_newest_day(cast):
    newest = date(2026, 5, 18)
    other = make_breeder(cast.acme)
    with workspace_scope(cast.acme):
        model = health_services.ensure_active_model(cast.acme.pk)
        snapshot(cast.acme, cast.acme_breeder, newest, "green", model)
        snapshot(cast.acme, other, newest, "", model)
        snapshot(cast.acme, cast.acme_breeder, newest - timedelta(days=7), "red", model)
        # Not a weekly sample day: left out.
        snapshot(cast.acme, cast.acme_breeder, newest - timedelta(days=3), "yellow", model)
        samples = kpis.band_history(weeks=3)
    assert [sample.day for sample in samples] == [
        date(2026, 5, 4),
        date(2026, 5, 11),
        date(2026, 5, 18),
    ]
    assert [sample.counts for sample in samples] == [
        {"green": 0, "yellow": 0, "red": 0, "none": 0},
        {"green": 0, "yellow": 0, "red": 1, "none": 0},
        {"green": 1, "yellow": 0, "red": 0, "none": 1},
    ]
    assert samples[2].percent("green") == 50


def test_band_history_empty(cast):
    with workspace_scope(cast.acme):
        assert kpis.band_history() == []


def subscription(workspace, breeder, name, **fields):
    fields.setdefault("status", "active")
    return Subscription.objects.create(
        workspace=workspace, breeder=breeder, external_id=name, source="import", **fields
    )


def cancel(workspace, breeder, name, when):
    Cancellation.objects.create(
        workspace=workspace, breeder=breeder, external_id=name, source="import", canceled_at=when
    )


@pytest.fixture
def churn_periods(cast):
    names = ["churned", "stayed", "new and gone", "trial", "ended before"]
    breeders = {name: make_breeder(cast.acme, name=name) for name in names}
    ws = cast.acme
    with workspace_scope(ws):
        subscription(
            ws,
            breeders["churned"],
            "s1",
            status="canceled",
            started_at=at((1, 1)),
            canceled_at=at((4, 15)),
            ended_at=at((4, 15)),
        )
        cancel(ws, breeders["churned"], "c1", at((4, 15)))
        subscription(ws, breeders["stayed"], "s2", started_at=at((2, 1)))
        subscription(
            ws,
            breeders["new and gone"],
            "s3",
            status="canceled",
            started_at=at((4, 10)),
            ended_at=at((4, 20)),
        )
        cancel(ws, breeders["new and gone"], "c3", at((4, 20)))
        subscription(ws, breeders["trial"], "s4", started_at=at((3, 25)), trial_end=at((4, 5)))
        subscription(
            ws,
            breeders["ended before"],
            "s5",
            status="canceled",
            started_at=at((1, 1)),
            ended_at=at((3, 15)),
        )
        subscription(ws, cast.acme_breeder, "s6", status="incomplete", started_at=at((1, 1)))
        return kpis.recent_churn(ws, now=NOW, target_percent=Decimal(5))


def test_churn_last_month(churn_periods):
    april = churn_periods[0]
    assert april.label == "April 2026"
    assert (april.subscribed_at_start, april.churned, april.cancelling_breeders) == (2, 1, 2)
    assert april.percent == 50
    assert april.met is False


def test_churn_this_month(churn_periods):
    may = churn_periods[1]
    assert may.label == "May 2026 so far"
    assert may.end == NOW
    # "stayed" and the trial that ended on 5 April.
    assert (may.subscribed_at_start, may.churned, may.cancelling_breeders) == (2, 0, 0)
    assert may.met is True


@pytest.mark.parametrize(("who", "status"), [("alice", 200), ("bob", 403), ("vera", 403)])
def test_kpi_page_by_role(cast, client_for, who, status):
    assert client_for(getattr(cast, who)).get(URL).status_code == status


def test_kpi_page_outsider_is_404(cast, client_for):
    assert client_for(cast.charlie).get(URL).status_code == 404


def test_kpi_page_renders_verdicts_in_words(cast, client_for):
    breeder = make_breeder(cast.acme, signed_up_at=timezone.now() - timedelta(days=20))
    achieve(cast.acme, breeder, "account_setup", timedelta(hours=2))
    content = client_for(cast.alice).get(URL).content.decode()
    assert "target 90% within 48 hours" in content
    assert "target 70% within 7 days" in content
    assert '<span aria-hidden="true">✓</span> Met' in content
    assert '<span aria-hidden="true">✗</span> Below' in content
    assert "No health snapshots yet" in content


def kpi_queries(client):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    return len(captured.captured_queries)


def test_kpi_query_count_does_not_grow(cast, client_for):
    client = client_for(cast.alice)
    day = timezone.localdate()
    with workspace_scope(cast.acme):
        model = health_services.ensure_active_model(cast.acme.pk)
        # With no snapshot at all, the band report stops after its first query.
        snapshot(cast.acme, cast.acme_breeder, day, "red", model)
    client.get(URL)
    before = kpi_queries(client)
    with workspace_scope(cast.acme):
        for number in range(12):
            breeder = make_breeder(
                cast.acme, signed_up_at=timezone.now() - timedelta(days=30 * number + 3)
            )
            achieve(cast.acme, breeder, "account_setup", timedelta(hours=5))
            for week in range(3):
                snapshot(cast.acme, breeder, day - timedelta(weeks=week), "green", model)
            subscription(cast.acme, breeder, f"sub-{number}", started_at=at((1, 1)))
    assert kpi_queries(client) == before
