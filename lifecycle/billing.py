"""Stripe webhooks: endpoint secrets, signature checks and durable storage of events.

Each workspace has one endpoint, `/webhooks/stripe/<workspace public id>/`, with its
own signing secret. A delivery is accepted in three steps:

1. the `Stripe-Signature` header is checked against the raw body with the current
   secret, or the previous one while a rotation lasts, and Stripe's 300-second
   timestamp tolerance;
2. the event is inserted once per (workspace, Stripe event id); a repeated delivery
   inserts nothing;
3. after the commit, a Celery task applies it (lifecycle.billing_processing). The
   response goes out only after the commit, so a 2xx means the event is stored.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import stripe
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User, Workspace
from accounts.scope import workspace_scope
from accounts.services import atomic_in_workspace, record_audit
from lifecycle.billing_processing import HANDLED_EVENT_TYPES, event_customer_id
from lifecycle.billing_tasks import process_stripe_event
from lifecycle.encryption import decrypt_secret, encrypt_secret
from lifecycle.models.billing import StripeEndpoint, StripeEvent, StripeEventStatus
from lifecycle.stripe_objects import to_datetime

logger = logging.getLogger(__name__)

# Stripe's own default: a signed delivery older than this is rejected as a possible replay.
SIGNATURE_TOLERANCE_SECONDS = 300
# Stripe keeps an old secret valid for up to 24 hours when an endpoint's secret is rolled.
DEFAULT_PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)
MAX_PREVIOUS_SECRET_LIFETIME = timedelta(days=7)
# Not secrets: the HKDF purpose label, and the prefix every Stripe signing secret has.
SECRET_PURPOSE = "stripe-webhook-signing-secret"  # noqa: S105
SECRET_PREFIX = "whsec_"  # noqa: S105


class StripeWebhookError(Exception):
    """A delivery was rejected; `code` and `message` go back to Stripe as JSON."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# Endpoint secrets ----------------------------------------------------------------


def secret_hint(secret: str) -> str:
    return f"{SECRET_PREFIX}…{secret[-4:]}"


@atomic_in_workspace
def set_stripe_signing_secret(
    workspace: Workspace,
    *,
    secret: str,
    previous_secret_lifetime: timedelta = DEFAULT_PREVIOUS_SECRET_LIFETIME,
    actor: User | None,
) -> StripeEndpoint:
    """Store a new signing secret, encrypted; the old one stays valid for a while.

    A `previous_secret_lifetime` of zero drops the old secret at once (for a leaked one).
    """
    secret = secret.strip()
    if not secret.startswith(SECRET_PREFIX) or len(secret) < len(SECRET_PREFIX) + 8:
        raise ValidationError(
            {
                "signing_secret": (
                    "This is not a Stripe signing secret: copy the value that starts with "
                    "whsec_ from the endpoint's page in the Stripe Dashboard."
                )
            }
        )
    if not timedelta(0) <= previous_secret_lifetime <= MAX_PREVIOUS_SECRET_LIFETIME:
        raise ValidationError(
            {"previous_secret_lifetime": "Keep the previous secret for 0 to 168 hours."}
        )
    endpoint, _ = StripeEndpoint.objects.select_for_update().get_or_create(workspace=workspace)
    now = timezone.now()
    if endpoint.signing_secret_encrypted and previous_secret_lifetime > timedelta(0):
        endpoint.previous_secret_encrypted = endpoint.signing_secret_encrypted
        endpoint.previous_secret_hint = endpoint.signing_secret_hint
        endpoint.previous_secret_expires_at = now + previous_secret_lifetime
    else:
        endpoint.previous_secret_encrypted = ""
        endpoint.previous_secret_hint = ""
        endpoint.previous_secret_expires_at = None
    endpoint.signing_secret_encrypted = encrypt_secret(secret, purpose=SECRET_PURPOSE)
    endpoint.signing_secret_hint = secret_hint(secret)
    endpoint.signing_secret_set_at = now
    endpoint.save()
    record_audit(
        workspace,
        actor=actor,
        action="stripe_endpoint.secret_set",
        target=endpoint,
        hint=endpoint.signing_secret_hint,
        previous_secret_valid_until=(
            endpoint.previous_secret_expires_at.isoformat()
            if endpoint.previous_secret_expires_at
            else None
        ),
    )
    logger.info("Set the Stripe signing secret of workspace %s", workspace.pk)
    return endpoint


def accepted_signing_secrets(endpoint: StripeEndpoint) -> list[str]:
    """Return the secrets a delivery may be signed with: current first, then previous."""
    secrets = []
    if endpoint.signing_secret_encrypted:
        secrets.append(decrypt_secret(endpoint.signing_secret_encrypted, purpose=SECRET_PURPOSE))
    if endpoint.previous_secret_active():
        secrets.append(decrypt_secret(endpoint.previous_secret_encrypted, purpose=SECRET_PURPOSE))
    return secrets


def find_endpoint(workspace_public_id: uuid.UUID) -> StripeEndpoint | None:
    """Return the endpoint of the workspace named in the webhook URL, or None.

    Reads across workspaces on purpose: the URL is what names the workspace, and only
    a valid signature with that workspace's secret lets the delivery in.
    """
    return (
        StripeEndpoint.unscoped_objects.select_related("workspace")
        .filter(workspace__public_id=workspace_public_id)
        .first()
    )


# Receiving -----------------------------------------------------------------------


def verify_signature(endpoint: StripeEndpoint, payload: bytes, header: str | None) -> None:
    """Raise StripeWebhookError unless `header` signs `payload` with an accepted secret."""
    if not header:
        raise StripeWebhookError(
            400, "missing_signature", "The Stripe-Signature header is missing."
        )
    secrets = accepted_signing_secrets(endpoint)
    if not secrets:
        raise StripeWebhookError(
            400,
            "signing_secret_not_set",
            "This endpoint has no signing secret yet; a workspace admin must set it in "
            "the configuration admin before Stripe can deliver events.",
        )
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        raise StripeWebhookError(400, "invalid_body", "The body is not UTF-8 text.") from None

    for secret in secrets:
        # The first check compares signatures only, so that a correctly signed but old
        # delivery gets its own error below instead of a signature mismatch.
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        try:
            stripe.WebhookSignature.verify_header(
                payload, header, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            raise StripeWebhookError(
                400,
                "timestamp_outside_tolerance",
                f"The Stripe-Signature timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} "
                "seconds old; Stripe retries with a fresh one.",
            ) from None
        return
    raise StripeWebhookError(
        400,
        "invalid_signature",
        "The Stripe-Signature header does not match the body with this endpoint's "
        "signing secret. Check that the secret set in the admin is the one Stripe shows "
        "for this endpoint, and that nothing changes the body on its way.",
    )


def parse_event(payload: bytes) -> dict[str, Any]:
    """Parse and check the envelope of a Stripe event."""
    try:
        event = json.loads(payload)
    except ValueError:
        raise StripeWebhookError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(event, dict):
        raise StripeWebhookError(400, "invalid_event", "The body must be a Stripe event object.")
    for field, kind in (("id", str), ("type", str), ("created", int)):
        if not isinstance(event.get(field), kind):
            raise StripeWebhookError(
                400, "invalid_event", f"The event's `{field}` is missing or has the wrong type."
            )
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise StripeWebhookError(
            400, "invalid_event", "The event's `data.object` is missing or not an object."
        )
    return event


@dataclass(frozen=True)
class StoredEvent:
    stripe_id: str
    duplicate: bool
    status: str


def store_event(endpoint: StripeEndpoint, event: dict[str, Any]) -> StoredEvent:
    """Insert the event once and queue its processing for after the commit."""
    workspace_id = endpoint.workspace_id
    event_type = event["type"]
    obj = event["data"]["object"]
    stripe_created = to_datetime(event["created"])
    if stripe_created is None:
        raise StripeWebhookError(400, "invalid_event", "The event's `created` is missing.")
    status = (
        StripeEventStatus.PENDING
        if event_type in HANDLED_EVENT_TYPES
        else StripeEventStatus.IGNORED
    )
    with workspace_scope(workspace_id), transaction.atomic():
        duplicate = StripeEvent.objects.filter(stripe_id=event["id"]).exists()
        if not duplicate:
            # ON CONFLICT DO NOTHING: two concurrent deliveries of one event both pass the
            # check above, and the second insert then does nothing.
            StripeEvent.objects.bulk_create(
                [
                    StripeEvent(
                        workspace_id=workspace_id,
                        stripe_id=event["id"],
                        type=event_type,
                        api_version=str(event.get("api_version") or "")[:40],
                        livemode=bool(event.get("livemode")),
                        stripe_created=stripe_created,
                        customer_id=event_customer_id(event_type, obj)[:255],
                        payload=event,
                        status=status,
                    )
                ],
                ignore_conflicts=True,
            )
            if status == StripeEventStatus.PENDING:
                # robust: once the event is stored, a broker outage must not turn the
                # response into an error; the re-queue job picks the event up later.
                transaction.on_commit(
                    functools.partial(
                        process_stripe_event.delay,
                        workspace_id=workspace_id,
                        stripe_event_id=event["id"],
                    ),
                    robust=True,
                )
    logger.info(
        "Stored Stripe event %s (%s) for workspace %s%s",
        event["id"],
        event_type,
        workspace_id,
        " (duplicate)" if duplicate else "",
    )
    return StoredEvent(stripe_id=event["id"], duplicate=duplicate, status=status)


def process_events_again(events: QuerySet[StripeEvent]) -> int:
    """Queue failed and unmatched events for another attempt, after the commit.

    Failed events go back to pending first, because processing skips failed ones.
    """
    with transaction.atomic():
        chosen = list(
            events.filter(
                status__in=[StripeEventStatus.FAILED, StripeEventStatus.UNMATCHED]
            ).values_list("workspace_id", "stripe_id")
        )
        events.filter(status=StripeEventStatus.FAILED).update(
            status=StripeEventStatus.PENDING, last_error=""
        )
        for workspace_id, stripe_id in chosen:
            transaction.on_commit(
                functools.partial(
                    process_stripe_event.delay,
                    workspace_id=workspace_id,
                    stripe_event_id=stripe_id,
                ),
                robust=True,
            )
    return len(chosen)
