"""Portfolio rows formatted in Python: the 30-day sparklines, the score badge and the
other cells, and the page that draws them."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.scope import workspace_scope
from health import charts, services
from health.badges import score_badge
from health.models import HealthScore, HealthSnapshot
from lifecycle.models import BreederPhase, Subscription
from tests.factories import make_breeder

START = date(2026, 3, 1)
END = START + timedelta(days=29)


def spark(offsets_and_scores):
    rows = [(START + timedelta(days=offset), score) for offset, score in offsets_and_scores]
    return charts.build_sparkline(rows, start=START, end=END)


def test_sparkline_spans_the_window():
    line = spark([(0, Decimal("40")), (29, Decimal("80"))])
    # Two lone days: each a dot, at the left and right edges, lowest score at the bottom.
    assert line.path == "M3.0,21.0 h0 M93.0,3.0 h0"
    assert (line.last_x, line.last_y) == (93.0, 3.0)
    assert line.label == "Score 40 on 1 Mar, 80 on 30 Mar"


def test_sparkline_breaks_at_missing_days():
    line = spark([(0, 50), (1, 60), (3, 70), (4, None), (5, 65)])
    assert line.path.count("M") == 3
    assert line.path.startswith("M3.0,")
    # Day 3 is alone between two gaps, so it is drawn as a dot.
    assert " h0 " in line.path
    assert line.path.endswith("h0")


def test_sparkline_flat_scores_keep_a_minimum_span():
    line = spark([(day, Decimal("72.0")) for day in range(30)])
    ys = {segment.split(",")[1] for segment in line.path.split()}
    assert ys == {"12.0"}


def test_sparkline_ignores_days_outside_window():
    line = spark([(-1, 10), (30, 90), (2, 55)])
    assert line.label == "Score 55 on 3 Mar"
    assert line.path.count("M") == 1


def test_sparkline_without_scores():
    line = spark([(3, None)])
    assert line.path == ""
    assert line.label == "No scores in the last 30 days"


def make_score(workspace, breeder, score, band, **fields):
    return HealthScore.objects.create(
        workspace=workspace,
        breeder=breeder,
        model=services.ensure_active_model(workspace.pk),
        score=Decimal(score),
        band=band,
        coverage=fields.pop("coverage", 1),
        as_of=timezone.localdate(),
        computed_at=timezone.now(),
        **fields,
    )


def test_badge_rounds_half_up_like_floatformat(cast):
    with workspace_scope(cast.acme):
        score = make_score(cast.acme, cast.acme_breeder, "88.5", "green")
    assert score_badge(score) == (
        '<span class="badge band-green" title="Thriving">89</span> '
        '<span class="band-label">Thriving</span>'
    )


def test_badge_provisional_and_missing(cast):
    with workspace_scope(cast.acme):
        score = make_score(
            cast.acme, cast.acme_breeder, "41.0", "red", provisional=True, coverage=Decimal("0.555")
        )
    badge = score_badge(score)
    assert 'title="At risk, provisional: inputs cover 0.56 of the weight"' in badge
    assert '<span class="visually-hidden"> (provisional)</span>' in badge
    assert "Not scored yet" in score_badge(None)
    assert "Not scored yet" in score_badge("")


@pytest.fixture
def scored_breeder(cast):
    today = timezone.localdate()
    with workspace_scope(cast.acme):
        breeder = make_breeder(
            cast.acme, name="Sparkly Skinks", assigned_csm=cast.bob, tier="hobbyist"
        )
        score = make_score(cast.acme, breeder, "71.0", "yellow", trend_7d=Decimal("-4.5"))
        for back, value in [(2, "80.0"), (1, "75.0"), (0, "71.0")]:
            HealthSnapshot.objects.create(
                workspace=cast.acme,
                breeder=breeder,
                day=today - timedelta(days=back),
                model=score.model,
                score=Decimal(value),
                band="yellow",
                coverage=1,
            )
        BreederPhase.objects.create(
            workspace=cast.acme, breeder=breeder, phase="adoption", since=timezone.now()
        )
        Subscription.objects.create(
            workspace=cast.acme,
            breeder=breeder,
            external_id="sub_sparkly",
            source="import",
            status="active",
            current_period_end=timezone.now() + timedelta(days=10),
        )
    return breeder


def test_portfolio_row_cells(cast, client_for, scored_breeder):
    response = client_for(cast.bob).get(reverse("health:portfolio", args=["acme"]))
    row = next(row for row in response.context["rows"] if row.breeder == scored_breeder)
    assert row.url == reverse("accounts:breeder_detail", args=["acme", scored_breeder.public_id])
    assert (row.trend_text, row.trend_symbol, row.trend_class) == ("-4.5", "▼", "trend-down")
    assert (row.tier, row.phase) == ("Hobbyist", "Adoption")
    renewal = timezone.now() + timedelta(days=10)
    assert row.renewal_text == f"{renewal.day} {renewal:%b %Y}"
    assert row.last_touch_text == ""
    assert row.sparkline.label.startswith("Score 80 on ")
    content = response.content.decode()
    assert f'aria-label="{row.sparkline.label}"' in content
    assert '<svg class="sparkline"' in content
    assert 'style="' not in content


def test_unscored_row(cast, client_for):
    response = client_for(cast.bob).get(reverse("health:portfolio", args=["acme"]))
    (row,) = response.context["rows"]
    assert row.sparkline.path == ""
    assert row.trend_text == ""
    assert "Not scored yet" in row.badge
