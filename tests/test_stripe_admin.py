"""The billing pages of the configuration admin, with the cast. The owner configures the
Stripe endpoint and reads billing rows, a CSM is refused, and other workspaces' rows
look as if they did not exist."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.scope import workspace_scope
from lifecycle import billing
from lifecycle.models.billing import (
    BillingTimelineEntry,
    Cancellation,
    RecordSource,
    StripeCustomer,
    StripeEndpoint,
    StripeEvent,
    StripeEventStatus,
    Subscription,
    TimelineKind,
)

BILLING_MODELS = [
    "stripeendpoint",
    "stripeevent",
    "stripecustomer",
    "subscription",
    "cancellation",
    "billingtimelineentry",
]
SECRET = "whsec_admin_0123456789abcdefXYZ"


def admin_client(client_for, user, workspace_slug):
    client = client_for(user)
    # Opening a workspace page makes it the one the admin configures. The portfolio
    # redirects owners and admins without breeders of their own to every breeder.
    portfolio = reverse("health:portfolio", args=[workspace_slug])
    assert client.get(portfolio, follow=True).status_code == 200
    return client


def change_url(model, pk):
    return reverse(f"admin:lifecycle_{model}_change", args=[pk])


def make_billing_rows(workspace, breeder, suffix):
    """Create one row of each billing model in the workspace; returns them by model name."""
    now = timezone.now()
    with workspace_scope(workspace):
        subscription = Subscription.objects.create(
            breeder=breeder,
            external_id=f"sub_{suffix}",
            source=RecordSource.STRIPE,
            status="active",
            plan=f"Plan {suffix}",
        )
        return {
            "stripeendpoint": StripeEndpoint.objects.create(workspace=workspace),
            "stripeevent": StripeEvent.objects.create(
                stripe_id=f"evt_{suffix}",
                type="customer.created",
                stripe_created=now,
                payload={"data": {"object": {}}},
            ),
            "stripecustomer": StripeCustomer.objects.create(
                customer_id=f"cus_{suffix}", breeder=breeder
            ),
            "subscription": subscription,
            "cancellation": Cancellation.objects.create(
                breeder=breeder,
                external_id=f"churn_{suffix}",
                source=RecordSource.IMPORT,
                canceled_at=now,
            ),
            "billingtimelineentry": BillingTimelineEntry.objects.create(
                breeder=breeder,
                kind=TimelineKind.INVOICE_PAID,
                occurred_at=now,
                summary=f"Invoice {suffix} paid",
                source_key=f"test:{suffix}",
            ),
        }


@pytest.mark.parametrize("model", BILLING_MODELS)
def test_owner_opens_billing_changelists(cast, client_for, model):
    make_billing_rows(cast.acme, cast.acme_breeder, "acme")
    client = admin_client(client_for, cast.alice, "acme")
    assert client.get(reverse(f"admin:lifecycle_{model}_changelist")).status_code == 200


@pytest.mark.parametrize("model", BILLING_MODELS)
def test_owner_opens_own_rows(cast, client_for, model):
    rows = make_billing_rows(cast.acme, cast.acme_breeder, "acme")
    client = admin_client(client_for, cast.alice, "acme")
    assert client.get(change_url(model, rows[model].pk)).status_code == 200


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_members_without_configure_refused(cast, client_for, who):
    rows = make_billing_rows(cast.acme, cast.acme_breeder, "acme")
    client = admin_client(client_for, getattr(cast, who), "acme")
    response = client.get(reverse("admin:lifecycle_subscription_changelist"), follow=True)
    assert response.status_code == 403
    response = client.get(change_url("stripeendpoint", rows["stripeendpoint"].pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("model", BILLING_MODELS)
def test_other_workspace_rows_look_missing(cast, client_for, model):
    rows = make_billing_rows(cast.globex, cast.globex_breeder, "globex")
    client = admin_client(client_for, cast.alice, "acme")
    response = client.get(change_url(model, rows[model].pk))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_changelist_lists_only_own_workspace(cast, client_for):
    make_billing_rows(cast.acme, cast.acme_breeder, "acme")
    make_billing_rows(cast.globex, cast.globex_breeder, "globex")
    client = admin_client(client_for, cast.alice, "acme")
    content = client.get(reverse("admin:lifecycle_subscription_changelist")).content
    assert b"sub_acme" in content
    assert b"sub_globex" not in content


def test_signing_secret_set_once_and_hidden(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    response = client.post(
        reverse("admin:lifecycle_stripeendpoint_add"),
        {"signing_secret": SECRET, "previous_secret_hours": "24"},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(message) for message in response.context["messages"]]
    assert any("whsec_…fXYZ" in message and "not be shown again" in message for message in messages)
    assert SECRET.encode() not in response.content

    endpoint = StripeEndpoint.unscoped_objects.get(workspace=cast.acme)
    assert billing.accepted_signing_secrets(endpoint) == [SECRET]
    page = client.get(change_url("stripeendpoint", endpoint.pk)).content
    assert SECRET.encode() not in page
    assert str(cast.acme.public_id).encode() in page
    with workspace_scope(cast.acme):
        assert AuditEntry.objects.filter(action="stripe_endpoint.secret_set").count() == 1
    # One endpoint per workspace: the add page is closed once it exists.
    assert client.get(reverse("admin:lifecycle_stripeendpoint_add")).status_code == 403


def test_rotation_through_admin_keeps_old_secret(cast, client_for):
    billing.set_stripe_signing_secret(cast.acme, secret=SECRET, actor=cast.alice)
    endpoint = StripeEndpoint.unscoped_objects.get(workspace=cast.acme)
    client = admin_client(client_for, cast.alice, "acme")
    new_secret = "whsec_admin_rotated_000000000000"
    response = client.post(
        change_url("stripeendpoint", endpoint.pk),
        {"signing_secret": new_secret, "previous_secret_hours": "2"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert billing.accepted_signing_secrets(endpoint) == [new_secret, SECRET]
    expected_expiry = timezone.now() + timedelta(hours=2)
    assert endpoint.previous_secret_expires_at is not None
    assert abs(endpoint.previous_secret_expires_at - expected_expiry) < timedelta(minutes=1)


def test_endpoint_form_requires_secret_on_add(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    response = client.post(
        reverse("admin:lifecycle_stripeendpoint_add"),
        {"signing_secret": "", "previous_secret_hours": "24"},
    )
    assert response.status_code == 200
    assert b"Paste the endpoint&#x27;s signing secret" in response.content
    assert not StripeEndpoint.unscoped_objects.exists()


def test_process_again_action(cast, client_for, django_capture_on_commit_callbacks):
    rows = make_billing_rows(cast.acme, cast.acme_breeder, "acme")
    event = rows["stripeevent"]
    event.status = StripeEventStatus.FAILED
    event.save()
    client = admin_client(client_for, cast.alice, "acme")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:lifecycle_stripeevent_changelist"),
            {"action": "process_again", "_selected_action": [event.pk]},
        )
    assert response.status_code == 302
    event.refresh_from_db()
    # The customer object in this stored event is empty, so processing fails again, but
    # it ran: the attempt count went up.
    assert event.attempts == 1
    assert event.status == StripeEventStatus.FAILED


def test_event_page_is_view_only(cast, client_for):
    rows = make_billing_rows(cast.acme, cast.acme_breeder, "acme")
    client = admin_client(client_for, cast.alice, "acme")
    page = client.get(change_url("stripeevent", rows["stripeevent"].pk)).content
    assert b"evt_acme" in page
    assert b'name="_save"' not in page
