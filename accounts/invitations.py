"""Signed invitation links and the invitation email."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Invitation

INVITATION_LIFETIME = timedelta(days=7)
INVITATION_SALT = "accounts.invitation"


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(str(invitation.public_id), salt=INVITATION_SALT)


def invitation_public_id_from_token(token: str) -> str | None:
    """Return the invitation's public id, or None for a forged or expired token."""
    try:
        return signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_LIFETIME)
    except signing.BadSignature:
        return None


def invitation_url(invitation: Invitation) -> str:
    path = reverse("accounts:invitation", kwargs={"token": invitation_token(invitation)})
    return settings.SITE_URL + path


def build_invitation_email(invitation: Invitation) -> EmailMultiAlternatives:
    context = {
        "invitation": invitation,
        "workspace": invitation.workspace,
        "inviter": invitation.invited_by,
        "url": invitation_url(invitation),
    }
    subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
    text = render_to_string("accounts/email/invitation.txt", context)
    html = render_to_string("accounts/email/invitation.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[invitation.email])
    message.attach_alternative(html, "text/html")
    return message
