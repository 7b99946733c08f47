"""Stripe webhooks end to end: signed deliveries through the endpoint, storage, and the
task that applies them. The task runs eagerly, except in the last test, which uses a
real worker."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.scope import workspace_scope
from lifecycle import billing
from lifecycle.billing_tasks import requeue_stripe_events_everywhere
from lifecycle.encryption import decrypt_secret
from lifecycle.models.billing import (
    BillingTimelineEntry,
    Cancellation,
    StripeCustomer,
    StripeEndpoint,
    StripeEvent,
    StripeEventStatus,
    Subscription,
    TimelineKind,
)
from reptidex.schedule import BEAT_SCHEDULE
from tests import stripe_payloads as sp
from tests.factories import make_breeder

ACME_SECRET = "whsec_acme_current_0123456789abcdef"
ACME_NEW_SECRET = "whsec_acme_rotated_fedcba9876543210"
GLOBEX_SECRET = "whsec_globex_0123456789abcdef0123"


@pytest.fixture
def endpoints(cast):
    billing.set_stripe_signing_secret(cast.acme, secret=ACME_SECRET, actor=cast.alice)
    billing.set_stripe_signing_secret(cast.globex, secret=GLOBEX_SECRET, actor=cast.charlie)


@pytest.fixture
def send(endpoints, django_capture_on_commit_callbacks):
    """Deliver an event to a workspace and run what was queued after the commit."""
    client = Client()

    def deliver(workspace, stripe_event, secret=ACME_SECRET, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return sp.deliver(client, workspace, stripe_event, secret, **kwargs)

    return deliver


def stored(workspace, stripe_id):
    with workspace_scope(workspace):
        return StripeEvent.objects.get(stripe_id=stripe_id)


def subscription_of(workspace, external_id):
    with workspace_scope(workspace):
        return Subscription.objects.select_related("breeder").get(external_id=external_id)


def entries(workspace, **filters):
    with workspace_scope(workspace):
        return list(BillingTimelineEntry.objects.filter(**filters).order_by("occurred_at"))


def link_customer(send, workspace, breeder, customer_id, secret=ACME_SECRET):
    response = send(
        workspace,
        sp.event("customer.created", sp.customer(customer_id, user_id=breeder.external_id)),
        secret,
    )
    assert response.status_code == 200


# Signatures ----------------------------------------------------------------------


def test_signed_delivery_stored_and_applied(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-100")
    stripe_event = sp.event("customer.created", sp.customer("cus_A1", user_id="user-100"))
    response = send(cast.acme, stripe_event)
    assert response.status_code == 200
    assert response.json() == {"received": True, "id": stripe_event["id"], "duplicate": False}
    event = stored(cast.acme, stripe_event["id"])
    assert event.status == StripeEventStatus.PROCESSED
    assert event.customer_id == "cus_A1"
    assert event.stripe_created == datetime.fromtimestamp(stripe_event["created"], tz=UTC)
    with workspace_scope(cast.acme):
        assert StripeCustomer.objects.get(customer_id="cus_A1").breeder == breeder


def test_tampered_body_rejected(cast, send):
    stripe_event = sp.event("customer.created", sp.customer("cus_T1", user_id="user-1"))
    tampered = json.dumps(stripe_event).replace("cus_T1", "cus_T2")
    response = send(cast.acme, stripe_event, body=tampered)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    with workspace_scope(cast.acme):
        assert not StripeEvent.objects.exists()


def test_stale_timestamp_rejected(cast, send):
    stripe_event = sp.event("customer.created", sp.customer("cus_S1"))
    response = send(cast.acme, stripe_event, timestamp=int(time.time()) - 301)
    assert response.status_code == 400
    assert response.json()["code"] == "timestamp_outside_tolerance"
    assert "300 seconds" in response.json()["message"]
    response = send(cast.acme, stripe_event, timestamp=int(time.time()) - 250)
    assert response.status_code == 200


def test_missing_signature_rejected(cast, endpoints):
    response = Client().post(sp.webhook_url(cast.acme), data="{}", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "missing_signature"


def test_other_workspace_secret_rejected(cast, send):
    stripe_event = sp.event("customer.created", sp.customer("cus_X1"))
    response = send(cast.acme, stripe_event, secret=GLOBEX_SECRET)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"


def test_unknown_workspace_not_found(cast, endpoints):
    stripe_event = sp.event("customer.created", sp.customer("cus_U1"))
    client = Client()
    payload = json.dumps(stripe_event)
    response = client.post(
        "/webhooks/stripe/00000000-0000-4000-8000-000000000000/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sp.sign(payload, ACME_SECRET),
    )
    assert response.status_code == 404
    assert response.json()["code"] == "endpoint_not_found"


def test_endpoint_without_secret_explains(cast):
    stripe_event = sp.event("customer.created", sp.customer("cus_N1"))
    response = sp.deliver(Client(), cast.acme, stripe_event, ACME_SECRET)
    assert response.status_code == 404
    with workspace_scope(cast.acme):
        StripeEndpoint.objects.create(workspace=cast.acme)
    response = sp.deliver(Client(), cast.acme, stripe_event, ACME_SECRET)
    assert response.status_code == 400
    assert response.json()["code"] == "signing_secret_not_set"


def test_malformed_event_rejected(cast, send):
    payload = json.dumps({"id": "evt_1", "type": "customer.created", "created": "yesterday"})
    response = Client().post(
        sp.webhook_url(cast.acme),
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sp.sign(payload, ACME_SECRET),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_event"
    assert "created" in response.json()["message"]


# Secrets and rotation ------------------------------------------------------------


def test_secret_stored_encrypted(cast, endpoints):
    with workspace_scope(cast.acme):
        endpoint = StripeEndpoint.objects.get()
    assert ACME_SECRET not in endpoint.signing_secret_encrypted
    assert endpoint.signing_secret_hint == "whsec_…cdef"
    purpose = billing.SECRET_PURPOSE
    assert decrypt_secret(endpoint.signing_secret_encrypted, purpose=purpose) == ACME_SECRET


def test_rotated_secret_accepted_until_expiry(cast, send):
    billing.set_stripe_signing_secret(
        cast.acme,
        secret=ACME_NEW_SECRET,
        previous_secret_lifetime=timedelta(hours=1),
        actor=cast.alice,
    )
    old_signed = sp.event("customer.created", sp.customer("cus_R1"))
    assert send(cast.acme, old_signed, secret=ACME_SECRET).status_code == 200
    new_signed = sp.event("customer.created", sp.customer("cus_R2"))
    assert send(cast.acme, new_signed, secret=ACME_NEW_SECRET).status_code == 200

    with workspace_scope(cast.acme):
        StripeEndpoint.objects.update(
            previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
        )
    after_expiry = sp.event("customer.created", sp.customer("cus_R3"))
    response = send(cast.acme, after_expiry, secret=ACME_SECRET)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert send(cast.acme, after_expiry, secret=ACME_NEW_SECRET).status_code == 200


def test_rotation_without_overlap_drops_old(cast, send):
    billing.set_stripe_signing_secret(
        cast.acme, secret=ACME_NEW_SECRET, previous_secret_lifetime=timedelta(0), actor=cast.alice
    )
    response = send(cast.acme, sp.event("customer.created", sp.customer("cus_R4")))
    assert response.status_code == 400


def test_secret_must_look_like_stripe(cast):
    with pytest.raises(Exception, match="whsec_"):
        billing.set_stripe_signing_secret(cast.acme, secret="sk_live_nope", actor=cast.alice)


# Duplicates and ordering ---------------------------------------------------------


def test_duplicate_delivery_harmless(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-200")
    link_customer(send, cast.acme, breeder, "cus_D1")
    paid = sp.event("invoice.paid", sp.invoice("cus_D1", "sub_D1"))
    first = send(cast.acme, paid)
    second = send(cast.acme, paid)
    assert first.status_code == 200
    assert second.status_code == 200
    assert first.json()["duplicate"] is False
    assert second.json()["duplicate"] is True
    with workspace_scope(cast.acme):
        assert StripeEvent.objects.filter(stripe_id=paid["id"]).count() == 1
        assert stored(cast.acme, paid["id"]).attempts == 1
    assert len(entries(cast.acme, kind=TimelineKind.INVOICE_PAID)) == 1


def test_out_of_order_newer_state_wins(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-300")
    link_customer(send, cast.acme, breeder, "cus_O1")
    now = int(time.time())
    older = sp.event(
        "customer.subscription.updated",
        sp.subscription("sub_O1", "cus_O1", status="active"),
        created=now - 60,
        previous_attributes={"status": "trialing"},
    )
    newer = sp.event(
        "customer.subscription.updated",
        sp.subscription("sub_O1", "cus_O1", status="past_due"),
        created=now - 30,
        previous_attributes={"status": "active"},
    )
    assert send(cast.acme, newer).status_code == 200
    assert send(cast.acme, older).status_code == 200

    subscription = subscription_of(cast.acme, "sub_O1")
    assert subscription.status == "past_due"
    assert subscription.last_event_at == datetime.fromtimestamp(now - 30, tz=UTC)
    assert stored(cast.acme, older["id"]).status == StripeEventStatus.PROCESSED
    summaries = [entry.summary for entry in entries(cast.acme, subscription=subscription)]
    assert summaries == [
        "Status changed from trialing to active",
        "Status changed from active to past_due",
    ]


# Both API shapes -----------------------------------------------------------------


def test_current_shape_subscription_state(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-400")
    link_customer(send, cast.acme, breeder, "cus_C1")
    period_end = int(time.time()) + 200 * sp.DAY
    yearly = sp.price(unit_amount=120000, interval="year", nickname="Breeder Pro yearly")
    obj = sp.subscription("sub_C1", "cus_C1", prices=[(yearly, 2)], period_end=period_end)
    response = send(cast.acme, sp.event("customer.subscription.created", obj))
    assert response.status_code == 200

    subscription = subscription_of(cast.acme, "sub_C1")
    assert subscription.breeder == breeder
    assert subscription.status == "active"
    assert subscription.plan == "Breeder Pro yearly"
    assert subscription.interval == "year"
    assert subscription.quantity == 2
    assert subscription.mrr_minor == 20000  # 2 × 1,200.00 a year = 200.00 a month
    assert subscription.currency == "usd"
    assert subscription.current_period_end == datetime.fromtimestamp(period_end, tz=UTC)
    [entry] = entries(cast.acme, kind=TimelineKind.SUBSCRIPTION_CREATED)
    assert entry.summary == "Subscribed to Breeder Pro yearly at 200.00 USD/month (active)"


def test_legacy_shape_subscription_state(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-500")
    link_customer(send, cast.acme, breeder, "cus_L1")
    period_end = int(time.time()) + 5 * sp.DAY
    weekly = sp.legacy_plan(amount=1000, interval="week", nickname="Weekly")
    obj = sp.legacy_subscription(
        "sub_L1", "cus_L1", plan=weekly, quantity=3, period_end=period_end, with_items=False
    )
    stripe_event = sp.event("customer.subscription.created", obj, api_version=sp.LEGACY_API_VERSION)
    assert send(cast.acme, stripe_event).status_code == 200

    subscription = subscription_of(cast.acme, "sub_L1")
    assert subscription.interval == "week"
    assert subscription.quantity == 3
    assert subscription.mrr_minor == 13000  # 3 × 10.00 a week × 52 / 12
    assert subscription.current_period_end == datetime.fromtimestamp(period_end, tz=UTC)


def test_invoice_paid_current_shape(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-600")
    link_customer(send, cast.acme, breeder, "cus_I1")
    send(cast.acme, sp.event("customer.subscription.created", sp.subscription("sub_I1", "cus_I1")))
    obj = sp.invoice("cus_I1", "sub_I1", amount=4900)
    assert send(cast.acme, sp.event("invoice.paid", obj)).status_code == 200

    [entry] = entries(cast.acme, kind=TimelineKind.INVOICE_PAID)
    assert entry.breeder == breeder
    assert entry.subscription == subscription_of(cast.acme, "sub_I1")
    assert entry.amount_minor == 4900
    assert entry.summary == f"Invoice {obj['number']} paid: 49.00 USD"


def test_payment_failed_legacy_shape(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-700")
    link_customer(send, cast.acme, breeder, "cus_F1")
    legacy = sp.legacy_subscription("sub_F1", "cus_F1")
    send(
        cast.acme,
        sp.event("customer.subscription.created", legacy, api_version=sp.LEGACY_API_VERSION),
    )
    retry_at = int(datetime(2031, 5, 4, 12, tzinfo=UTC).timestamp())
    obj = sp.legacy_invoice(
        "cus_F1", "sub_F1", paid=False, amount=2900, attempt_count=2, next_payment_attempt=retry_at
    )
    stripe_event = sp.event("invoice.payment_failed", obj, api_version=sp.LEGACY_API_VERSION)
    assert send(cast.acme, stripe_event).status_code == 200

    [entry] = entries(cast.acme, kind=TimelineKind.PAYMENT_FAILED)
    assert entry.subscription == subscription_of(cast.acme, "sub_F1")
    assert entry.amount_minor == 2900
    assert entry.data["attempt_count"] == 2
    assert "(attempt 2); Stripe retries on 4 May 2031" in entry.summary


def test_deleted_subscription_records_cancellation(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-800")
    link_customer(send, cast.acme, breeder, "cus_X2")
    now = int(time.time())
    obj = sp.subscription(
        "sub_X2",
        "cus_X2",
        status="canceled",
        canceled_at=now - 5,
        ended_at=now - 5,
        cancellation_details={
            "comment": "Moving to paper records",
            "feedback": "too_expensive",
            "reason": "cancellation_requested",
        },
    )
    assert send(cast.acme, sp.event("customer.subscription.deleted", obj)).status_code == 200

    subscription = subscription_of(cast.acme, "sub_X2")
    assert subscription.status == "canceled"
    assert subscription.cancellation_feedback == "too_expensive"
    with workspace_scope(cast.acme):
        cancellation = Cancellation.objects.get(external_id="sub_X2")
    assert cancellation.breeder == breeder
    assert cancellation.reason == "cancellation_requested"
    assert cancellation.comment == "Moving to paper records"
    assert cancellation.canceled_at == datetime.fromtimestamp(now - 5, tz=UTC)
    [entry] = entries(cast.acme, kind=TimelineKind.SUBSCRIPTION_CANCELED)
    assert "feedback: too_expensive" in entry.summary


def test_upgrade_entry_from_previous_attributes(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-900")
    link_customer(send, cast.acme, breeder, "cus_UP")
    basic = sp.price(unit_amount=1900, nickname="Basic")
    pro = sp.price(unit_amount=4900, nickname="Pro")
    before = sp.subscription("sub_UP", "cus_UP", prices=[(basic, 1)])
    after = sp.subscription("sub_UP", "cus_UP", prices=[(pro, 1)])
    stripe_event = sp.event(
        "customer.subscription.updated", after, previous_attributes={"items": before["items"]}
    )
    assert send(cast.acme, stripe_event).status_code == 200
    [entry] = entries(cast.acme, kind=TimelineKind.PLAN_UPGRADED)
    assert entry.summary == "Upgraded to Pro at 49.00 USD/month from Basic at 19.00 USD/month"


def test_trial_will_end_entry(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-910")
    link_customer(send, cast.acme, breeder, "cus_TR")
    trial_end = int(datetime(2031, 2, 3, tzinfo=UTC).timestamp())
    obj = sp.subscription("sub_TR", "cus_TR", status="trialing", trial_end=trial_end)
    send(cast.acme, sp.event("customer.subscription.trial_will_end", obj))
    [entry] = entries(cast.acme, kind=TimelineKind.TRIAL_WILL_END)
    assert entry.summary == "Trial ends on 3 Feb 2031"
    assert subscription_of(cast.acme, "sub_TR").trial_end == datetime(2031, 2, 3, tzinfo=UTC)


def test_unhandled_type_stored_as_ignored(cast, send):
    stripe_event = sp.event("charge.succeeded", {"id": "ch_1", "object": "charge"})
    assert send(cast.acme, stripe_event).status_code == 200
    assert stored(cast.acme, stripe_event["id"]).status == StripeEventStatus.IGNORED


def test_broken_object_marked_failed(cast, send):
    breeder = make_breeder(cast.acme, external_id="user-920")
    link_customer(send, cast.acme, breeder, "cus_BR")
    obj = sp.subscription("sub_BR", "cus_BR")
    del obj["status"]
    stripe_event = sp.event("customer.subscription.created", obj)
    assert send(cast.acme, stripe_event).status_code == 200
    event = stored(cast.acme, stripe_event["id"])
    assert event.status == StripeEventStatus.FAILED
    assert "StripePayloadError" in event.last_error
    with workspace_scope(cast.acme):
        assert not Subscription.objects.exists()


# Matching breeders ---------------------------------------------------------------


def test_breeder_matched_by_email_ignoring_case(cast, send):
    breeder = make_breeder(cast.acme, external_id="", email="Morph.Maker@example.com")
    stripe_event = sp.event(
        "customer.created", sp.customer("cus_E1", email="morph.maker@EXAMPLE.com")
    )
    send(cast.acme, stripe_event)
    with workspace_scope(cast.acme):
        assert StripeCustomer.objects.get(customer_id="cus_E1").breeder == breeder


def test_metadata_wins_over_email(cast, send):
    by_email = make_breeder(cast.acme, external_id="user-a", email="shared@example.com")
    by_metadata = make_breeder(cast.acme, external_id="user-b", email="other@example.com")
    obj = sp.customer("cus_M1", email="shared@example.com", user_id="user-b")
    send(cast.acme, sp.event("customer.created", obj))
    with workspace_scope(cast.acme):
        link = StripeCustomer.objects.get(customer_id="cus_M1")
    assert link.breeder == by_metadata
    assert link.breeder != by_email


def test_unmatched_events_applied_when_breeder_appears(
    cast, send, django_capture_on_commit_callbacks
):
    now = int(time.time())
    customer_event = sp.event(
        "customer.created", sp.customer("cus_W1", email="late@example.com"), created=now - 20
    )
    subscription_event = sp.event(
        "customer.subscription.created", sp.subscription("sub_W1", "cus_W1"), created=now - 10
    )
    send(cast.acme, customer_event)
    send(cast.acme, subscription_event)
    assert stored(cast.acme, customer_event["id"]).status == StripeEventStatus.UNMATCHED
    assert stored(cast.acme, subscription_event["id"]).status == StripeEventStatus.UNMATCHED
    assert (
        "no breeder has email 'late@example.com'"
        in stored(cast.acme, customer_event["id"]).last_error
    )

    with django_capture_on_commit_callbacks(execute=True):
        breeder = make_breeder(cast.acme, email="late@example.com")

    assert stored(cast.acme, customer_event["id"]).status == StripeEventStatus.PROCESSED
    assert stored(cast.acme, subscription_event["id"]).status == StripeEventStatus.PROCESSED
    assert subscription_of(cast.acme, "sub_W1").breeder == breeder


# Tenant isolation ----------------------------------------------------------------


def test_workspace_endpoint_never_touches_other_workspace(cast, send):
    globex_breeder = cast.globex_breeder
    obj = sp.customer("cus_G1", email=globex_breeder.email, user_id=globex_breeder.external_id)
    send(cast.acme, sp.event("customer.created", obj))
    subscription = sp.subscription(
        "sub_G1", "cus_G1", metadata={"reptidex_user_id": globex_breeder.external_id}
    )
    sub_event = sp.event("customer.subscription.created", subscription)
    send(cast.acme, sub_event)

    assert stored(cast.acme, sub_event["id"]).status == StripeEventStatus.UNMATCHED
    with workspace_scope(cast.globex):
        assert not Subscription.objects.exists()
        assert not StripeCustomer.objects.exists()
        assert not StripeEvent.objects.exists()
    assert Subscription.unscoped_objects.count() == 0

    # The same event signed with Acme's secret cannot be delivered to Globex's endpoint.
    response = send(cast.globex, sub_event, secret=ACME_SECRET)
    assert response.status_code == 400
    with workspace_scope(cast.globex):
        assert not StripeEvent.objects.exists()


def test_same_stripe_ids_kept_apart_per_workspace(cast, send):
    acme_breeder = make_breeder(cast.acme, external_id="shared-user")
    globex_breeder = make_breeder(cast.globex, external_id="shared-user")
    customer_event = sp.event("customer.created", sp.customer("cus_SH", user_id="shared-user"))
    assert send(cast.acme, customer_event).status_code == 200
    response = send(cast.globex, customer_event, secret=GLOBEX_SECRET)
    assert response.json()["duplicate"] is False
    with workspace_scope(cast.acme):
        assert StripeCustomer.objects.get(customer_id="cus_SH").breeder == acme_breeder
    with workspace_scope(cast.globex):
        assert StripeCustomer.objects.get(customer_id="cus_SH").breeder == globex_breeder


# Re-queueing ---------------------------------------------------------------------


def test_requeue_job_processes_stale_pending_events(cast, endpoints):
    breeder = make_breeder(cast.acme, external_id="user-q")
    stripe_event = sp.event("customer.created", sp.customer("cus_Q1", user_id="user-q"))
    # Stored without its task, as after a broker outage.
    stored_event = billing.store_event(
        StripeEndpoint.unscoped_objects.get(workspace=cast.acme), stripe_event
    )
    assert stored_event.status == StripeEventStatus.PENDING
    assert stored(cast.acme, stripe_event["id"]).status == StripeEventStatus.PENDING

    assert requeue_stripe_events_everywhere() == 0  # too recent to be called lost
    with workspace_scope(cast.acme):
        StripeEvent.objects.update(received_at=timezone.now() - timedelta(minutes=6))
    assert requeue_stripe_events_everywhere() == 1
    assert stored(cast.acme, stripe_event["id"]).status == StripeEventStatus.PROCESSED
    with workspace_scope(cast.acme):
        assert StripeCustomer.objects.get(customer_id="cus_Q1").breeder == breeder


def test_requeue_job_in_beat_schedule():
    entry = BEAT_SCHEDULE["requeue-stripe-events"]
    assert entry["task"] == requeue_stripe_events_everywhere.name
    assert entry["schedule"] == timedelta(minutes=5)


def test_failed_event_processed_again(cast, send, django_capture_on_commit_callbacks):
    make_breeder(cast.acme, external_id="user-again")
    stripe_event = sp.event("customer.created", sp.customer("cus_AG", user_id="user-again"))
    send(cast.acme, stripe_event)
    with workspace_scope(cast.acme):
        StripeEvent.objects.update(status=StripeEventStatus.FAILED, last_error="boom")
        StripeCustomer.objects.all().delete()
        with django_capture_on_commit_callbacks(execute=True):
            queued = billing.process_events_again(StripeEvent.objects.all())
    assert queued == 1
    event = stored(cast.acme, stripe_event["id"])
    assert event.status == StripeEventStatus.PROCESSED
    assert event.last_error == ""
    with workspace_scope(cast.acme):
        assert StripeCustomer.objects.filter(customer_id="cus_AG").exists()


# The real worker -----------------------------------------------------------------


@pytest.mark.worker
def test_worker_applies_delivered_event(cast, celery_worker):
    billing.set_stripe_signing_secret(cast.acme, secret=ACME_SECRET, actor=cast.alice)
    breeder = make_breeder(cast.acme, external_id="user-worker")
    customer_event = sp.event("customer.created", sp.customer("cus_WK", user_id="user-worker"))
    subscription_event = sp.event(
        "customer.subscription.created", sp.subscription("sub_WK", "cus_WK")
    )
    client = Client()
    assert sp.deliver(client, cast.acme, customer_event, ACME_SECRET).status_code == 200

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if stored(cast.acme, customer_event["id"]).status == StripeEventStatus.PROCESSED:
            break
        time.sleep(0.1)
    assert stored(cast.acme, customer_event["id"]).status == StripeEventStatus.PROCESSED

    assert sp.deliver(client, cast.acme, subscription_event, ACME_SECRET).status_code == 200
    while time.monotonic() < deadline:
        with workspace_scope(cast.acme):
            if Subscription.objects.filter(external_id="sub_WK").exists():
                break
        time.sleep(0.1)
    assert subscription_of(cast.acme, "sub_WK").breeder == breeder
