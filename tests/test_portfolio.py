"""The portfolio: filters, sort, search, band counts and pagination, from the URL, with a
query count that does not grow with the rows shown."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.scope import workspace_scope
from health import services
from health.models import Alert, HealthScore
from lifecycle.models import BreederPhase
from tests.factories import make_breeder

URL = reverse("health:portfolio", args=["acme"])


def scored(workspace, csm, name, score, band, *, tier="", phase=None):
    with workspace_scope(workspace):
        breeder = make_breeder(workspace, name=name, assigned_csm=csm, tier=tier)
        HealthScore.objects.create(
            workspace=workspace,
            breeder=breeder,
            model=services.ensure_active_model(workspace.pk),
            score=Decimal(score),
            band=band,
            coverage=1,
            as_of=timezone.localdate(),
            computed_at=timezone.now(),
        )
        if phase:
            BreederPhase.objects.create(
                workspace=workspace, breeder=breeder, phase=phase, since=timezone.now()
            )
    return breeder


@pytest.fixture
def book(cast):
    """Bob's book: three scored breeders and the unscored cast breeder."""
    return {
        "green": scored(
            cast.acme,
            cast.bob,
            "Gecko Garden",
            "88.0",
            "green",
            tier="professional",
            phase="growth",
        ),
        "yellow": scored(
            cast.acme,
            cast.bob,
            "Yellow Scales",
            "65.0",
            "yellow",
            tier="hobbyist",
            phase="adoption",
        ),
        "red": scored(
            cast.acme,
            cast.bob,
            "Red Rock Pythons",
            "31.0",
            "red",
            tier="professional",
            phase="onboarding",
        ),
    }


def names(response):
    return [breeder.name for breeder in response.context["page"]]


def test_band_counts_and_default_order(cast, client_for, book):
    response = client_for(cast.bob).get(URL)
    assert names(response) == [
        "Acme Python Farm",
        "Gecko Garden",
        "Red Rock Pythons",
        "Yellow Scales",
    ]
    counts = {value: count for value, _, count, _ in response.context["band_links"]}
    assert counts == {"green": 1, "yellow": 1, "red": 1, "none": 1}


def test_default_order_follows_display_name(cast, client_for, book):
    # The table shows the business name when there is one, in any letter case.
    make_breeder(cast.acme, name="Zed Zimmer", business_name="Basilisk Barn", assigned_csm=cast.bob)
    make_breeder(cast.acme, name="adder alley", assigned_csm=cast.bob)
    response = client_for(cast.bob).get(URL)
    names_shown = [row.name for row in response.context["rows"]]
    assert names_shown == [
        "Acme Python Farm",
        "adder alley",
        "Basilisk Barn",
        "Gecko Garden",
        "Red Rock Pythons",
        "Yellow Scales",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("band=red", ["Red Rock Pythons"]),
        ("band=none", ["Acme Python Farm"]),
        ("tier=professional", ["Gecko Garden", "Red Rock Pythons"]),
        ("phase=adoption", ["Yellow Scales"]),
        ("q=scales", ["Yellow Scales"]),
        ("sort=score", ["Red Rock Pythons", "Yellow Scales", "Gecko Garden", "Acme Python Farm"]),
        ("sort=-score", ["Gecko Garden", "Yellow Scales", "Red Rock Pythons", "Acme Python Farm"]),
        (
            "band=bogus&tier=nonsense",
            ["Acme Python Farm", "Gecko Garden", "Red Rock Pythons", "Yellow Scales"],
        ),
    ],
)
def test_filters_and_sorts(cast, client_for, book, query, expected):
    assert names(client_for(cast.bob).get(f"{URL}?{query}")) == expected


def test_alert_filter(cast, client_for, book):
    with workspace_scope(cast.acme):
        Alert.objects.create(
            workspace=cast.acme,
            breeder=book["red"],
            kind="entered_red",
            severity="critical",
            owner=cast.bob,
            title="Red",
            opened_at=timezone.now(),
        )
    client = client_for(cast.bob)
    assert names(client.get(f"{URL}?alert=any")) == ["Red Rock Pythons"]
    assert "Red Rock Pythons" not in names(client.get(f"{URL}?alert=none"))
    assert b'<span class="count-pill">1</span>' in client.get(f"{URL}?alert=any").content


def test_band_counts_ignore_band_filter(cast, client_for, book):
    response = client_for(cast.bob).get(f"{URL}?band=red&tier=professional")
    counts = {value: count for value, _, count, _ in response.context["band_links"]}
    assert counts == {"green": 1, "yellow": 0, "red": 1, "none": 0}
    links = {value: url for value, _, _, url in response.context["band_links"]}
    assert links["green"] == "?band=green&tier=professional"


def test_htmx_gets_partial_history_restore_full(cast, client_for, book):
    client = client_for(cast.bob)
    partial = client.get(f"{URL}?band=red", headers={"HX-Request": "true"})
    assert b'<div id="portfolio-results">' in partial.content
    assert b"<html" not in partial.content
    assert "HX-Request" in partial["Vary"]
    restore = client.get(
        f"{URL}?band=red", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert b"<html" in restore.content


def test_other_csm_and_outsider(cast, client_for, book):
    assert names(client_for(cast.vera).get(URL)) == []
    assert names(client_for(cast.vera).get(f"{URL}?csm=all")) == []
    everyone = names(client_for(cast.alice).get(f"{URL}?csm=all"))
    assert len(everyone) == 4
    assert client_for(cast.charlie).get(URL).status_code == 404
    bob_book = client_for(cast.alice).get(f"{URL}?csm={cast.bob.public_id}")
    assert len(names(bob_book)) == 4
    assert names(client_for(cast.alice).get(f"{URL}?csm=not-a-uuid")) == []


def test_team_role_without_breeders_sees_all(cast, client_for, book):
    # Alice, the owner, may see the team and has no breeders of her own.
    client = client_for(cast.alice)
    response = client.get(f"{URL}?band=red")
    assert response.status_code == 302
    assert response["Location"] == f"{URL}?band=red&csm=all"
    everyone = client.get(response["Location"])
    assert everyone.context["shown"] == "all"
    assert names(everyone) == ["Red Rock Pythons"]
    assert b'<input type="hidden" name="csm" value="all">' in everyone.content


def test_team_role_with_breeders_sees_own(cast, client_for, book):
    make_breeder(cast.acme, name="Alice's Anoles", assigned_csm=cast.alice)
    response = client_for(cast.alice).get(URL)
    assert response.status_code == 200
    assert response.context["shown"] == "mine"
    assert names(response) == ["Alice's Anoles"]


def test_team_role_may_ask_for_own(cast, client_for, book):
    response = client_for(cast.alice).get(f"{URL}?csm=mine&band=red")
    assert response.status_code == 200
    assert response.context["shown"] == "mine"
    assert names(response) == []
    assert b'<input type="hidden" name="csm" value="mine">' in response.content
    links = {value: url for value, _, _, url in response.context["band_links"]}
    assert links["green"] == "?csm=mine&band=green"


def test_member_without_team_view_not_redirected(cast, client_for):
    response = client_for(cast.vera).get(f"{URL}?csm=all")
    assert response.status_code == 200
    assert response.context["shown"] == "mine"


def test_query_count_flat(cast, client_for, book):
    client = client_for(cast.bob)
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for index in range(30):
        scored(cast.acme, cast.bob, f"Extra {index:02d}", "50.0", "red", phase="growth")
    with workspace_scope(cast.acme):
        for breeder in list(HealthScore.objects.values_list("breeder_id", flat=True))[:10]:
            Alert.objects.create(
                workspace=cast.acme,
                breeder_id=breeder,
                kind="score_drop",
                severity="high",
                owner=cast.bob,
                title="Drop",
                opened_at=timezone.now() - timedelta(hours=1),
            )
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)
    assert len(response.context["page"]) == 34
    assert len(many) == len(few)
