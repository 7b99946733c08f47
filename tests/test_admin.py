"""The configuration admin is scoped to the admin's workspace: querysets, choices and
saves. Members without the configure permission are refused; outsiders' objects look
as if they did not exist."""

import pytest
from django.urls import reverse

from accounts.models import AuditEntry, Breeder, Membership, Workspace, WriteKey
from accounts.roles import Role
from accounts.scope import workspace_scope
from accounts.services import find_workspace_by_write_key
from tests.factories import make_membership, make_user

ADMIN_MODELS = ["workspace", "membership", "invitation", "writekey", "breeder", "auditentry"]


def admin_client(client_for, user, workspace_slug):
    client = client_for(user)
    # Opening a workspace page makes it the one the admin configures. The portfolio
    # redirects owners and admins without breeders of their own to every breeder.
    portfolio = reverse("health:portfolio", args=[workspace_slug])
    assert client.get(portfolio, follow=True).status_code == 200
    return client


def change_url(model, pk):
    return reverse(f"admin:accounts_{model}_change", args=[pk])


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_owner_opens_every_changelist(cast, client_for, model):
    client = admin_client(client_for, cast.alice, "acme")
    assert client.get(reverse(f"admin:accounts_{model}_changelist")).status_code == 200


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_members_without_configure_refused(cast, client_for, who):
    client = admin_client(client_for, getattr(cast, who), "acme")
    response = client.get(reverse("admin:accounts_breeder_changelist"), follow=True)
    assert response.status_code == 403
    response = client.get(change_url("breeder", cast.acme_breeder.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_anonymous_sent_to_sign_in(cast, client_for):
    response = client_for(None).get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))


def test_changelist_shows_only_own_workspace(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    content = client.get(reverse("admin:accounts_breeder_changelist")).content
    assert b"Acme Python Farm" in content
    assert b"Globex Gecko House" not in content
    content = client.get(reverse("admin:accounts_workspace_changelist")).content
    assert b"Acme Reptiles" in content
    assert b"Globex Geckos" not in content


@pytest.mark.parametrize(
    ("model", "target"),
    [("breeder", "globex_breeder"), ("workspace", "globex"), ("membership", "charlie")],
)
def test_other_workspace_object_looks_missing(cast, client_for, model, target):
    if model == "membership":
        pk = Membership.unscoped_objects.get(user=cast.charlie).pk
    else:
        pk = getattr(cast, target).pk
    client = admin_client(client_for, cast.alice, "acme")
    response = client.get(change_url(model, pk))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    response = client.post(change_url(model, pk), {"name": "Hijacked", "role": "viewer"})
    assert response.status_code == 302
    assert Breeder.unscoped_objects.get(pk=cast.globex_breeder.pk).name == "Globex Gecko House"
    assert Workspace.objects.get(pk=cast.globex.pk).name == "Globex Geckos"
    assert Membership.unscoped_objects.get(user=cast.charlie).role == Role.OWNER


def test_bad_id_looks_missing(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    assert client.get(change_url("breeder", 987654)).status_code == 302
    assert client.get("/admin/accounts/breeder/not-a-number/change/").status_code == 302


def breeder_post(**changes):
    data = {
        "external_id": "admin-made",
        "name": "Admin Made",
        "business_name": "",
        "email": "",
        "time_zone": "",
        "country": "",
        "species": "",
        "animal_count": "3",
        "operation": "",
        "experience": "",
        "signed_up_at_0": "2026-01-05",
        "signed_up_at_1": "10:00:00",
        "plan": "",
        "tier": "",
        "assigned_csm": "",
    }
    data.update(changes)
    return data


def test_add_saves_into_admins_workspace(cast, client_for):
    client = admin_client(client_for, cast.charlie, "globex")
    response = client.post(reverse("admin:accounts_breeder_add"), breeder_post())
    assert response.status_code == 302
    breeder = Breeder.unscoped_objects.get(external_id="admin-made")
    assert breeder.workspace_id == cast.globex.pk


def test_foreign_key_choices_limited_to_workspace_staff(cast, client_for):
    client = admin_client(client_for, cast.charlie, "globex")
    form_page = client.get(reverse("admin:accounts_breeder_add")).content
    assert b"charlie@example.com" in form_page or b"Charlie Outsider" in form_page
    assert b"Bob CSM" not in form_page
    response = client.post(
        reverse("admin:accounts_breeder_add"), breeder_post(assigned_csm=str(cast.bob.pk))
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not Breeder.unscoped_objects.filter(external_id="admin-made").exists()


def test_workspace_field_hidden_from_workspace_admins(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    page = client.get(change_url("breeder", cast.acme_breeder.pk)).content
    assert b'name="workspace"' not in page


def test_write_key_shown_once_and_stored_hashed(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    response = client.post(
        reverse("admin:accounts_writekey_add"), {"name": "Production"}, follow=True
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    raw_key = next(m for m in messages if "not be shown again" in m).rsplit(" ", 1)[-1]
    assert raw_key.startswith("rdx_")
    with workspace_scope(cast.acme):
        key = WriteKey.objects.get(name="Production")
    assert raw_key not in key.key_hash
    assert find_workspace_by_write_key(raw_key) == cast.acme
    page = client.get(change_url("writekey", key.pk)).content
    assert raw_key.encode() not in page


def test_role_change_through_admin_is_audited(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    with workspace_scope(cast.acme):
        bob_membership = Membership.objects.get(user=cast.bob)
    response = client.post(change_url("membership", bob_membership.pk), {"role": "manager"})
    assert response.status_code == 302
    bob_membership.refresh_from_db()
    assert bob_membership.role == Role.MANAGER
    with workspace_scope(cast.acme):
        assert AuditEntry.objects.filter(action="membership.role_changed").exists()


def test_admin_cannot_flip_mfa_requirement(cast, client_for):
    admin = make_user("ada@example.com")
    make_membership(cast.acme, admin, Role.ADMIN)
    client = admin_client(client_for, admin, "acme")
    page = client.get(change_url("workspace", cast.acme.pk)).content
    assert b'name="require_mfa"' not in page
    assert b'name="name"' in page


def test_superuser_sees_every_workspace(cast, client_for):
    operator = make_user("ops@example.com", is_superuser=True, is_staff=True)
    client = client_for(operator)
    content = client.get(reverse("admin:accounts_breeder_changelist")).content
    assert b"Acme Python Farm" in content
    assert b"Globex Gecko House" in content
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200


def test_user_admin_hidden_from_workspace_admins(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 403


def test_duplicate_external_id_is_form_error(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    taken = cast.acme_breeder.external_id
    response = client.post(reverse("admin:accounts_breeder_add"), breeder_post(external_id=taken))
    assert response.status_code == 200
    assert b"A breeder with this external id already exists in this workspace" in response.content
    # The same external id in another workspace is fine.
    other = admin_client(client_for, cast.charlie, "globex")
    response = other.post(reverse("admin:accounts_breeder_add"), breeder_post(external_id=taken))
    assert response.status_code == 302
