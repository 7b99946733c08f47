"""Alerts: raised once per breeder and kind, routed to the CSM or the pool, with states,
cool-down and a daily digest; and the beat jobs run through a real Celery worker."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Membership
from accounts.scope import workspace_scope
from health import alerts, scoring, services
from health.models import Alert, AlertKind, AlertState, HealthScore, HealthSnapshot
from health.tasks import recompute_changed, recompute_workspace, send_alert_digests
from lifecycle.models import (
    AchievementStatus,
    DailyActivity,
    MilestoneAchievement,
    MilestoneDefinition,
    Subscription,
    SurveyAnswer,
)
from tests.factories import make_breeder

TODAY = timezone.localdate()


def at(days_ago):
    return timezone.now() - timedelta(days=days_ago)


def activity(breeder, feature, days_ago, count=1):
    when = at(days_ago)
    DailyActivity.objects.create(
        workspace_id=breeder.workspace_id,
        breeder=breeder,
        feature=feature,
        day=(TODAY - timedelta(days=days_ago)),
        event_count=count,
        first_event_at=when,
        last_event_at=when,
    )


def snapshot(breeder, days_ago, score, band):
    HealthSnapshot.objects.create(
        workspace_id=breeder.workspace_id,
        breeder=breeder,
        day=TODAY - timedelta(days=days_ago),
        model=services.ensure_active_model(breeder.workspace_id),
        score=Decimal(score),
        band=band,
        coverage=1,
    )


def kinds(breeder):
    return sorted(Alert.objects.filter(breeder=breeder).values_list("kind", flat=True))


@pytest.fixture
def acme(cast):
    with workspace_scope(cast.acme):
        yield cast.acme


@pytest.fixture
def slipping(acme, cast):
    """A breeder who was green a week ago and now has almost nothing going on."""
    breeder = make_breeder(
        acme, assigned_csm=cast.bob, signed_up_at=at(300), name="Slipping Scales"
    )
    for days_ago in range(8, 35):
        activity(breeder, "login", days_ago, count=5)
    activity(breeder, "records", 1)
    Subscription.objects.create(
        workspace=acme,
        breeder=breeder,
        external_id="sub_s",
        source="stripe",
        status="past_due",
        started_at=at(300),
    )
    snapshot(breeder, 7, "88.0", "green")
    snapshot(breeder, 1, "85.0", "green")
    return breeder


def run_daily(workspace):
    model, _ = scoring.active_model(workspace.pk)
    results = scoring.recompute(workspace.pk)
    candidates = alerts.score_candidates(results, model) + alerts.signal_candidates(
        workspace.pk, timezone.now()
    )
    return alerts.raise_alerts(workspace.pk, candidates, model)


def test_slipping_breeder_alerts(acme, slipping):
    opened = run_daily(acme)
    score = HealthScore.objects.get(breeder=slipping)
    assert score.band == "red"
    assert kinds(slipping) == sorted(
        [
            AlertKind.ENTERED_RED,
            AlertKind.PAYMENT_FAILED,
            AlertKind.SCORE_DROP,
            AlertKind.USAGE_ANOMALY,
        ]
    )
    assert opened == 4
    red = Alert.objects.get(breeder=slipping, kind=AlertKind.ENTERED_RED)
    assert red.owner_id == slipping.assigned_csm_id
    assert red.severity == "critical"


def test_first_red_score_is_not_entering_red(acme, slipping):
    HealthSnapshot.objects.filter(breeder=slipping).delete()
    run_daily(acme)
    assert HealthScore.objects.get(breeder=slipping).band == "red"
    assert AlertKind.ENTERED_RED not in kinds(slipping)


def test_second_run_raises_nothing(acme, slipping):
    run_daily(acme)
    assert run_daily(acme) == 0
    assert Alert.objects.filter(breeder=slipping).count() == 4


def test_cooldown_after_resolution(acme, slipping, cast):
    run_daily(acme)
    bob = Membership.objects.get(user=cast.bob)
    for alert in Alert.objects.filter(breeder=slipping):
        alerts.resolve(alert, actor=bob, note="Called, card updated")
    assert run_daily(acme) == 0
    Alert.objects.filter(breeder=slipping).update(resolved_at=at(8))
    assert run_daily(acme) > 0


def test_unassigned_breeder_goes_to_pool(acme, cast):
    breeder = make_breeder(acme, signed_up_at=at(20))
    SurveyAnswer.objects.create(
        workspace=acme,
        breeder=breeder,
        kind="nps",
        score=3,
        answered_at=at(0),
        comment="Too slow",
        source_key="s-1",
    )
    run_daily(acme)
    alert = Alert.objects.get(breeder=breeder, kind=AlertKind.DETRACTOR)
    assert alert.owner is None
    bob = Membership.objects.get(user=cast.bob)
    assert alerts.open_alert_count(bob) == 0
    bob.works_pool = True
    bob.save()
    assert alerts.open_alert_count(bob) == 1


def test_renewal_and_missed_milestone(acme, cast):
    breeder = make_breeder(acme, assigned_csm=cast.bob, signed_up_at=at(5))
    Subscription.objects.create(
        workspace=acme,
        breeder=breeder,
        external_id="sub_r",
        source="stripe",
        status="active",
        started_at=at(300),
        current_period_end=timezone.now() + timedelta(days=45),
    )
    milestone = MilestoneDefinition.objects.get(key="first_pedigree")
    MilestoneAchievement.objects.create(
        workspace=acme,
        breeder=breeder,
        milestone=milestone,
        status=AchievementStatus.MISSED,
        due_at=at(1),
        missed_at=at(1),
    )
    run_daily(acme)
    assert kinds(breeder) == [AlertKind.MILESTONE_MISSED, AlertKind.RENEWAL_60]


@pytest.mark.parametrize(("days", "counted"), [(1, "1 day"), (45, "45 days")])
def test_renewal_title_counts_days(acme, cast, days, counted):
    now = timezone.now()
    period_end = now + timedelta(days=days, hours=2)
    breeder = make_breeder(acme, assigned_csm=cast.bob)
    Subscription.objects.create(
        workspace=acme,
        breeder=breeder,
        external_id="sub_soon",
        source="stripe",
        status="active",
        started_at=at(300),
        current_period_end=period_end,
    )
    titles = [
        candidate.title
        for candidate in alerts.signal_candidates(acme.pk, now)
        if candidate.breeder_id == breeder.pk
    ]
    assert titles == [f"Renews on {period_end.day} {period_end:%b %Y} ({counted})"]


def test_states_and_roles(acme, slipping, cast):
    run_daily(acme)
    alert = Alert.objects.get(breeder=slipping, kind=AlertKind.ENTERED_RED)
    bob = Membership.objects.get(user=cast.bob)
    vera = Membership.objects.get(user=cast.vera)
    with pytest.raises(Exception, match="cannot work alerts"):
        alerts.acknowledge(alert, actor=vera)
    alerts.acknowledge(alert, actor=bob)
    assert alert.state == AlertState.ACKNOWLEDGED
    alerts.snooze(alert, actor=bob, until=timezone.now() + timedelta(days=2))
    assert alerts.wake_snoozed(acme.pk) == 0
    assert alerts.wake_snoozed(acme.pk, now=timezone.now() + timedelta(days=3)) == 1
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN
    alerts.resolve(alert, actor=bob, note="Weekly check-ins agreed")
    assert alert.state == AlertState.RESOLVED
    assert alert.note == "Weekly check-ins agreed"


def test_digest_once_a_day(acme, slipping, cast):
    run_daily(acme)
    assert send_alert_digests.apply(kwargs={"workspace_id": acme.pk}).get() == 1
    assert send_alert_digests.apply(kwargs={"workspace_id": acme.pk}).get() == 0
    (message,) = mail.outbox
    assert message.to == ["bob@example.com"]
    assert "Slipping Scales" in message.body
    assert "Slipping Scales" in message.alternatives[0][0]  # type: ignore[attr-defined]


# Through the real worker.


@pytest.mark.worker
def test_beat_jobs_through_worker(cast, celery_worker):
    with workspace_scope(cast.acme):
        breeder = make_breeder(cast.acme, assigned_csm=cast.bob, signed_up_at=at(300))
        for days_ago in range(8, 35):
            activity(breeder, "login", days_ago, count=5)
        snapshot(breeder, 7, "88.0", "green")
    first = recompute_workspace.delay(workspace_id=cast.acme.pk).get(timeout=30)
    second = recompute_workspace.delay(workspace_id=cast.acme.pk).get(timeout=30)
    # Usage: logins on 22 of 30 days score 100, profile 2/9 complete scores 17.8, the
    # other usage measures 0: (100 × 30 + 17.8 × 15) / 100 = 32.67. Business: activity
    # measures all 0. Satisfaction: only advocacy has data (0 actions score 40).
    # 0.4 × 32.67 + 0.3 × 0 + 0.3 × 40 = 25.1, covering 64% of the weight.
    assert first["alerts_opened"] == 3
    assert second["alerts_opened"] == 0
    with workspace_scope(cast.acme):
        score = HealthScore.objects.get(breeder=breeder)
        assert score.score == Decimal("25.1")
        assert score.coverage == Decimal("0.640")
        assert score.provisional is False
        assert score.model.version == 1
        assert score.explanation[0].startswith("-63 since")
        assert sorted(Alert.objects.filter(breeder=breeder).values_list("kind", flat=True)) == [
            AlertKind.ENTERED_RED,
            AlertKind.SCORE_DROP,
            AlertKind.USAGE_ANOMALY,
        ]
        assert HealthSnapshot.objects.filter(breeder=breeder, day=TODAY).count() == 1
        activity(breeder, "login", 0, count=3)
        DailyActivity.objects.filter(breeder=breeder, day=TODAY).update(
            last_event_at=timezone.now() + timedelta(seconds=1)
        )
    changed = recompute_changed.delay(workspace_id=cast.acme.pk).get(timeout=30)
    assert changed["scored"] >= 1
    with workspace_scope(cast.globex):
        assert not HealthScore.objects.exists()


def test_model_version_change_through_daily_job(acme, slipping):
    run_daily(acme)
    first = HealthScore.objects.get(breeder=slipping)
    draft = services.clone_as_draft(first.model, actor=None)
    services.activate_model(draft, actor=None)
    recompute_workspace.apply(kwargs={"workspace_id": acme.pk}).get()
    assert HealthScore.objects.get(breeder=slipping).model.version == 2
