"""Every model registered in the configuration admin is reachable only as its role allows:
workspace owners open tenant models' pages, CSMs and viewers are sent away, and
platform-wide models (users, groups, email addresses) stay with superusers."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import Workspace, WorkspaceOwned

REGISTERED = sorted(
    (
        model._meta.app_label,
        model._meta.model_name,
        issubclass(model, WorkspaceOwned) or model is Workspace,
    )
    for model in admin.site._registry
)


def admin_client(client_for, user):
    client = client_for(user)
    client.get(reverse("health:portfolio", args=["acme"]))
    return client


@pytest.mark.parametrize(("app", "name", "tenant"), REGISTERED)
def test_changelist_by_role(cast, client_for, app, name, tenant):
    url = reverse(f"admin:{app}_{name}_changelist")
    owner = admin_client(client_for, cast.alice).get(url)
    assert owner.status_code == (200 if tenant else 403)
    for member in (cast.bob, cast.vera):
        response = admin_client(client_for, member).get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
