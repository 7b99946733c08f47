"""Workspace admins map their own event names to features in the admin, scoped to
their workspace."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.scope import workspace_scope
from lifecycle.models import EventMapping, Feature

CHANGELIST = "admin:lifecycle_eventmapping_changelist"


def admin_client(client_for, user, workspace_slug):
    client = client_for(user)
    # Opening a workspace page makes it the one the admin configures. The portfolio
    # redirects owners and admins without breeders of their own to every breeder.
    portfolio = reverse("health:portfolio", args=[workspace_slug])
    assert client.get(portfolio, follow=True).status_code == 200
    return client


def test_changelist_lists_own_mappings_and_default_plan(cast, client_for):
    with workspace_scope(cast.acme):
        EventMapping.objects.create(event_name="Clutch Recorded", feature=Feature.RECORDS)
    with workspace_scope(cast.globex):
        EventMapping.objects.create(event_name="Globex Secret Event", feature=Feature.LOGIN)

    response = admin_client(client_for, cast.alice, "acme").get(reverse(CHANGELIST))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Clutch Recorded" in content
    assert "Globex Secret Event" not in content
    assert 'id="default-tracking-plan"' in content
    assert "Genetics Calculator Used" in content
    assert "Pedigrees and genetics" in content


def test_add_mapping_saves_into_admins_workspace(cast, client_for):
    client = admin_client(client_for, cast.charlie, "globex")
    form = client.get(reverse("admin:lifecycle_eventmapping_add")).content.decode()
    assert 'name="workspace"' not in form

    response = client.post(
        reverse("admin:lifecycle_eventmapping_add"),
        {"event_name": "Morph Calculated", "feature": Feature.PEDIGREES},
    )

    assert response.status_code == 302
    mapping = EventMapping.unscoped_objects.get(event_name="Morph Calculated")
    assert mapping.workspace_id == cast.globex.pk
    assert mapping.feature == Feature.PEDIGREES


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_members_without_configure_refused(cast, client_for, who):
    client = admin_client(client_for, getattr(cast, who), "acme")
    response = client.get(reverse(CHANGELIST), follow=True)
    assert response.status_code == 403


def test_duplicate_event_name_is_a_form_error(cast, client_for):
    with workspace_scope(cast.acme):
        EventMapping.objects.create(event_name="Clutch Recorded", feature=Feature.RECORDS)
    # The same name in another workspace does not count.
    with workspace_scope(cast.globex):
        EventMapping.objects.create(event_name="Morph Calculated", feature=Feature.RECORDS)
    client = admin_client(client_for, cast.alice, "acme")

    duplicate = client.post(
        reverse("admin:lifecycle_eventmapping_add"),
        {"event_name": "Clutch Recorded", "feature": Feature.LOGIN},
    )
    other_workspace_name = client.post(
        reverse("admin:lifecycle_eventmapping_add"),
        {"event_name": "Morph Calculated", "feature": Feature.PEDIGREES},
    )

    assert duplicate.status_code == 200
    assert "already mapped" in duplicate.content.decode()
    assert other_workspace_name.status_code == 302
    with workspace_scope(cast.acme):
        assert EventMapping.objects.count() == 2
