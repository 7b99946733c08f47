"""The capacity page: portfolios against CSM-role ranges, the pool, reassignment and CSM
roles, with the cast and a query count that does not grow with breeders or CSMs."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, Breeder, Membership, Tier
from accounts.roles import Role
from accounts.scope import workspace_scope
from health import services as health_services
from health.models import Alert, AlertState, HealthScore
from segments.models import CsmProfile, CsmRole, KpiSettings, OnboardingTarget, PortfolioRange
from tests.factories import make_breeder, make_membership, make_user

URL = reverse("segments:capacity", args=["acme"])


def assign_url(breeder, slug="acme"):
    return reverse("segments:assign_breeder", args=[slug, breeder.public_id])


def role_url(membership, slug="acme"):
    return reverse("segments:set_csm_role", args=[slug, membership.public_id])


def membership_of(user, workspace):
    with workspace_scope(workspace):
        return Membership.objects.select_related("user").get(user=user)


def set_role(workspace, user, csm_role):
    with workspace_scope(workspace):
        CsmProfile.objects.create(
            workspace=workspace, membership=Membership.objects.get(user=user), csm_role=csm_role
        )


def scored(workspace, csm, band, score, tier=Tier.ENTERPRISE):
    with workspace_scope(workspace):
        breeder = make_breeder(workspace, assigned_csm=csm, tier=tier)
        HealthScore.objects.create(
            workspace=workspace,
            breeder=breeder,
            model=health_services.ensure_active_model(workspace.pk),
            score=Decimal(score),
            band=band,
            coverage=1,
            as_of=timezone.localdate(),
            computed_at=timezone.now(),
        )
    return breeder


@pytest.fixture
def team(cast):
    """Dana, a digital-success CSM; Max, a manager; Bob, an enterprise CSM with 3 breeders."""
    dana = make_user("dana@example.com", full_name="Dana CSM")
    max_ = make_user("max@example.com", full_name="Max Manager")
    make_membership(cast.acme, dana, Role.CSM)
    make_membership(cast.acme, max_, Role.MANAGER)
    set_role(cast.acme, cast.bob, CsmRole.ENTERPRISE)
    set_role(cast.acme, dana, CsmRole.DIGITAL_SUCCESS)
    breeders = {
        "green": scored(cast.acme, cast.bob, "green", "90.0"),
        "red": scored(cast.acme, cast.bob, "red", "30.0", tier=Tier.HOBBYIST),
        "loose": make_breeder(cast.acme, name="Loose Monitor", tier=Tier.PROFESSIONAL),
        "pool": make_breeder(cast.acme, name="Pool Gecko", tier=Tier.HOBBYIST),
    }
    return {"dana": dana, "max": max_, **breeders}


def rows_by_email(response):
    return {row.membership.user.email: row for row in response.context["team"].csms}


def test_new_workspace_gets_defaults(cast):
    with workspace_scope(cast.acme):
        ranges = {row.csm_role: row for row in PortfolioRange.objects.all()}
        targets = list(OnboardingTarget.objects.select_related("milestone"))
        assert KpiSettings.objects.get().monthly_churn_target_percent == 5
    assert (ranges["enterprise"].min_breeders, ranges["enterprise"].max_breeders) == (50, 75)
    assert (ranges["growth"].min_breeders, ranges["growth"].max_breeders) == (200, 300)
    assert ranges["growth"].tiers == ["professional"]
    assert ranges["digital_success"].is_pooled
    assert ranges["digital_success"].tiers == ["hobbyist", "new_breeder"]
    assert [(t.milestone.key, t.within_hours, t.target_percent) for t in targets] == [
        ("account_setup", 48, 90),
        ("first_pedigree", 168, 70),
        ("community", 336, 50),
    ]


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 200), ("max", 200), ("bob", 403), ("vera", 403)]
)
def test_capacity_by_role(cast, client_for, team, who, status):
    user = team["max"] if who == "max" else getattr(cast, who)
    assert client_for(user).get(URL).status_code == status


def test_capacity_outsider_gets_404(cast, client_for, team):
    assert client_for(cast.charlie).get(URL).status_code == 404
    assert client_for(None).get(URL).status_code == 302


def test_capacity_rows(cast, client_for, team):
    response = client_for(cast.alice).get(URL)
    rows = rows_by_email(response)
    assert set(rows) == {"bob@example.com", "dana@example.com"}
    bob = rows["bob@example.com"]
    # The cast breeder (unscored, no tier) and two scored ones.
    assert bob.counts.total == 3
    assert bob.load == "under"
    assert bob.counts.by_band == {"green": 1, "red": 1, "none": 1}
    assert bob.outside_tiers == 2
    assert rows["dana@example.com"].load == "pooled"
    content = response.content.decode()
    assert "Below range" in content
    assert "50–75" in content


def test_capacity_over_range(cast, client_for, team):
    with workspace_scope(cast.acme):
        PortfolioRange.objects.filter(csm_role="enterprise").update(min_breeders=1, max_breeders=2)
    bob = rows_by_email(client_for(cast.alice).get(URL))["bob@example.com"]
    assert bob.load == "over"


def test_pool_and_unassigned(cast, client_for, team):
    response = client_for(cast.alice).get(URL)
    capacity = response.context["team"]
    assert capacity.pool_queue == 1
    assert capacity.needing_csm == [("professional", "Professional", 1)]
    assert [row.membership.user.email for row in capacity.pool_members] == ["dana@example.com"]
    # Unassigned breeders are listed, those needing a personal CSM first.
    assert [breeder.name for breeder in response.context["page"]] == [
        "Loose Monitor",
        "Pool Gecko",
    ]


def test_list_of_one_csm(cast, client_for, team):
    bob = membership_of(cast.bob, cast.acme)
    response = client_for(cast.alice).get(f"{URL}?from={bob.public_id}")
    assert {breeder.pk for breeder in response.context["page"]} == {
        cast.acme_breeder.pk,
        team["green"].pk,
        team["red"].pk,
    }
    # An unknown or foreign member falls back to the unassigned list.
    charlie = membership_of(cast.charlie, cast.globex)
    response = client_for(cast.alice).get(f"{URL}?from={charlie.public_id}")
    assert response.context["source"] == "unassigned"


def capacity_queries(client):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    return len(captured.captured_queries)


def test_query_count_does_not_grow(cast, client_for, team):
    client = client_for(cast.alice)
    # The first request stores the active workspace in the session.
    client.get(URL)
    before = capacity_queries(client)
    for number in range(3):
        csm = make_user(f"extra{number}@example.com")
        make_membership(cast.acme, csm, Role.CSM)
        set_role(cast.acme, csm, CsmRole.GROWTH)
        for band, score in [("green", "85.0"), ("yellow", "70.0")]:
            scored(cast.acme, csm, band, score, tier=Tier.PROFESSIONAL)
        make_breeder(cast.acme, tier=Tier.NEW_BREEDER)
    assert capacity_queries(client) == before
    assert before <= 8


def test_reassign_with_htmx(cast, client_for, team):
    dana = membership_of(team["dana"], cast.acme)
    with workspace_scope(cast.acme):
        alert = Alert.objects.create(
            workspace=cast.acme,
            breeder=team["red"],
            kind="entered_red",
            severity="critical",
            owner=cast.bob,
            title="Red",
            opened_at=timezone.now(),
        )
    response = client_for(team["max"]).post(
        assign_url(team["red"]),
        {"csm": str(dana.public_id), "from": "unassigned"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert f'id="assign-row-{team["red"].public_id}"' in content
    assert 'id="capacity-table" class="table-scroll" hx-swap-oob="true"' in content
    assert "is now with Dana CSM" in content
    assert "<html" not in content
    with workspace_scope(cast.acme):
        assert Breeder.objects.get(pk=team["red"].pk).assigned_csm == team["dana"]
        alert.refresh_from_db()
        entry = AuditEntry.objects.get(action="breeder.reassigned")
    assert alert.owner == team["dana"]
    assert entry.actor == team["max"]
    assert entry.target_id == str(team["red"].public_id)
    assert entry.data == {"from_csm": "bob@example.com", "to_csm": "dana@example.com"}


def test_reassign_to_nobody(cast, client_for, team):
    response = client_for(cast.alice).post(assign_url(team["green"]), {"csm": ""})
    assert response.status_code == 302
    assert response["Location"] == URL
    with workspace_scope(cast.acme):
        assert Breeder.objects.get(pk=team["green"].pk).assigned_csm is None
        assert AuditEntry.objects.get(action="breeder.reassigned").data["to_csm"] == ""


def test_reassign_same_csm_writes_nothing(cast, client_for, team):
    bob = membership_of(cast.bob, cast.acme)
    response = client_for(cast.alice).post(
        assign_url(team["green"]), {"csm": str(bob.public_id)}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "was already with Bob CSM" in response.content.decode()
    with workspace_scope(cast.acme):
        assert not AuditEntry.objects.filter(action="breeder.reassigned").exists()


def test_reassign_over_range_warns(cast, client_for, team):
    with workspace_scope(cast.acme):
        PortfolioRange.objects.filter(csm_role="enterprise").update(min_breeders=1, max_breeders=3)
    bob = membership_of(cast.bob, cast.acme)
    response = client_for(cast.alice).post(
        assign_url(team["loose"]), {"csm": str(bob.public_id)}, headers={"HX-Request": "true"}
    )
    assert "Bob CSM now has 4 breeders, above the range of 1–3." in response.content.decode()


@pytest.mark.parametrize("who", ["vera", "bob"])
def test_reassign_refused_for_roles_without_permission(cast, client_for, team, who):
    dana = membership_of(team["dana"], cast.acme)
    response = client_for(getattr(cast, who)).post(
        assign_url(team["green"]), {"csm": str(dana.public_id)}
    )
    assert response.status_code == 403
    with workspace_scope(cast.acme):
        assert Breeder.objects.get(pk=team["green"].pk).assigned_csm == cast.bob


def test_reassign_other_workspace_breeder_is_404(cast, client_for, team):
    dana = membership_of(team["dana"], cast.acme)
    response = client_for(cast.alice).post(
        assign_url(cast.globex_breeder), {"csm": str(dana.public_id)}
    )
    assert response.status_code == 404
    # The outsider cannot reach Acme's breeder through their own workspace either.
    response = client_for(cast.charlie).post(assign_url(team["green"], slug="globex"), {"csm": ""})
    assert response.status_code == 404
    response = client_for(cast.charlie).post(assign_url(team["green"]), {"csm": ""})
    assert response.status_code == 404


def test_reassign_to_other_workspace_member_is_404(cast, client_for, team):
    charlie = membership_of(cast.charlie, cast.globex)
    response = client_for(cast.alice).post(
        assign_url(team["green"]), {"csm": str(charlie.public_id)}
    )
    assert response.status_code == 404
    assert (
        client_for(cast.alice).post(assign_url(team["green"]), {"csm": "nope"}).status_code == 404
    )
    with workspace_scope(cast.acme):
        assert Breeder.objects.get(pk=team["green"].pk).assigned_csm == cast.bob


def test_reassign_to_viewer_is_rejected(cast, client_for, team):
    vera = membership_of(cast.vera, cast.acme)
    response = client_for(cast.alice).post(
        assign_url(team["green"]), {"csm": str(vera.public_id)}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert "does not work breeders" in response.content.decode()
    with workspace_scope(cast.acme):
        assert Breeder.objects.get(pk=team["green"].pk).assigned_csm == cast.bob


def test_get_on_assign_is_not_allowed(cast, client_for, team):
    assert client_for(cast.alice).get(assign_url(team["green"])).status_code == 405


def test_set_csm_role_follows_pool(cast, client_for, team):
    bob = membership_of(cast.bob, cast.acme)
    client = client_for(team["max"])
    response = client.post(role_url(bob), {"csm_role": "digital_success"})
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.works_pool is True
    with workspace_scope(cast.acme):
        assert CsmProfile.objects.get(membership=bob).csm_role == "digital_success"
    client.post(role_url(bob), {"csm_role": ""})
    bob.refresh_from_db()
    assert bob.works_pool is False
    with workspace_scope(cast.acme):
        assert not CsmProfile.objects.filter(membership=bob).exists()
        actions = list(
            AuditEntry.objects.filter(action="membership.csm_role_changed")
            .order_by("pk")
            .values_list("data", flat=True)
        )
    assert actions == [
        {"old_csm_role": "enterprise", "new_csm_role": "digital_success"},
        {"old_csm_role": "digital_success", "new_csm_role": ""},
    ]


def test_set_csm_role_refusals(cast, client_for, team):
    bob = membership_of(cast.bob, cast.acme)
    vera = membership_of(cast.vera, cast.acme)
    charlie = membership_of(cast.charlie, cast.globex)
    assert client_for(cast.vera).post(role_url(bob), {"csm_role": "growth"}).status_code == 403
    assert client_for(cast.alice).post(role_url(charlie), {"csm_role": "growth"}).status_code == 404
    response = client_for(cast.alice).post(role_url(vera), {"csm_role": "growth"}, follow=True)
    assert "does not work breeders" in response.content.decode()
    response = client_for(cast.alice).post(role_url(bob), {"csm_role": "bogus"}, follow=True)
    assert "is not a CSM role" in response.content.decode()
    with workspace_scope(cast.acme):
        assert CsmProfile.objects.get(membership=bob).csm_role == "enterprise"
        assert not CsmProfile.objects.filter(membership=vera).exists()


def test_portfolio_range_validation(cast):
    with workspace_scope(cast.acme):
        enterprise = PortfolioRange.objects.get(csm_role="enterprise")
        pool = PortfolioRange.objects.get(csm_role="digital_success")
    enterprise.min_breeders, enterprise.max_breeders = 80, 60
    pool.min_breeders = 10
    with workspace_scope(cast.acme):
        with pytest.raises(ValidationError, match="invalid"):
            enterprise.full_clean()
        with pytest.raises(ValidationError, match="pooled queue"):
            pool.full_clean()


def test_capacity_admin_scoped(cast, client_for, team):
    client = client_for(cast.alice)
    client.get(reverse("health:portfolio", args=["acme"]))
    response = client.get(reverse("admin:segments_portfoliorange_changelist"))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 3
    with workspace_scope(cast.globex):
        globex_range = PortfolioRange.objects.get(csm_role="growth")
    other = client.get(reverse("admin:segments_portfoliorange_change", args=[globex_range.pk]))
    assert other.status_code == 302  # the admin's "does not exist" redirect


def test_capacity_admin_role_goes_through_service(cast, client_for, team):
    client = client_for(cast.alice)
    client.get(reverse("health:portfolio", args=["acme"]))
    with workspace_scope(cast.acme):
        profile = CsmProfile.objects.get(membership__user=team["dana"])
    response = client.post(
        reverse("admin:segments_csmprofile_change", args=[profile.pk]),
        {"csm_role": "growth"},
    )
    assert response.status_code == 302
    dana = membership_of(team["dana"], cast.acme)
    assert dana.works_pool is False
    with workspace_scope(cast.acme):
        assert CsmProfile.objects.get(pk=profile.pk).csm_role == "growth"
        assert AuditEntry.objects.filter(action="membership.csm_role_changed").exists()


def test_alert_states_unchanged_by_reassign(cast, client_for, team):
    dana = membership_of(team["dana"], cast.acme)
    with workspace_scope(cast.acme):
        resolved = Alert.objects.create(
            workspace=cast.acme,
            breeder=team["green"],
            kind="left_green",
            severity="medium",
            owner=cast.bob,
            state=AlertState.RESOLVED,
            title="Old",
            opened_at=timezone.now(),
        )
    client_for(cast.alice).post(assign_url(team["green"]), {"csm": str(dana.public_id)})
    resolved.refresh_from_db()
    assert resolved.owner == cast.bob
