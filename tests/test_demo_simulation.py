"""The demo simulation: the same seed gives the same data, and the demo gets scored."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from accounts.models import Breeder, Tier, Workspace
from accounts.scope import workspace_scope
from health.models import Alert, AlertState, Band, HealthScore, HealthSnapshot
from lifecycle.models import (
    Event,
    MilestoneAchievement,
    StripeEvent,
    Subscription,
    SurveyAnswer,
    Ticket,
)
from lifecycle.simulation.feed import simulate
from lifecycle.simulation.population import TIER_WEIGHTS, build_population
from tests.factories import make_workspace


def simulated_rows(workspace: Workspace) -> dict[str, Any]:
    with workspace_scope(workspace):
        return {
            "breeders": sorted(Breeder.objects.values_list("external_id", "tier", "signed_up_at")),
            "events": sorted(Event.objects.values_list("message_id", "timestamp")),
            "stripe_events": sorted(StripeEvent.objects.values_list("stripe_id", "status")),
            "subscriptions": sorted(
                Subscription.objects.values_list("external_id", "status", "mrr_minor")
            ),
            "tickets": sorted(Ticket.objects.values_list("external_id", "status")),
            "survey_answers": sorted(SurveyAnswer.objects.values_list("source_key", "score")),
            "milestones": Counter(
                MilestoneAchievement.objects.values_list("milestone__key", "status")
            ),
        }


def run_simulation(workspace: Workspace, now, seed: int = 7) -> None:
    with workspace_scope(workspace):
        simulate(
            workspace,
            count=40,
            seed=seed,
            start=now - timedelta(days=60),
            seeded_at=now,
            after=None,
            until=now,
            csms=[],
        )


def test_simulation_same_seed_same_data(db):
    now = timezone.now()
    first, second = make_workspace("sim-one"), make_workspace("sim-two")
    run_simulation(first, now)
    run_simulation(second, now)
    rows = simulated_rows(first)
    assert len(rows["breeders"]) == 40
    assert len(rows["events"]) > 1000
    assert rows["stripe_events"]
    assert rows["tickets"]
    assert rows["survey_answers"]
    assert rows == simulated_rows(second)


def test_simulation_other_seed_other_data(db):
    now = timezone.now()
    first, second = make_workspace("sim-one"), make_workspace("sim-two")
    run_simulation(first, now, seed=7)
    run_simulation(second, now, seed=8)
    assert simulated_rows(first)["breeders"] != simulated_rows(second)["breeders"]


def test_simulation_later_window_extends_story(db):
    now = timezone.now()
    whole, split = make_workspace("sim-whole"), make_workspace("sim-split")
    run_simulation(whole, now)
    middle = now - timedelta(days=20)
    with workspace_scope(split):
        for after, until in ((None, middle), (middle, now)):
            simulate(
                split,
                count=40,
                seed=7,
                start=now - timedelta(days=60),
                seeded_at=now,
                after=after,
                until=until,
                csms=[],
            )
    whole_rows, split_rows = simulated_rows(whole), simulated_rows(split)
    assert whole_rows["events"] == split_rows["events"]
    assert whole_rows["stripe_events"] == split_rows["stripe_events"]
    assert whole_rows["subscriptions"] == split_rows["subscriptions"]
    assert whole_rows["tickets"] == split_rows["tickets"]


def test_population_tier_mix():
    now = timezone.now()
    plans = build_population(7, 1000, now - timedelta(days=120), now)
    tiers = Counter(plan.tier for plan in plans)
    total_weight = sum(TIER_WEIGHTS.values())
    for tier, weight in TIER_WEIGHTS.items():
        share = tiers[tier] / len(plans)
        assert abs(share - weight / total_weight) < 0.05, (tier, share)
    assert tiers[Tier.HOBBYIST] + tiers[Tier.NEW_BREEDER] > 0.6 * len(plans)
    assert tiers[Tier.ENTERPRISE] < tiers[Tier.PROFESSIONAL]


def test_seed_demo_scores_alerts_and_history(db):
    out = StringIO()
    call_command("seed_demo", "--breeders", "60", "--seed", "7", "--days", "90", stdout=out)
    workspace = Workspace.objects.get(slug="demo")
    with workspace_scope(workspace):
        tiers = Counter(Breeder.objects.values_list("tier", flat=True))
        bands = Counter(HealthScore.objects.values_list("band", flat=True))
        open_alerts = Alert.objects.filter(state=AlertState.OPEN).count()
        history_days = HealthSnapshot.objects.values("day").distinct().count()
        assigned = Breeder.objects.filter(assigned_csm__isnull=False)
        assigned_tiers = set(assigned.values_list("tier", flat=True))
    assert sum(tiers.values()) == 60
    assert tiers[Tier.HOBBYIST] + tiers[Tier.NEW_BREEDER] > tiers[Tier.PROFESSIONAL]
    assert sum(bands.values()) == 60
    assert bands[Band.RED] > 0
    assert bands[Band.GREEN] > 0
    assert open_alerts > 0
    assert history_days >= 60
    assert assigned_tiers <= {Tier.ENTERPRISE, Tier.PROFESSIONAL}
    assert "60 breeders scored" in out.getvalue()
