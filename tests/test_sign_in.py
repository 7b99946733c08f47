"""Staff sign-in through django-allauth: email and password, verification, password
reset, rate limits per client address and per account, TOTP MFA, invitations."""

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, hotp_value
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.roles import Role
from accounts.scope import workspace_scope
from accounts.services import invite_member
from tests.factories import PASSWORD, make_user

LOGIN = "/accounts/login/"


def sign_in(client, email, password=PASSWORD, address="10.0.0.1"):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=address)


def is_signed_in(client):
    return "_auth_user_id" in client.session


def test_sign_in_with_email_and_password(cast):
    client = Client()
    response = sign_in(client, "bob@example.com")
    assert response.status_code == 302
    assert is_signed_in(client)
    home = client.get(reverse("accounts:home"))
    assert home["Location"] == reverse("health:portfolio", args=["acme"])


def test_sign_in_page_explains_invitations(db):
    content = Client().get(LOGIN).content.decode()
    assert "by invitation only" in content
    assert "ask an owner or admin of your workspace to invite you" in content
    assert "sign up" not in content.lower()


def test_wrong_password_rejected(cast):
    client = Client()
    response = sign_in(client, "bob@example.com", password="wrong-password-1")
    assert response.status_code == 200
    assert b"not correct" in response.content
    assert not is_signed_in(client)


def test_unverified_email_cannot_sign_in(db):
    make_user("new@example.com", verified=False)
    client = Client()
    response = sign_in(client, "new@example.com")
    assert response["Location"] == reverse("account_email_verification_sent")
    assert not is_signed_in(client)
    assert "confirm" in mail.outbox[-1].subject.lower()


def test_failed_sign_ins_limited_per_account(cast):
    client = Client()
    for attempt in range(5):
        sign_in(client, "bob@example.com", password=f"wrong-{attempt}", address=f"10.0.1.{attempt}")
    # The right password from yet another address is refused while the limit holds.
    response = sign_in(client, "bob@example.com", address="10.0.1.99")
    assert not is_signed_in(client)
    assert b"Too many failed login attempts" in response.content
    other = Client()
    sign_in(other, "alice@example.com", address="10.0.1.100")
    assert is_signed_in(other)


def test_failed_sign_ins_limited_per_address(cast):
    client = Client()
    for attempt in range(10):
        sign_in(
            client, f"nobody{attempt}@example.com", password="wrong-password-1", address="10.0.2.1"
        )
    response = sign_in(client, "alice@example.com", address="10.0.2.1")
    assert not is_signed_in(client)
    assert b"Too many failed login attempts" in response.content
    other_address = Client()
    sign_in(other_address, "alice@example.com", address="10.0.2.2")
    assert is_signed_in(other_address)


def test_password_reset_by_email(cast):
    client = Client()
    client.post("/accounts/password/reset/", {"email": "bob@example.com"})
    message = mail.outbox[-1]
    assert message.to == ["bob@example.com"]
    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+)", str(message.body))
    assert link is not None
    page = client.get(link.group(1), follow=True)
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link.group(1)
    response = client.post(
        form_url, {"password1": "a-brand-new-pass-77", "password2": "a-brand-new-pass-77"}
    )
    assert response.status_code == 302
    assert sign_in(Client(), "bob@example.com", "a-brand-new-pass-77").status_code == 302


def current_totp_code(secret):
    counter = int(timezone.now().timestamp()) // 30
    return f"{hotp_value(secret, counter):06d}"


def test_required_mfa_sends_member_to_setup(cast, client_for):
    cast.acme.require_mfa = True
    cast.acme.save()
    client = client_for(cast.bob)
    response = client.get(reverse("health:portfolio", args=["acme"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    # Other workspaces of the same user are not affected.
    assert client.get(reverse("accounts:switch_workspace")).status_code == 200


def test_member_with_totp_passes_required_mfa(cast, client_for):
    cast.acme.require_mfa = True
    cast.acme.save()
    TOTP.activate(cast.bob, generate_totp_secret())
    response = client_for(cast.bob).get(reverse("health:portfolio", args=["acme"]))
    assert response.status_code == 200


def test_sign_in_with_totp_asks_for_code(cast):
    secret = generate_totp_secret()
    TOTP.activate(cast.bob, secret)
    client = Client()
    response = sign_in(client, "bob@example.com")
    assert response["Location"] == reverse("mfa_authenticate")
    assert not is_signed_in(client)
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert not is_signed_in(client)
    assert wrong.status_code == 200
    client.post(reverse("mfa_authenticate"), {"code": current_totp_code(secret)})
    assert is_signed_in(client)
    assert Authenticator.objects.filter(user=cast.bob).exists()


def test_signup_closed_without_invitation(db):
    response = Client().get("/accounts/signup/")
    assert b"Sign Up Closed" in response.content or b"closed" in response.content.lower()


@pytest.fixture
def invitation(cast, django_capture_on_commit_callbacks):
    with workspace_scope(cast.acme):
        alice_membership = Membership.objects.get(user=cast.alice)
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite_member(
            cast.acme,
            actor_membership=alice_membership,
            email="Newcomer@Example.com",
            role=Role.SUPPORT,
        )
    return invitation


def invitation_path():
    match = re.search(r"https?://[^/]+(/invitations/\S+/)", str(mail.outbox[-1].body))
    assert match is not None
    return match.group(1)


def test_invitee_signs_up_and_joins(invitation):
    client = Client()
    path = invitation_path()
    assert b"Join Acme Reptiles" in client.get(path).content
    response = client.post(
        "/accounts/signup/",
        {
            "email": "newcomer@example.com",
            "password1": "a-fresh-password-9",
            "password2": "a-fresh-password-9",
        },
    )
    assert response.status_code == 302
    # The invited address counts as verified: the link reached it.
    assert is_signed_in(client)
    response = client.post(path)
    assert response["Location"] == reverse("health:portfolio", args=["acme"])
    membership = Membership.unscoped_objects.get(user__email="newcomer@example.com")
    assert membership.role == Role.SUPPORT
    assert membership.workspace.slug == "acme"
    assert client.get(path).status_code == 404


def test_existing_user_accepts_invitation(cast, invitation):
    newcomer = make_user("newcomer@example.com")
    client = Client()
    client.force_login(newcomer)
    path = invitation_path()
    assert client.get(path).status_code == 200
    assert not Membership.unscoped_objects.filter(user=newcomer).exists()
    client.post(path)
    assert Membership.unscoped_objects.get(user=newcomer).role == Role.SUPPORT


def test_invitation_for_someone_else_refused(cast, invitation):
    client = Client()
    client.force_login(cast.charlie)
    response = client.post(invitation_path())
    assert response.status_code == 403
    assert not Membership.unscoped_objects.filter(user=cast.charlie, workspace=cast.acme).exists()


def test_forged_or_revoked_invitation_link(cast, invitation):
    client = Client()
    client.force_login(cast.charlie)
    assert client.get("/invitations/forged-token/").status_code == 404
    path = invitation_path()
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    assert client.get(path).status_code == 404
