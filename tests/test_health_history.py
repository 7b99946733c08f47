"""The score-history chart: its geometry, its view with the cast, and a real browser."""

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.scope import workspace_scope
from health import charts
from health.models import HealthModel, HealthScore, HealthSnapshot, ModelStatus
from health.services import ensure_active_model
from tests.factories import make_breeder
from tests.test_browser_foundation import sign_in

START = date(2026, 3, 1)
BOX = charts.ChartBox()


def rows_on(offsets_and_scores):
    """Return (day, score, band) rows for days counted from START."""
    return [(START + timedelta(days=offset), score, "") for offset, score in offsets_and_scores]


def build(rows, days=10, green_from=80, yellow_from=60):
    return charts.build_score_history(
        rows,
        start=START,
        end=START + timedelta(days=days - 1),
        green_from=green_from,
        yellow_from=yellow_from,
    )


# Geometry


def test_scores_scale_to_plot_edges():
    assert charts.y_for_score(100, BOX) == BOX.plot_top
    assert charts.y_for_score(0, BOX) == BOX.plot_bottom
    assert charts.y_for_score(50, BOX) == BOX.plot_top + BOX.plot_height / 2
    assert charts.y_for_score(130, BOX) == BOX.plot_top
    assert charts.y_for_score(-5, BOX) == BOX.plot_bottom


def test_days_scale_to_plot_edges():
    end = START + timedelta(days=89)
    assert charts.x_for_day(START, START, end, BOX) == BOX.plot_left
    assert charts.x_for_day(end, START, end, BOX) == BOX.plot_right
    middle = charts.x_for_day(START + timedelta(days=45), START, end, BOX)
    assert middle == round(BOX.plot_left + BOX.plot_width * 45 / 89, 1)
    assert charts.x_for_day(START, START, START, BOX) == BOX.plot_left + BOX.plot_width / 2


def test_missing_days_break_the_line():
    chart = build(rows_on([(0, 70), (1, 72), (2, 74), (5, 50), (7, 65), (8, 66)]))
    assert len(chart.segments) == 2
    assert chart.segments[0].startswith(f"M{BOX.plot_left:.1f},")
    assert chart.segments[0].count("L") == 2
    assert chart.segments[1].count("L") == 1
    assert [dot.day for dot in chart.dots] == [START + timedelta(days=5)]
    assert chart.last_point is not None
    assert chart.last_point.day == START + timedelta(days=8)
    assert chart.scored_days == 6
    assert chart.missing_days == 4


def test_snapshot_without_score_is_a_gap():
    chart = build(rows_on([(0, 70), (1, None), (2, 74)]))
    assert chart.segments == []
    assert len(chart.dots) == 2
    assert chart.scored_days == 2


def test_rows_outside_window_are_ignored():
    chart = build(rows_on([(-1, 10), (0, 70), (1, 71), (10, 99)]))
    assert chart.scored_days == 2
    assert chart.maximum is not None
    assert chart.maximum.score == 71


def test_rows_in_any_order():
    chart = build(list(reversed(rows_on([(0, 70), (1, 60), (2, 80)]))))
    assert chart.first is not None
    assert chart.first.day == START
    assert len(chart.segments) == 1
    assert chart.segments[0].count("L") == 2


def test_table_rows_list_days_and_gaps():
    chart = build(rows_on([(0, Decimal("70.5")), (3, 60), (4, 61)]), days=7)
    rows = [(row.first_day.day, row.last_day.day, row.score) for row in chart.table_rows]
    assert rows == [(1, 1, 70.5), (2, 3, None), (4, 4, 60.0), (5, 5, 61.0), (6, 7, None)]
    assert chart.table_rows[1].is_gap
    assert chart.table_rows[1].day_count == 2


def test_table_row_band_label():
    chart = charts.build_score_history(
        [(START, 85, "green"), (START + timedelta(days=1), 40, "red")],
        start=START,
        end=START + timedelta(days=1),
        green_from=80,
        yellow_from=60,
    )
    assert [row.band_label for row in chart.table_rows] == ["Thriving", "At risk"]


def test_summary_first_last_min_max():
    chart = build(rows_on([(0, 70), (1, 55), (2, 90), (4, 55), (6, 62)]))
    assert chart.first == charts.DayScore(START, 70.0)
    assert chart.last == charts.DayScore(START + timedelta(days=6), 62.0)
    assert chart.minimum == charts.DayScore(START + timedelta(days=1), 55.0)
    assert chart.maximum == charts.DayScore(START + timedelta(days=2), 90.0)


def test_empty_window_has_no_line():
    chart = build([])
    assert chart.segments == []
    assert chart.dots == []
    assert chart.last_point is None
    assert chart.first is None
    assert chart.missing_days == 10
    assert len(chart.table_rows) == 1
    assert chart.table_rows[0].day_count == 10


def test_thresholds_drawn_at_band_limits():
    chart = build([], green_from=85, yellow_from=50)
    assert [(line.band, line.score) for line in chart.thresholds] == [
        ("green", 85),
        ("yellow", 50),
    ]
    assert chart.thresholds[0].y == charts.y_for_score(85, BOX)
    assert chart.thresholds[1].y == BOX.plot_top + BOX.plot_height / 2
    assert [line.label for line in chart.thresholds] == ["Thriving", "Stable"]


def test_band_areas_cover_plot():
    chart = build([], green_from=80, yellow_from=60)
    assert [area.band for area in chart.band_areas] == ["green", "yellow", "red"]
    assert chart.band_areas[0].y == BOX.plot_top
    assert chart.band_areas[2].y + chart.band_areas[2].height == pytest.approx(BOX.plot_bottom)
    total = sum(area.height for area in chart.band_areas)
    assert total == pytest.approx(BOX.plot_height)


def test_y_ticks_skip_threshold_neighbours():
    ticks = build([]).y_ticks
    assert [tick.score for tick in ticks] == [0, 20, 40, 100]
    assert [tick.minor for tick in ticks] == [False, True, True, False]
    ticks = build([], green_from=75, yellow_from=55).y_ticks
    assert [tick.score for tick in ticks] == [0, 20, 40, 100]
    ticks = build([], green_from=90, yellow_from=70).y_ticks
    assert [tick.score for tick in ticks] == [0, 20, 40, 60, 80, 100]


def test_x_ticks_weekly_for_short_window():
    ticks = build([], days=30).x_ticks
    # 1 March 2026 is a Sunday, so the first Monday is the 2nd.
    assert [tick.day.day for tick in ticks] == [2, 9, 16, 23, 30]
    assert ticks[0].label == "2 Mar"
    assert not any(tick.minor for tick in ticks)


def test_x_ticks_month_starts_for_long_window():
    ticks = build([], days=90).x_ticks
    assert [tick.day for tick in ticks] == [date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]
    assert [tick.label for tick in ticks] == ["Mar", "Apr", "May"]
    assert ticks[0].anchor == "start"
    assert ticks[1].anchor == "middle"


def test_x_ticks_thin_out_over_a_year():
    ticks = build([], days=365).x_ticks
    assert len(ticks) == 12
    assert ticks[-1].day == date(2027, 2, 1)
    assert [tick.minor for tick in ticks[:4]] == [False, True, False, True]


# View


def history_url(breeder, slug="acme", days=None):
    url = reverse("health:score_history", args=[slug, breeder.public_id])
    return f"{url}?days={days}" if days is not None else url


def make_snapshots(workspace, breeder, model, scores_by_days_ago):
    """Create snapshots for days counted back from today. A score of None is stored as no score."""
    today = timezone.localdate()
    with workspace_scope(workspace):
        HealthSnapshot.objects.bulk_create(
            [
                HealthSnapshot(
                    workspace=workspace,
                    breeder=breeder,
                    day=today - timedelta(days=days_ago),
                    model=model,
                    score=score,
                    band=model.band_for(score),
                    coverage=Decimal("0.9"),
                )
                for days_ago, score in scores_by_days_ago.items()
            ]
        )


def make_score(workspace, breeder, model, score):
    """Create the breeder's current score, computed today with `model`."""
    with workspace_scope(workspace):
        return HealthScore.objects.create(
            workspace=workspace,
            breeder=breeder,
            model=model,
            score=Decimal(str(score)),
            band=model.band_for(score),
            coverage=Decimal("0.9"),
            as_of=timezone.localdate(),
            computed_at=timezone.now(),
        )


@pytest.fixture
def acme_model(cast):
    return ensure_active_model(cast.acme.pk)


@pytest.fixture
def acme_history(cast, acme_model):
    scores = {days_ago: 60 + days_ago % 25 for days_ago in range(90) if days_ago not in (10, 11)}
    make_snapshots(cast.acme, cast.acme_breeder, acme_model, scores)


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_members_see_history(cast, client_for, acme_history, who):
    response = client_for(getattr(cast, who)).get(history_url(cast.acme_breeder))
    assert response.status_code == 200
    assert b'role="img"' in response.content
    assert b"Health score, last 90 days" in response.content
    assert b"88 of 90 days have a score" in response.content


def test_window_ends_at_current_score_day(cast, client_for, acme_model):
    """A workspace whose data stopped long ago (a replayed export) still shows its
    history: the window ends on the day of the current score."""
    make_snapshots(
        cast.acme, cast.acme_breeder, acme_model, {days_ago: 70 for days_ago in range(400, 420)}
    )
    score = make_score(cast.acme, cast.acme_breeder, acme_model, 70)
    with workspace_scope(cast.acme):
        HealthScore.objects.filter(pk=score.pk).update(
            as_of=timezone.localdate() - timedelta(days=400)
        )
    response = client_for(cast.bob).get(history_url(cast.acme_breeder, days=30))
    assert b"20 of 30 days have a score" in response.content


def test_outsider_gets_404(cast, client_for, acme_history):
    response = client_for(cast.charlie).get(history_url(cast.acme_breeder))
    assert response.status_code == 404


def test_other_workspace_breeder_404(cast, client_for):
    response = client_for(cast.alice).get(history_url(cast.globex_breeder))
    assert response.status_code == 404


def test_bad_breeder_id_404(cast, client_for):
    url = reverse("health:score_history", args=["acme", "not-a-uuid"])
    assert client_for(cast.alice).get(url).status_code == 404
    missing = reverse("health:score_history", args=["acme", "00000000-0000-0000-0000-000000000000"])
    assert client_for(cast.alice).get(missing).status_code == 404


def test_signed_out_redirects(cast):
    response = Client().get(history_url(cast.acme_breeder))
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(None, 90), ("30", 30), ("5", 30), ("365", 365), ("9999", 365), ("abc", 90), ("", 90)],
)
def test_days_clamped(cast, client_for, acme_model, requested, expected):
    url = reverse("health:score_history", args=["acme", cast.acme_breeder.public_id])
    if requested is not None:
        url = f"{url}?days={requested}"
    response = client_for(cast.bob).get(url)
    assert response.status_code == 200
    assert response.context["days"] == expected
    assert response.context["chart"].days == expected


def test_window_ends_today(cast, client_for, acme_history):
    chart = client_for(cast.bob).get(history_url(cast.acme_breeder, days=30)).context["chart"]
    assert chart.end == timezone.localdate()
    assert chart.start == timezone.localdate() - timedelta(days=29)
    assert chart.scored_days == 28
    assert len(chart.segments) == 2


def test_empty_history_message(cast, client_for, acme_model):
    response = client_for(cast.bob).get(history_url(cast.acme_breeder))
    assert response.status_code == 200
    assert b"No scores in the last 90 days." in response.content
    assert b"<svg" not in response.content


def test_thresholds_from_active_model(cast, client_for, acme_history, acme_model):
    HealthModel.unscoped_objects.filter(pk=acme_model.pk).update(green_from=85, yellow_from=50)
    response = client_for(cast.bob).get(history_url(cast.acme_breeder))
    assert response.context["model"].pk == acme_model.pk
    scores = [line.score for line in response.context["chart"].thresholds]
    assert scores == [85, 50]
    assert b"Thriving from 85" in response.content


def test_thresholds_from_breeder_score_model(cast, client_for, acme_history, acme_model):
    with workspace_scope(cast.acme):
        retired = HealthModel.objects.create(
            workspace=cast.acme,
            version=acme_model.version + 1,
            status=ModelStatus.RETIRED,
            green_from=90,
            yellow_from=40,
        )
    make_score(cast.acme, cast.acme_breeder, retired, 70)
    response = client_for(cast.bob).get(history_url(cast.acme_breeder))
    assert response.context["model"].pk == retired.pk
    assert [line.score for line in response.context["chart"].thresholds] == [90, 40]


def test_default_model_created_when_none(cast, client_for):
    response = client_for(cast.bob).get(history_url(cast.acme_breeder))
    assert response.status_code == 200
    assert response.context["model"].status == ModelStatus.ACTIVE


def test_history_has_text_alternative(cast, client_for, acme_history):
    content = client_for(cast.bob).get(history_url(cast.acme_breeder)).content.decode()
    assert 'aria-labelledby="score-history-title"' in content
    assert 'aria-describedby="score-history-summary"' in content
    assert "Lowest 60" in content
    assert "highest 84" in content
    assert "<caption>Daily health score from" in content
    assert "No score (2 days)" in content
    assert 'class="visually-hidden"' in content


def test_history_has_no_inline_style_or_script(cast, client_for, acme_history):
    content = client_for(cast.bob).get(history_url(cast.acme_breeder)).content.decode()
    assert "style=" not in content
    assert "<style" not in content
    assert "<script" not in content


def test_breeder_panel_loads_history(cast, client_for, acme_model):
    make_score(cast.acme, cast.acme_breeder, acme_model, 70)
    panel = reverse("health:breeder_health", args=["acme", cast.acme_breeder.public_id])
    content = client_for(cast.bob).get(panel).content.decode()
    url = reverse("health:score_history", args=["acme", cast.acme_breeder.public_id])
    assert f'hx-get="{url}"' in content
    assert f'href="{url}"' in content


def test_query_count_flat_in_days(cast, client_for, acme_model, django_assert_num_queries):
    client = client_for(cast.bob)
    make_snapshots(cast.acme, cast.acme_breeder, acme_model, {0: 70, 1: 71})
    # The first request also saves the session's active workspace; measure the next.
    client.get(history_url(cast.acme_breeder, days=30))
    with CaptureQueriesContext(connection) as short_window:
        client.get(history_url(cast.acme_breeder, days=30))

    other = make_breeder(cast.acme, assigned_csm=cast.bob)
    make_snapshots(cast.acme, other, acme_model, {n: 50 + n % 40 for n in range(365)})
    with django_assert_num_queries(len(short_window)):
        response = client.get(history_url(other, days=365))
    assert response.context["chart"].scored_days == 365


def test_query_count_exact(cast, client_for, acme_history, acme_model, django_assert_num_queries):
    client = client_for(cast.bob)
    # The user, membership, breeder, model and snapshots. The session is saved only
    # when the active workspace changes, which the first request does.
    client.get(history_url(cast.acme_breeder, days=30))
    with django_assert_num_queries(5):
        client.get(history_url(cast.acme_breeder, days=180))

    make_score(cast.acme, cast.acme_breeder, acme_model, 70)
    with django_assert_num_queries(5):
        client.get(history_url(cast.acme_breeder, days=180))


# Browser


@pytest.fixture
def scored_breeder(cast, acme_model):
    """Give Acme's breeder 90 days of scores and a current score.

    Browser tests list this fixture before `page`, so the rows are written before
    Playwright starts its event loop in this thread. When the test body wrote them
    after that, a database connection stayed open past the test and the run could not
    drop the test database.
    """
    # A slow slide from green into yellow and a recovery, with a four-day and a
    # one-day gap.
    scores = {
        days_ago: round(72 + 12 * math.cos(days_ago / 14) + 3 * math.sin(days_ago * 1.7), 1)
        for days_ago in range(90)
        if days_ago not in (40, 41, 42, 43, 60)
    }
    make_snapshots(cast.acme, cast.acme_breeder, acme_model, scores)
    make_score(cast.acme, cast.acme_breeder, acme_model, scores[0])
    return cast.acme_breeder


@pytest.mark.browser
def test_chart_in_browser(scored_breeder, page, artifacts_dir):
    errors: list[str] = []

    def record_console(message):
        if message.type == "error":
            errors.append(message.text)

    page.on("console", record_console)

    sign_in(page, "bob@example.com")
    page.goto(f"/w/acme/breeders/{scored_breeder.public_id}/")
    chart = page.locator("#score-history svg")
    chart.wait_for()
    assert chart.is_visible()
    assert page.get_by_role("img", name="Health score, last 90 days").is_visible()
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 600
    page.locator("#score-history").screenshot(path=artifacts_dir / "breeder-history.png")

    page.set_viewport_size({"width": 390, "height": 844})
    assert chart.is_visible()
    page.locator("#score-history").screenshot(path=artifacts_dir / "breeder-history-phone.png")
    history_box = page.locator("#score-history").bounding_box()
    assert history_box is not None
    assert history_box["x"] + history_box["width"] <= 390
    phone_box = chart.bounding_box()
    assert phone_box is not None
    assert phone_box["x"] + phone_box["width"] <= 390

    page.get_by_role("link", name="365 days").click()
    page.get_by_role("img", name="Health score, last 365 days").wait_for()
    assert errors == []
