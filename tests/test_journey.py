"""Lifecycle phases, onboarding milestones and the breeder timeline."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.scope import workspace_scope
from lifecycle import journey
from lifecycle.models import (
    AchievementStatus,
    BillingTimelineEntry,
    BreederPhase,
    DailyActivity,
    Event,
    LifecycleSettings,
    MilestoneAchievement,
    MilestoneDefinition,
    Phase,
    Ticket,
    TimelineEntry,
    TimelineKind,
)
from lifecycle.processing import process_pending_events
from tests.factories import make_breeder

# Berlin is UTC+1 in winter: a signup at 23:30 UTC on 1 Jan is local day 2 Jan.
SIGNUP = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)


def track(breeder, name, at):
    with workspace_scope(breeder.workspace_id):
        return Event.objects.create(
            workspace_id=breeder.workspace_id,
            message_id=str(uuid.uuid4()),
            type="track",
            event_name=name,
            user_id=breeder.external_id,
            breeder=breeder,
            timestamp=at,
            received_at=at,
            payload={},
        )


def achievement(breeder, key):
    with workspace_scope(breeder.workspace_id):
        return MilestoneAchievement.objects.filter(breeder=breeder, milestone__key=key).first()


@pytest.fixture
def berliner(cast):
    return make_breeder(cast.acme, time_zone="Europe/Berlin", signed_up_at=SIGNUP)


def test_new_workspace_gets_default_milestones(cast):
    with workspace_scope(cast.acme):
        keys = list(MilestoneDefinition.objects.values_list("key", flat=True))
        days = list(MilestoneDefinition.objects.values_list("target_day", flat=True))
    assert keys == ["account_setup", "first_pedigree", "community", "marketplace", "assessment"]
    assert days == [1, 3, 7, 14, 30]


def test_milestone_on_time_in_local_day(cast, berliner):
    # Local day 0 is 2 Jan in Berlin, so "day 3" ends at 6 Jan 00:00 Berlin = 5 Jan 23:00 UTC.
    track(berliner, "Pedigree Created", datetime(2026, 1, 5, 22, 59, tzinfo=UTC))
    with workspace_scope(cast.acme):
        counts = journey.record_achievements(cast.acme.pk, [berliner.pk])
    assert counts.on_time == 1
    result = achievement(berliner, "first_pedigree")
    assert result.status == AchievementStatus.ON_TIME
    assert result.due_at == datetime(2026, 1, 5, 23, 0, tzinfo=UTC)


def test_milestone_late_after_local_day(cast, berliner):
    track(berliner, "Pedigree Created", datetime(2026, 1, 5, 23, 1, tzinfo=UTC))
    with workspace_scope(cast.acme):
        journey.record_achievements(cast.acme.pk, [berliner.pk])
    assert achievement(berliner, "first_pedigree").status == AchievementStatus.LATE


def test_all_conditions_needed(cast, berliner):
    track(berliner, "Profile Completed", SIGNUP + timedelta(hours=1))
    with workspace_scope(cast.acme):
        journey.record_achievements(cast.acme.pk, [berliner.pk])
    assert achievement(berliner, "account_setup") is None
    completed_at = SIGNUP + timedelta(hours=3)
    track(berliner, "Animal Created", completed_at)
    with workspace_scope(cast.acme):
        journey.record_achievements(cast.acme.pk, [berliner.pk])
    result = achievement(berliner, "account_setup")
    assert result.status == AchievementStatus.ON_TIME
    assert result.achieved_at == completed_at


def test_min_count_uses_nth_event_time(cast, berliner):
    with workspace_scope(cast.acme):
        MilestoneDefinition.objects.create(
            workspace=cast.acme,
            key="three_animals",
            name="Three animals",
            target_day=10,
            rule={"all": [{"events": ["Animal Created"], "min": 3}]},
        )
    times = [SIGNUP + timedelta(days=d) for d in (1, 2, 4, 5)]
    for at in times[:2]:
        track(berliner, "Animal Created", at)
    with workspace_scope(cast.acme):
        journey.record_achievements(cast.acme.pk, [berliner.pk])
    assert achievement(berliner, "three_animals") is None
    for at in times[2:]:
        track(berliner, "Animal Created", at)
    with workspace_scope(cast.acme):
        journey.record_achievements(cast.acme.pk, [berliner.pk])
    assert achievement(berliner, "three_animals").achieved_at == times[2]


def test_trait_rule(cast, berliner):
    with workspace_scope(cast.acme):
        MilestoneDefinition.objects.create(
            workspace=cast.acme,
            key="ten_animals",
            name="Ten animals on record",
            target_day=5000,
            rule={"trait": "animal_count", "op": ">=", "value": 10},
        )
        journey.record_achievements(cast.acme.pk)
        assert achievement(berliner, "ten_animals") is None
        berliner.animal_count = 12
        berliner.save()
        journey.record_achievements(cast.acme.pk)
    assert achievement(berliner, "ten_animals").status == AchievementStatus.ON_TIME


def test_missed_then_achieved_late(cast, berliner):
    after_due = datetime(2026, 1, 6, 0, 0, tzinfo=UTC)
    with workspace_scope(cast.acme):
        missed = journey.mark_missed_milestones(cast.acme.pk, now=after_due)
    # Day 1 and day 3 milestones are due by 6 Jan 00:00 UTC; the later ones are not.
    assert missed == 2
    assert achievement(berliner, "first_pedigree").status == AchievementStatus.MISSED
    assert achievement(berliner, "community") is None
    track(berliner, "Pedigree Created", datetime(2026, 1, 8, tzinfo=UTC))
    with workspace_scope(cast.acme):
        journey.record_achievements(cast.acme.pk, [berliner.pk])
    result = achievement(berliner, "first_pedigree")
    assert result.status == AchievementStatus.LATE
    assert result.missed_at is not None
    with workspace_scope(cast.acme):
        kinds = sorted(
            TimelineEntry.objects.filter(breeder=berliner).values_list("kind", flat=True)
        )
    assert kinds == [
        TimelineKind.MILESTONE_ACHIEVED,
        TimelineKind.MILESTONE_MISSED,
        TimelineKind.MILESTONE_MISSED,
    ]


def test_jobs_idempotent(cast, berliner):
    track(berliner, "Pedigree Created", SIGNUP + timedelta(days=1))
    now = SIGNUP + timedelta(days=40)
    with workspace_scope(cast.acme):
        for _ in range(2):
            journey.record_achievements(cast.acme.pk)
            journey.mark_missed_milestones(cast.acme.pk, now=now)
            journey.update_phases(cast.acme.pk, now=now)
        assert MilestoneAchievement.objects.filter(breeder=berliner).count() == 5
        assert TimelineEntry.objects.filter(breeder=berliner).count() == 6


def test_other_workspace_events_do_not_count(cast, berliner):
    globex_breeder = make_breeder(cast.globex, signed_up_at=SIGNUP)
    track(globex_breeder, "Pedigree Created", SIGNUP + timedelta(hours=1))
    with workspace_scope(cast.acme):
        journey.record_achievements(cast.acme.pk)
        journey.mark_missed_milestones(cast.acme.pk, now=SIGNUP + timedelta(days=60))
        assert not MilestoneAchievement.objects.filter(breeder=globex_breeder).exists()
    with workspace_scope(cast.globex):
        assert MilestoneAchievement.objects.count() == 0


@pytest.mark.parametrize(
    ("days_after", "phase"),
    [
        (0, Phase.ONBOARDING),
        (30, Phase.ONBOARDING),
        (31, Phase.ADOPTION),
        (90, Phase.ADOPTION),
        (91, Phase.GROWTH),
        (365, Phase.GROWTH),
        (366, Phase.ADVOCACY),
    ],
)
def test_phase_boundaries(cast, berliner, days_after, phase):
    # Noon local time on local day N after the local signup day (2 Jan).
    now = datetime(2026, 1, 2, 11, 0, tzinfo=UTC) + timedelta(days=days_after)
    with workspace_scope(cast.acme):
        journey.update_phases(cast.acme.pk, now=now)
        assert BreederPhase.objects.get(breeder=berliner).phase == phase


def test_phase_change_on_timeline(cast, berliner):
    with workspace_scope(cast.acme):
        journey.update_phases(cast.acme.pk, now=datetime(2026, 1, 10, tzinfo=UTC))
        changed = journey.update_phases(cast.acme.pk, now=datetime(2026, 2, 3, tzinfo=UTC))
        assert changed == 1
        phase = BreederPhase.objects.get(breeder=berliner)
        titles = list(
            TimelineEntry.objects.filter(breeder=berliner, kind=TimelineKind.PHASE_CHANGED)
            .order_by("occurred_at")
            .values_list("title", flat=True)
        )
    assert phase.phase == Phase.ADOPTION
    # Day 31 after local day 0 (2 Jan) is 2 Feb, starting 00:00 Berlin = 1 Feb 23:00 UTC.
    assert phase.since == datetime(2026, 2, 1, 23, 0, tzinfo=UTC)
    assert titles == ["Entered the onboarding phase", "Entered the adoption phase"]


def test_custom_phase_boundaries(cast, berliner):
    with workspace_scope(cast.acme):
        LifecycleSettings.objects.create(
            workspace=cast.acme,
            adoption_starts_day=10,
            growth_starts_day=20,
            advocacy_starts_day=30,
        )
        journey.update_phases(cast.acme.pk, now=datetime(2026, 1, 15, tzinfo=UTC))
        assert BreederPhase.objects.get(breeder=berliner).phase == Phase.ADOPTION


def test_phase_counts_days_across_dst(cast):
    # Local day 0 is 1 March (winter, UTC+1); day 31 is 1 April, after Berlin moved to
    # summer time (UTC+2) on 29 March, so it starts at 22:00 UTC, not 23:00.
    breeder = make_breeder(
        cast.acme, time_zone="Europe/Berlin", signed_up_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    )
    with workspace_scope(cast.acme):
        journey.update_phases(cast.acme.pk, now=datetime(2026, 3, 31, 21, 59, tzinfo=UTC))
        assert BreederPhase.objects.get(breeder=breeder).phase == Phase.ONBOARDING
        journey.update_phases(cast.acme.pk, now=datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
        phase = BreederPhase.objects.get(breeder=breeder)
    assert phase.phase == Phase.ADOPTION
    assert phase.since == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)


def test_invalid_rule_names_the_fix(cast):
    with workspace_scope(cast.acme):
        definition = MilestoneDefinition(
            workspace=cast.acme, key="bad", name="Bad", target_day=3, rule={"all": [{"events": []}]}
        )
        with pytest.raises(ValidationError, match='Condition 1: "events" must be a non-empty'):
            definition.full_clean()
        definition.rule = {"trait": "password", "op": ">=", "value": 1}
        with pytest.raises(ValidationError, match='"trait" must be one of'):
            definition.full_clean()


def test_timeline_merges_entries_and_activity(cast, berliner):
    with workspace_scope(cast.acme):
        DailyActivity.objects.create(
            workspace=cast.acme,
            breeder=berliner,
            feature="records",
            day=date(2026, 1, 3),
            event_count=4,
            first_event_at=SIGNUP,
            last_event_at=SIGNUP,
        )
        TimelineEntry.objects.create(
            workspace=cast.acme,
            breeder=berliner,
            kind=TimelineKind.NOTE,
            title="Called",
            occurred_at=datetime(2026, 1, 4, 9, 0, tzinfo=UTC),
        )
        items = journey.breeder_timeline(berliner)
    assert [item.title for item in items] == ["Called", "4 product events"]
    assert items[1].body == "records 4"


# Views: the panel and logging activity, with the cast.


def panel_url(breeder, slug="acme"):
    return reverse(
        "lifecycle:timeline", kwargs={"workspace_slug": slug, "public_id": breeder.public_id}
    )


def log_url(breeder, slug="acme"):
    return reverse(
        "lifecycle:log_activity", kwargs={"workspace_slug": slug, "public_id": breeder.public_id}
    )


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_panel_readable_by_members(cast, client_for, who):
    response = client_for(getattr(cast, who)).get(panel_url(cast.acme_breeder))
    assert response.status_code == 200
    assert b"Onboarding milestones" in response.content


def test_panel_of_other_workspace_is_404(cast, client_for):
    assert client_for(cast.alice).get(panel_url(cast.globex_breeder)).status_code == 404
    assert client_for(cast.charlie).get(panel_url(cast.acme_breeder)).status_code == 404
    bad = reverse("lifecycle:timeline", kwargs={"workspace_slug": "acme", "public_id": "nope"})
    assert client_for(cast.alice).get(bad).status_code == 404


def test_csm_logs_note_on_timeline(cast, client_for):
    response = client_for(cast.bob).post(
        log_url(cast.acme_breeder),
        {"kind": "call", "title": "Intro call", "body": "Went well"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert b"Intro call" in response.content
    with workspace_scope(cast.acme):
        entry = TimelineEntry.objects.get(breeder=cast.acme_breeder)
    assert entry.kind == TimelineKind.CALL
    assert entry.actor == cast.bob


def test_viewer_cannot_log(cast, client_for):
    response = client_for(cast.vera).post(
        log_url(cast.acme_breeder), {"kind": "note", "title": "x"}
    )
    assert response.status_code == 403
    with workspace_scope(cast.acme):
        assert not TimelineEntry.objects.exists()


def test_log_on_other_workspace_breeder_is_404(cast, client_for):
    response = client_for(cast.alice).post(
        log_url(cast.globex_breeder), {"kind": "note", "title": "x"}
    )
    assert response.status_code == 404
    assert not TimelineEntry.unscoped_objects.exists()


def test_log_without_summary_names_field(cast, client_for):
    response = client_for(cast.bob).post(
        log_url(cast.acme_breeder), {"kind": "note"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert b"This field is required" in response.content


@pytest.mark.parametrize(
    "model", ["milestonedefinition", "lifecyclesettings", "milestoneachievement", "timelineentry"]
)
def test_admin_pages_scoped(cast, client_for, model):
    client = client_for(cast.alice)
    client.get(reverse("health:portfolio", args=["acme"]))
    assert client.get(reverse(f"admin:lifecycle_{model}_changelist")).status_code == 200
    bob = client_for(cast.bob)
    bob.get(reverse("health:portfolio", args=["acme"]))
    assert bob.get(reverse(f"admin:lifecycle_{model}_changelist")).status_code == 302


def test_admin_hides_other_workspace_milestones(cast, client_for):
    client = client_for(cast.alice)
    client.get(reverse("health:portfolio", args=["acme"]))
    with workspace_scope(cast.globex):
        globex_milestone = MilestoneDefinition.objects.get(key="first_pedigree")
    url = reverse("admin:lifecycle_milestonedefinition_change", args=[globex_milestone.pk])
    assert client.get(url).status_code == 302
    listing = client.get(reverse("admin:lifecycle_milestonedefinition_changelist"))
    assert listing.context["cl"].result_count == 5


def test_processing_records_achievement(cast, berliner):
    with workspace_scope(cast.acme):
        Event.objects.create(
            workspace=cast.acme,
            message_id="m-pedigree",
            type="track",
            event_name="Pedigree Created",
            user_id=berliner.external_id,
            timestamp=SIGNUP + timedelta(days=1),
            received_at=SIGNUP + timedelta(days=1),
            payload={},
        )
        process_pending_events(cast.acme.pk)
    result = achievement(berliner, "first_pedigree")
    assert result is not None
    assert result.status == AchievementStatus.ON_TIME


def test_timeline_merges_billing_and_tickets(cast, berliner):
    with workspace_scope(cast.acme):
        BillingTimelineEntry.objects.create(
            workspace=cast.acme,
            breeder=berliner,
            kind="payment_failed",
            occurred_at=datetime(2026, 1, 6, 8, 0, tzinfo=UTC),
            summary="Payment of 19.00 USD failed",
            source_key="test:invoice:1",
        )
        Ticket.objects.create(
            workspace=cast.acme,
            breeder=berliner,
            external_id="T-1",
            source="import",
            subject="Photos will not upload",
            category="technical",
            priority="high",
            status="solved",
            satisfaction_rating=2,
            escalation_path=["product", "engineering"],
            opened_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            solved_at=datetime(2026, 1, 7, 9, 0, tzinfo=UTC),
        )
        TimelineEntry.objects.create(
            workspace=cast.acme,
            breeder=berliner,
            kind=TimelineKind.NOTE,
            title="Called",
            occurred_at=datetime(2026, 1, 4, 9, 0, tzinfo=UTC),
        )
        items = journey.breeder_timeline(berliner)
    assert [item.title for item in items] == [
        "Ticket solved: Photos will not upload; rated 2/5",
        "Payment of 19.00 USD failed",
        "Ticket opened: Photos will not upload",
        "Called",
    ]
    assert items[2].body == "Technical, High priority; escalates to product → engineering"
