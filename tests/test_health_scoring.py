"""Health scores computed by hand for small cases: full data, missing data, stale data,
model versions and repeated runs."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.scope import workspace_scope
from health import scoring, services
from health.measures import MEASURES_BY_KEY
from health.metrics import load_inputs
from health.models import HealthMeasure, HealthModel, HealthScore, HealthSnapshot, ModelStatus
from health.tasks import recompute_workspace
from lifecycle.models import DailyActivity, Subscription, SurveyAnswer, Ticket
from tests.factories import make_breeder

AS_OF = date(2026, 11, 30)


def day(offset):
    return AS_OF - timedelta(days=offset)


def at(offset, hour=12):
    return datetime.combine(day(offset), datetime.min.time(), tzinfo=UTC).replace(hour=hour)


def activity(breeder, feature, offset, count=1):
    DailyActivity.objects.create(
        workspace_id=breeder.workspace_id,
        breeder=breeder,
        feature=feature,
        day=day(offset),
        event_count=count,
        first_event_at=at(offset),
        last_event_at=at(offset),
    )


def full_profile(workspace):
    return make_breeder(
        workspace,
        name="Full Data",
        email="full@example.com",
        country="DE",
        species=["Ball python"],
        animal_count=40,
        operation="part_time",
        experience="experienced",
        time_zone="Europe/Berlin",
        business_name="Full Data Reptiles",
        signed_up_at=at(200),
    )


def give_full_inputs(breeder, *, last_activity_offset=0):
    base = last_activity_offset
    for offset in range(8):
        activity(breeder, "login", base + offset * 3)
    activity(breeder, "records", base + 1, count=6)
    activity(breeder, "pedigrees", base + 2, count=4)
    activity(breeder, "records", base + 40, count=10)
    activity(breeder, "community", base + 3, count=5)
    activity(breeder, "marketplace", base + 4, count=5)
    activity(breeder, "integrations", base + 100, count=1)
    activity(breeder, "advocacy", base + 10, count=1)
    Subscription.objects.create(
        workspace_id=breeder.workspace_id,
        breeder=breeder,
        external_id="sub_1",
        source="stripe",
        status="active",
        started_at=at(365, hour=0),
        plan="breeder_pro",
    )
    Ticket.objects.create(
        workspace_id=breeder.workspace_id,
        breeder=breeder,
        external_id="t-1",
        source="import",
        subject="Cannot upload photos",
        category="technical",
        status="solved",
        opened_at=at(20),
    )
    SurveyAnswer.objects.create(
        workspace_id=breeder.workspace_id,
        breeder=breeder,
        kind="nps",
        score=9,
        answered_at=at(15),
        source_key="nps-1",
    )


def score_of(breeder):
    return HealthScore.objects.get(breeder=breeder)


@pytest.fixture
def acme(cast):
    with workspace_scope(cast.acme):
        yield cast.acme


def test_full_inputs_hand_computed(acme):
    breeder = full_profile(acme)
    give_full_inputs(breeder)
    (result,) = scoring.recompute(acme.pk, AS_OF, [breeder.pk])
    # Worked through in docs/health-score.md: usage 83.0, business 79.25, satisfaction
    # 88.75, so 0.4 × 83.0 + 0.3 × 79.25 + 0.3 × 88.75 = 83.6.
    assert result.categories == {"usage": 83.0, "business": 79.2, "satisfaction": 88.8}
    assert result.score == 83.6
    assert result.band == "green"
    assert result.coverage == 1.0
    assert result.provisional is False
    measures = result.measures
    assert measures["login_frequency"]["score"] == 75.0
    assert measures["feature_adoption"]["raw"] == 4
    assert measures["growth"]["raw"] == 1.0
    assert measures["renewal_likelihood"]["score"] == 85.0
    assert measures["survey_responses"]["score"] == 100.0
    assert sum(m["contribution"] for m in measures.values()) == pytest.approx(83.6, abs=0.1)


def test_missing_inputs_redistribute_weight(acme):
    breeder = make_breeder(acme, signed_up_at=at(10))
    (result,) = scoring.recompute(acme.pk, AS_OF, [breeder.pk])
    # Only data quality has data: 2 of 9 profile fields (name, email) gives 0.222,
    # 40 × 0.222 / 0.5 = 17.8 on its curve, and it carries the whole score.
    assert result.score == 17.8
    assert result.categories == {"usage": 17.8, "business": None, "satisfaction": None}
    assert result.coverage == 0.06
    assert result.provisional is True
    assert result.measures["login_frequency"]["status"] == "missing"
    assert result.measures["data_quality"]["weight"] == 1.0


def test_stale_feed_excluded(acme):
    breeder = full_profile(acme)
    give_full_inputs(breeder, last_activity_offset=20)
    (result,) = scoring.recompute(acme.pk, AS_OF, [breeder.pk])
    assert result.measures["login_frequency"]["status"] == "stale"
    assert result.measures["advocacy"]["status"] == "stale"
    assert result.categories["usage"] == 100.0
    assert result.categories["business"] == 100.0
    assert result.categories["satisfaction"] == pytest.approx(91.2, abs=0.1)
    assert result.coverage == 0.42
    assert result.provisional is True
    assert result.score == pytest.approx(97.4, abs=0.1)


def test_daily_run_twice_same_rows(acme):
    breeder = full_profile(acme)
    give_full_inputs(breeder)
    scoring.recompute(acme.pk, AS_OF)
    scoring.recompute(acme.pk, AS_OF)
    assert HealthSnapshot.objects.filter(breeder=breeder).count() == 1


@pytest.mark.parametrize(
    ("key", "raw", "window", "expected"),
    [
        ("renewal_likelihood", 1, 0, "1 month as a paying customer"),
        ("renewal_likelihood", 14, 0, "14 months as a paying customer"),
        ("advocacy", 1, 180, "1 referral or review in the last 180 days"),
        ("support_interactions", 0, 90, "0 support tickets in the last 90 days"),
        ("feature_adoption", 1.2, 30, "used 1 core feature in the last 30 days"),
        ("community_engagement", 2, 1, "2 community actions in the last day"),
        ("growth", 0, 1, "no new animal records or pedigrees in the last day"),
        ("growth", 1.5, 30, "records and pedigrees at 1.5× the previous 30 days"),
    ],
)
def test_measure_wording_counts_nouns(key, raw, window, expected):
    assert MEASURES_BY_KEY[key].describe(raw, window) == expected


def test_explanation_names_measure(acme):
    breeder = full_profile(acme)
    give_full_inputs(breeder)
    scoring.recompute(acme.pk, AS_OF)
    DailyActivity.objects.filter(breeder=breeder, feature__in=["records", "pedigrees"]).delete()
    (result,) = scoring.recompute(acme.pk, AS_OF + timedelta(days=1), [breeder.pk])
    assert result.explanation[0].startswith("-")
    assert any(
        "business -" in line and "no new animal records or pedigrees" in line
        for line in result.explanation
    )


def test_score_records_model_version(acme):
    breeder = full_profile(acme)
    give_full_inputs(breeder)
    scoring.recompute(acme.pk, timezone.localdate())
    first = score_of(breeder)
    assert first.model.version == 1
    draft = services.clone_as_draft(first.model, actor=None)
    HealthMeasure.objects.filter(model=draft, key="login_frequency").update(
        curve=[[0, 0], [30, 100]]
    )
    scoring.recompute(acme.pk, timezone.localdate())
    assert score_of(breeder).model.version == 1
    services.activate_model(draft, actor=None)
    scoring.recompute(acme.pk, timezone.localdate())
    second = score_of(breeder)
    assert second.model.version == 2
    assert HealthModel.objects.get(version=1).status == ModelStatus.RETIRED
    assert second.score != first.score


def test_activation_rejects_bad_weights(acme):
    model = services.ensure_active_model(acme.pk)
    draft = services.clone_as_draft(model, actor=None)
    HealthMeasure.objects.filter(model=draft, key="login_frequency").update(weight=50)
    HealthMeasure.objects.filter(model=draft, key="growth").update(curve=[[0, 100], [2, 0]])
    with pytest.raises(ValidationError) as error:
        services.activate_model(draft, actor=None)
    messages = " ".join(error.value.messages)
    assert "usage measures' weights add up to 120, not 100" in messages
    assert "growth curve must rise" in messages
    draft.refresh_from_db()
    assert draft.status == ModelStatus.DRAFT


def test_other_workspace_data_not_read(cast, acme):
    breeder = full_profile(acme)
    with workspace_scope(cast.globex):
        other = make_breeder(cast.globex, signed_up_at=at(50))
        activity(other, "login", 1, count=3)
    results = scoring.recompute(acme.pk, AS_OF)
    # cast.acme_breeder signed up after AS_OF, so it is not scored as of that day.
    assert {r.breeder_id for r in results} == {breeder.pk}
    with workspace_scope(cast.globex):
        assert not HealthScore.objects.exists()


def test_trend_against_snapshots(acme):
    breeder = full_profile(acme)
    give_full_inputs(breeder)
    HealthSnapshot.objects.create(
        workspace=acme,
        breeder=breeder,
        day=AS_OF - timedelta(days=7),
        model=services.ensure_active_model(acme.pk),
        score=Decimal("90.0"),
        band="green",
        coverage=1,
    )
    (result,) = scoring.recompute(acme.pk, AS_OF, [breeder.pk])
    assert result.trend_7d == pytest.approx(83.6 - 90.0, abs=0.05)
    # No snapshot is 30 or more days old, so there is no 30-day trend.
    assert result.trend_30d is None


@pytest.mark.worker
def test_stale_inputs_and_version_change_through_worker(cast, celery_worker):
    with workspace_scope(cast.acme):
        breeder = full_profile(cast.acme)
        give_full_inputs(breeder, last_activity_offset=20)
    first = recompute_workspace.delay(workspace_id=cast.acme.pk, as_of=AS_OF.isoformat())
    assert first.get(timeout=30)["scored"] == 1
    with workspace_scope(cast.acme):
        snapshot = HealthSnapshot.objects.get(breeder=breeder, day=AS_OF)
        assert snapshot.measures["login_frequency"]["status"] == "stale"
        assert snapshot.coverage == Decimal("0.420")
        assert snapshot.score == Decimal("97.4")
        assert snapshot.model.version == 1
        draft = services.clone_as_draft(snapshot.model, actor=None)
        HealthMeasure.objects.filter(model=draft, key="subscription_status").update(
            curve=[[0, 0], [200, 100]]
        )
        services.activate_model(draft, actor=None)
    recompute_workspace.delay(workspace_id=cast.acme.pk, as_of=AS_OF.isoformat()).get(timeout=30)
    recompute_workspace.delay(workspace_id=cast.acme.pk, as_of=AS_OF.isoformat()).get(timeout=30)
    with workspace_scope(cast.acme):
        rows = list(HealthSnapshot.objects.filter(breeder=breeder, day=AS_OF))
    # The same day is rewritten, not duplicated, and now records version 2, whose
    # subscription curve halves that measure's score: business 50, so
    # 0.4 × 100 + 0.3 × 50 + 0.3 × 91.2 = 82.4.
    assert len(rows) == 1
    assert rows[0].model.version == 2
    assert rows[0].score == Decimal("82.4")


def test_results_match_reference_and_rows(acme):
    full = full_profile(acme)
    give_full_inputs(full)
    newcomer = make_breeder(acme, signed_up_at=at(10), country="DE")
    activity(newcomer, "login", 2)
    activity(newcomer, "community", 3, count=2)
    Ticket.objects.create(
        workspace_id=acme.pk,
        breeder=newcomer,
        external_id="t-2",
        source="import",
        subject="Login trouble",
        category="technical",
        status="open",
        opened_at=at(5),
        satisfaction_rating=2,
    )
    results = scoring.recompute(acme.pk, AS_OF)
    assert len(results) == 2

    model, measures = scoring.active_model(acme.pk)
    compiled = scoring.compile_measures(measures)
    windows = {m.key: m.window_days for m in measures}
    inputs = load_inputs(acme.pk, AS_OF, windows)
    for index, result in enumerate(results):
        assert inputs.breeder_ids[index] == result.breeder_id
        expected = scoring.score_breeder(
            inputs.breeder(index), inputs, model, compiled, (31, 91, 366)
        )
        assert result.score == expected.score
        assert result.band == expected.band
        assert result.coverage == expected.coverage
        assert result.categories == expected.categories
        assert result.measures == expected.measures
        snapshot = HealthSnapshot.objects.get(breeder_id=result.breeder_id, day=AS_OF)
        assert snapshot.measures == result.measures
        assert snapshot.score == Decimal(str(result.score))
        assert snapshot.coverage == Decimal(str(result.coverage))
    assert results[1].measures["survey_responses"]["raw"] == 25.0


def test_rerun_leaves_unchanged_rows(acme):
    breeder = full_profile(acme)
    give_full_inputs(breeder)
    today = timezone.localdate()
    scoring.recompute(acme.pk, today)
    first = score_of(breeder)
    snapshot_id = HealthSnapshot.objects.get(breeder=breeder, day=today).pk
    scoring.recompute(acme.pk, today)
    assert score_of(breeder).computed_at == first.computed_at
    assert HealthSnapshot.objects.get(breeder=breeder, day=today).pk == snapshot_id

    DailyActivity.objects.filter(breeder=breeder, feature="community").delete()
    scoring.recompute(acme.pk, today)
    second = score_of(breeder)
    assert second.computed_at > first.computed_at
    assert second.score < first.score
    snapshot = HealthSnapshot.objects.get(breeder=breeder, day=today)
    assert snapshot.measures["community_engagement"]["raw"] == 0.0


def test_history_older_than_lookup_days(acme):
    breeder = full_profile(acme)
    give_full_inputs(breeder)
    other = full_profile(acme)
    model = services.ensure_active_model(acme.pk)
    for day_offset, score in ((10, "70.0"), (40, "95.0")):
        HealthSnapshot.objects.create(
            workspace=acme,
            breeder=breeder,
            day=AS_OF - timedelta(days=day_offset),
            model=model,
            score=Decimal(score),
            band="yellow",
            coverage=1,
        )
    (result,) = scoring.recompute(acme.pk, AS_OF, [breeder.pk])
    # No snapshot on the day before, 7 or 30 days before: the newest older ones count.
    assert result.previous_score == 70.0
    assert result.previous_band == "yellow"
    assert result.trend_7d == pytest.approx(83.6 - 70.0, abs=0.05)
    assert result.trend_30d == pytest.approx(83.6 - 95.0, abs=0.05)
    assert result.explanation[0] == f"+14 since {AS_OF - timedelta(days=10):%d %b %Y}"
    # The old snapshot has no breakdown, so every contributing measure moved.
    assert len(result.explanation) == 5
    results = {r.breeder_id: r for r in scoring.recompute(acme.pk, AS_OF)}
    assert results[other.pk].previous_score is None
    assert results[other.pk].explanation == []
    assert results[breeder.pk].explanation == result.explanation


def test_pending_cancellation_still_running_in_history(acme):
    """A cancellation requested at period end is not an ended subscription on days
    before the period ends; an immediate cancellation is."""
    running = make_breeder(acme, signed_up_at=at(200))
    stopped = make_breeder(acme, signed_up_at=at(200))
    for breeder, status in ((running, "active"), (stopped, "canceled")):
        Subscription.objects.create(
            workspace_id=acme.pk,
            breeder=breeder,
            external_id=f"sub_{status}",
            source="stripe",
            status=status,
            cancel_at_period_end=status == "active",
            started_at=at(100, hour=0),
            canceled_at=at(10),
            plan="breeder_pro",
        )
    computed = scoring.recompute(acme.pk, AS_OF, [running.pk, stopped.pk])
    results = {r.breeder_id: r for r in computed}
    assert results[running.pk].measures["subscription_status"]["raw"] == 100
    assert results[stopped.pk].measures["subscription_status"]["raw"] == 0
