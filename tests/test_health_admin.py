"""The health-model admin: only drafts are editable, activation validates, and other
workspaces' models and alerts stay invisible."""

import pytest
from django.urls import reverse

from accounts.scope import workspace_scope
from health import services
from health.models import Alert, HealthMeasure, HealthModel, ModelStatus


def admin_client(client_for, user, slug):
    client = client_for(user)
    client.get(reverse("health:portfolio", args=[slug]))
    return client


@pytest.fixture
def models_ready(cast):
    return services.ensure_active_model(cast.acme.pk), services.ensure_active_model(cast.globex.pk)


@pytest.mark.parametrize("name", ["healthmodel", "alert", "healthscore"])
def test_owner_opens_changelists_csm_refused(cast, client_for, models_ready, name):
    url = reverse(f"admin:health_{name}_changelist")
    assert admin_client(client_for, cast.alice, "acme").get(url).status_code == 200
    assert admin_client(client_for, cast.bob, "acme").get(url).status_code == 302


def test_active_model_read_only(cast, client_for, models_ready):
    active, _ = models_ready
    client = admin_client(client_for, cast.alice, "acme")
    url = reverse("admin:health_healthmodel_change", args=[active.pk])
    response = client.post(url, {"name": "Changed"})
    assert response.status_code == 403
    active.refresh_from_db()
    assert active.name == "Default health model"


def test_copy_and_activate_through_admin(cast, client_for, models_ready):
    active, _ = models_ready
    client = admin_client(client_for, cast.alice, "acme")
    changelist = reverse("admin:health_healthmodel_changelist")
    client.post(changelist, {"action": "copy_as_draft", "_selected_action": [active.pk]})
    with workspace_scope(cast.acme):
        draft = HealthModel.objects.get(status=ModelStatus.DRAFT)
        HealthMeasure.objects.filter(model=draft, key="growth").update(weight=99)
    response = client.post(
        changelist, {"action": "activate", "_selected_action": [draft.pk]}, follow=True
    )
    assert b"weights add up to 174, not 100" in response.content
    draft.refresh_from_db()
    assert draft.status == ModelStatus.DRAFT
    with workspace_scope(cast.acme):
        HealthMeasure.objects.filter(model=draft, key="growth").update(weight=25)
    client.post(changelist, {"action": "activate", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == ModelStatus.ACTIVE


def test_other_workspace_model_looks_missing(cast, client_for, models_ready):
    _, globex_model = models_ready
    client = admin_client(client_for, cast.alice, "acme")
    url = reverse("admin:health_healthmodel_change", args=[globex_model.pk])
    assert client.get(url).status_code == 302
    changelist = reverse("admin:health_healthmodel_changelist")
    client.post(changelist, {"action": "copy_as_draft", "_selected_action": [globex_model.pk]})
    assert HealthModel.unscoped_objects.filter(workspace=cast.globex).count() == 1
    assert Alert.unscoped_objects.count() == 0
