"""Every workspace page meets the cast: owner, teammate, read-only member, outsider
and a bad id. Another workspace's objects are 404s, read-only writes are 403s."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, Breeder, Invitation, Membership
from accounts.roles import Role
from accounts.scope import workspace_scope
from accounts.templatetags.plan_labels import plan_label
from lifecycle.models import TimelineEntry, TimelineKind
from tests.factories import make_breeder, make_membership, make_user

READ_PAGES = [
    ("health:portfolio", {}),
    ("accounts:members", {}),
    ("accounts:security", {}),
    ("accounts:breeder_list", {}),
    ("accounts:breeder_detail", {"public_id": "BREEDER"}),
]


def page_url(cast, name, extra):
    kwargs = {"workspace_slug": "acme"}
    for key, value in extra.items():
        kwargs[key] = str(cast.acme_breeder.public_id) if value == "BREEDER" else value
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize(("name", "extra"), READ_PAGES)
@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_members_can_read(cast, client_for, name, extra, who):
    # Alice has no breeders of her own, so her portfolio redirects to every breeder.
    response = client_for(getattr(cast, who)).get(page_url(cast, name, extra), follow=True)
    assert response.status_code == 200


@pytest.mark.parametrize(("name", "extra"), READ_PAGES)
def test_outsider_gets_404(cast, client_for, name, extra):
    response = client_for(cast.charlie).get(page_url(cast, name, extra))
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "extra"), READ_PAGES)
def test_anonymous_redirected_to_sign_in(cast, client_for, name, extra):
    url = page_url(cast, name, extra)
    response = client_for(None).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("bad_id", ["not-a-uuid", str(uuid.uuid4())])
def test_bad_breeder_id_is_404(cast, client_for, bad_id):
    url = reverse("accounts:breeder_detail", kwargs={"workspace_slug": "acme", "public_id": bad_id})
    assert client_for(cast.alice).get(url).status_code == 404


def test_other_workspace_breeder_is_404(cast, client_for):
    for name in ["accounts:breeder_detail", "accounts:breeder_edit"]:
        url = reverse(
            name, kwargs={"workspace_slug": "acme", "public_id": cast.globex_breeder.public_id}
        )
        assert client_for(cast.alice).get(url).status_code == 404


def test_other_workspace_breeder_not_editable(cast, client_for):
    url = reverse(
        "accounts:breeder_edit",
        kwargs={"workspace_slug": "acme", "public_id": cast.globex_breeder.public_id},
    )
    response = client_for(cast.alice).post(url, {"name": "Hijacked", "animal_count": 1})
    assert response.status_code == 404
    assert Breeder.unscoped_objects.get(pk=cast.globex_breeder.pk).name == "Globex Gecko House"


def test_breeder_list_shows_only_own_workspace(cast, client_for):
    response = client_for(cast.alice).get(reverse("accounts:breeder_list", args=["acme"]))
    assert b"Acme Python Farm" in response.content
    assert b"Globex Gecko House" not in response.content


def test_breeder_list_sorted_by_display_name(cast, client_for):
    make_breeder(cast.acme, name="Zed Zimmer", business_name="Basilisk Barn")
    make_breeder(cast.acme, name="adder alley")
    response = client_for(cast.alice).get(reverse("accounts:breeder_list", args=["acme"]))
    names_shown = [breeder.display_name for breeder in response.context["page"]]
    assert names_shown == ["Acme Python Farm", "adder alley", "Basilisk Barn"]


def test_plan_code_shown_as_label(cast, client_for):
    breeder = make_breeder(cast.acme, name="Plan Person", plan="breeder_pro")
    client = client_for(cast.alice)
    pages = [
        reverse("accounts:breeder_list", args=["acme"]),
        reverse("accounts:breeder_detail", args=["acme", breeder.public_id]),
    ]
    for url in pages:
        content = client.get(url).content.decode()
        assert '<span title="breeder_pro">Breeder Pro</span>' in content, url


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("breeder_pro", "Breeder Pro"),
        ("keeper", "Keeper"),
        ("price_1NxAbC", "Price 1NxAbC"),
        ("Breeder Pro", "Breeder Pro"),
        ("", ""),
    ],
)
def test_plan_label_filter(code, label):
    assert plan_label(code) == label


def test_breeder_list_search_htmx_returns_rows_only(cast, client_for):
    url = reverse("accounts:breeder_list", args=["acme"]) + "?q=python"
    response = client_for(cast.alice).get(url, headers={"HX-Request": "true"})
    assert b"Acme Python Farm" in response.content
    assert b"<html" not in response.content


def breeder_form_data(breeder, **changes):
    data = {
        "name": breeder.name,
        "business_name": breeder.business_name,
        "email": breeder.email,
        "time_zone": breeder.time_zone,
        "country": breeder.country,
        "species": ", ".join(breeder.species),
        "animal_count": breeder.animal_count,
        "operation": breeder.operation,
        "experience": breeder.experience,
        "plan": breeder.plan,
    }
    data.update(changes)
    return data


def edit_url(breeder):
    return reverse(
        "accounts:breeder_edit", kwargs={"workspace_slug": "acme", "public_id": breeder.public_id}
    )


def test_csm_edits_breeder_and_audit_is_written(cast, client_for):
    breeder = cast.acme_breeder
    data = breeder_form_data(breeder, animal_count=42, species="Ball python, Corn snake")
    response = client_for(cast.bob).post(edit_url(breeder), data)
    assert response.status_code == 302
    breeder.refresh_from_db()
    assert breeder.animal_count == 42
    assert breeder.species == ["Ball python", "Corn snake"]
    with workspace_scope(cast.acme):
        entry = AuditEntry.objects.get(action="breeder.updated")
    assert entry.actor == cast.bob
    assert entry.data["changed"]["animal_count"] == ["0", "42"]


def test_viewer_cannot_edit_breeder(cast, client_for):
    breeder = cast.acme_breeder
    client = client_for(cast.vera)
    assert client.get(edit_url(breeder)).status_code == 403
    response = client.post(edit_url(breeder), breeder_form_data(breeder, animal_count=5))
    assert response.status_code == 403
    breeder.refresh_from_db()
    assert breeder.animal_count == 0


def test_csm_cannot_assign_breeders(cast, client_for):
    breeder = cast.acme_breeder
    data = breeder_form_data(breeder, assigned_csm=cast.alice.pk)
    client_for(cast.bob).post(edit_url(breeder), data)
    breeder.refresh_from_db()
    assert breeder.assigned_csm == cast.bob


def test_owner_assigns_only_workspace_staff(cast, client_for):
    breeder = cast.acme_breeder
    client = client_for(cast.alice)
    response = client.post(
        edit_url(breeder), breeder_form_data(breeder, assigned_csm=cast.charlie.pk)
    )
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    response = client.post(
        edit_url(breeder), breeder_form_data(breeder, assigned_csm=cast.alice.pk)
    )
    assert response.status_code == 302
    breeder.refresh_from_db()
    assert breeder.assigned_csm == cast.alice


def test_invalid_breeder_input_names_field(cast, client_for):
    response = client_for(cast.alice).post(
        edit_url(cast.acme_breeder),
        breeder_form_data(cast.acme_breeder, country="Germany", time_zone="Mars/Olympus"),
    )
    assert response.status_code == 400
    assert b"two-letter ISO 3166-1 country code" in response.content
    assert b"Select a valid choice. Mars/Olympus" in response.content


def test_pages_show_times_in_workspace_zone(cast, client_for):
    cast.acme.time_zone = "America/New_York"
    cast.acme.save(update_fields=["time_zone"])
    with workspace_scope(cast.acme):
        TimelineEntry.objects.create(
            workspace=cast.acme,
            breeder=cast.acme_breeder,
            kind=TimelineKind.NOTE,
            occurred_at=datetime(2026, 1, 15, 15, 30, tzinfo=UTC),
            title="Called about pedigrees",
        )
    url = reverse("lifecycle:timeline", args=["acme", cast.acme_breeder.public_id])
    response = client_for(cast.bob).get(url)
    assert response.status_code == 200
    assert b"15 Jan 2026 10:30 EST" in response.content
    # The middleware deactivates the workspace zone once the response is built.
    assert timezone.get_current_timezone_name() == "UTC"


def test_portfolio_lists_my_breeders(cast, client_for):
    response = client_for(cast.bob).get(reverse("health:portfolio", args=["acme"]))
    assert b"Acme Python Farm" in response.content
    response = client_for(cast.vera).get(reverse("health:portfolio", args=["acme"]))
    assert b"Acme Python Farm" not in response.content


def test_portfolio_of_all_only_for_team_roles(cast, client_for):
    url = reverse("health:portfolio", args=["acme"]) + "?csm=all"
    assert b"Acme Python Farm" in client_for(cast.alice).get(url).content
    assert b"Acme Python Farm" not in client_for(cast.vera).get(url).content


def test_portfolio_query_count_does_not_grow(cast, client_for):
    client = client_for(cast.bob)
    url = reverse("health:portfolio", args=["acme"])
    client.get(url)
    with CaptureQueriesContext(connection) as one_breeder:
        client.get(url)
    for _ in range(20):
        make_breeder(cast.acme, assigned_csm=cast.bob)
    with CaptureQueriesContext(connection) as many_breeders:
        response = client.get(url)
    assert response.context["page"].paginator.count == 21
    assert len(many_breeders) == len(one_breeder)
    assert len(many_breeders) <= 9


# Members, invitations and security.


def test_owner_invites_member_by_email(cast, client_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(cast.alice).post(
            reverse("accounts:invite", args=["acme"]),
            {"email": "newcomer@example.com", "role": Role.MANAGER},
        )
    assert response.status_code == 302
    with workspace_scope(cast.acme):
        invitation = Invitation.objects.get(email="newcomer@example.com")
    assert invitation.role == Role.MANAGER
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newcomer@example.com"]
    assert "Acme Reptiles" in message.subject
    assert "/invitations/" in message.body
    assert "/invitations/" in message.alternatives[0][0]  # type: ignore[attr-defined]


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_non_admins_cannot_invite(cast, client_for, who):
    response = client_for(getattr(cast, who)).post(
        reverse("accounts:invite", args=["acme"]), {"email": "x@example.com", "role": "csm"}
    )
    assert response.status_code == 403
    assert not Invitation.unscoped_objects.filter(email="x@example.com").exists()


def test_outsider_cannot_invite_into_workspace(cast, client_for):
    response = client_for(cast.charlie).post(
        reverse("accounts:invite", args=["acme"]), {"email": "x@example.com", "role": "owner"}
    )
    assert response.status_code == 404


def test_invite_existing_member_names_email_field(cast, client_for):
    response = client_for(cast.alice).post(
        reverse("accounts:invite", args=["acme"]), {"email": "bob@example.com", "role": "csm"}
    )
    assert response.status_code == 400
    assert b"bob@example.com is already a member" in response.content


def membership_of(workspace, user):
    with workspace_scope(workspace):
        return Membership.objects.get(user=user)


def test_admin_cannot_grant_owner(cast, client_for):
    admin = make_user("ada@example.com")
    make_membership(cast.acme, admin, Role.ADMIN)
    bob_membership = membership_of(cast.acme, cast.bob)
    response = client_for(admin).post(
        reverse("accounts:change_role", args=["acme", bob_membership.public_id]),
        {"role": Role.OWNER},
    )
    assert response.status_code == 403
    assert membership_of(cast.acme, cast.bob).role == Role.CSM


def test_owner_changes_role(cast, client_for):
    bob_membership = membership_of(cast.acme, cast.bob)
    response = client_for(cast.alice).post(
        reverse("accounts:change_role", args=["acme", bob_membership.public_id]),
        {"role": Role.MANAGER},
    )
    assert response.status_code == 302
    assert membership_of(cast.acme, cast.bob).role == Role.MANAGER


def test_last_owner_cannot_be_demoted(cast, client_for):
    second_owner = make_user("olga@example.com")
    make_membership(cast.acme, second_owner, Role.OWNER)
    alice_membership = membership_of(cast.acme, cast.alice)
    client = client_for(second_owner)
    client.post(
        reverse("accounts:change_role", args=["acme", alice_membership.public_id]),
        {"role": Role.CSM},
    )
    assert membership_of(cast.acme, cast.alice).role == Role.CSM
    olga_membership = membership_of(cast.acme, second_owner)
    response = client_for(cast.alice).post(
        reverse("accounts:change_role", args=["acme", olga_membership.public_id]),
        {"role": Role.CSM},
    )
    assert response.status_code == 403
    assert membership_of(cast.acme, second_owner).role == Role.OWNER


def test_membership_of_other_workspace_is_404(cast, client_for):
    charlie_membership = membership_of(cast.globex, cast.charlie)
    for name in ["accounts:change_role", "accounts:remove_member"]:
        response = client_for(cast.alice).post(
            reverse(name, args=["acme", charlie_membership.public_id]), {"role": Role.VIEWER}
        )
        assert response.status_code == 404
    assert membership_of(cast.globex, cast.charlie).role == Role.OWNER


def test_removing_member_unassigns_their_breeders(cast, client_for):
    bob_membership = membership_of(cast.acme, cast.bob)
    response = client_for(cast.alice).post(
        reverse("accounts:remove_member", args=["acme", bob_membership.public_id])
    )
    assert response.status_code == 302
    assert not Membership.unscoped_objects.filter(pk=bob_membership.pk).exists()
    cast.acme_breeder.refresh_from_db()
    assert cast.acme_breeder.assigned_csm is None


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 302), ("bob", 403), ("vera", 403), ("charlie", 404)]
)
def test_only_owner_sets_mfa_requirement(cast, client_for, who, status):
    response = client_for(getattr(cast, who)).post(
        reverse("accounts:security", args=["acme"]), {"require_mfa": "on"}
    )
    assert response.status_code == status
    cast.acme.refresh_from_db()
    assert cast.acme.require_mfa is (status == 302)


def test_revoke_invitation_of_other_workspace_is_404(cast, client_for):
    with workspace_scope(cast.globex):
        invitation = Invitation.objects.create(
            workspace=cast.globex,
            email="g@example.com",
            role=Role.CSM,
            expires_at=timezone.now() + timedelta(days=1),
        )
    response = client_for(cast.alice).post(
        reverse("accounts:revoke_invitation", args=["acme", invitation.public_id])
    )
    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_home_redirects_to_workspace(cast, client_for):
    response = client_for(cast.bob).get(reverse("accounts:home"))
    assert response["Location"] == reverse("health:portfolio", args=["acme"])


def test_user_in_two_workspaces_switches(cast, client_for):
    make_membership(cast.globex, cast.bob, Role.VIEWER)
    client = client_for(cast.bob)
    response = client.post(reverse("accounts:switch_workspace"), {"slug": "globex"})
    assert response["Location"] == reverse("health:portfolio", args=["globex"])
    assert client.get(reverse("accounts:home"))["Location"] == reverse(
        "health:portfolio", args=["globex"]
    )
    page = client.get(reverse("health:portfolio", args=["globex"]))
    assert page.status_code == 200


def test_switch_to_foreign_workspace_is_404(cast, client_for):
    response = client_for(cast.bob).post(reverse("accounts:switch_workspace"), {"slug": "globex"})
    assert response.status_code == 404


def test_pages_send_content_security_policy(cast, client_for):
    response = client_for(cast.bob).get(reverse("health:portfolio", args=["acme"]))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
