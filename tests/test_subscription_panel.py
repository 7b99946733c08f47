"""The breeder 360's subscription panel with the cast: which subscription is current,
its payment state, MRR and renewal. Also the shell's slot for the programs panel."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.scope import workspace_scope
from lifecycle.models import BillingTimelineEntry, Subscription


def panel_url(breeder, slug="acme"):
    return reverse("lifecycle:subscription", args=[slug, breeder.public_id])


def subscription(cast, name, **fields):
    fields.setdefault("status", "active")
    fields.setdefault("started_at", timezone.now() - timedelta(days=60))
    with workspace_scope(cast.acme):
        return Subscription.objects.create(
            workspace=cast.acme,
            breeder=cast.acme_breeder,
            external_id=name,
            source="stripe",
            **fields,
        )


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_panel_for_members(cast, client_for, who):
    response = client_for(getattr(cast, who)).get(panel_url(cast.acme_breeder))
    assert response.status_code == 200
    assert "No subscription yet" in response.content.decode()


def test_panel_refuses_other_workspaces(cast, client_for):
    alice = client_for(cast.alice)
    assert alice.get(panel_url(cast.globex_breeder)).status_code == 404
    assert alice.get(panel_url(cast.acme_breeder, slug="globex")).status_code == 404
    assert client_for(cast.charlie).get(panel_url(cast.acme_breeder)).status_code == 404


def test_active_subscription(cast, client_for):
    renews = timezone.now() + timedelta(days=30)
    current = subscription(
        cast,
        "sub_new",
        plan="Breeder Pro",
        mrr_minor=4900,
        currency="usd",
        interval="month",
        current_period_end=renews,
    )
    subscription(
        cast,
        "sub_old",
        status="canceled",
        started_at=timezone.now() - timedelta(days=400),
        ended_at=timezone.now() - timedelta(days=100),
    )
    with workspace_scope(cast.acme):
        BillingTimelineEntry.objects.create(
            workspace=cast.acme,
            breeder=cast.acme_breeder,
            subscription=current,
            kind="invoice_paid",
            occurred_at=timezone.now() - timedelta(days=3),
            summary="Invoice paid: 49.00 USD",
            source_key="evt_paid",
        )

    content = client_for(cast.bob).get(panel_url(cast.acme_breeder)).content.decode()

    assert "Breeder Pro" in content
    assert "billed every month" in content
    assert "Paid up" in content
    assert "49.00 USD" in content
    assert "Renews on <time datetime=" in content
    assert f"{renews.day} {renews:%b %Y}" in content
    assert "Invoice paid: 49.00 USD" in content
    assert "1 earlier or other subscription on" in content


def test_past_due_needs_attention(cast, client_for):
    subscription(
        cast,
        "sub_due",
        status="past_due",
        cancel_at_period_end=True,
        current_period_end=timezone.now() + timedelta(days=5),
    )
    content = client_for(cast.bob).get(panel_url(cast.acme_breeder)).content.decode()
    assert "Past due: the last payment failed" in content
    assert 'class="payment-problem"' in content
    assert "Ends on" in content


def test_cancelled_subscription(cast, client_for):
    subscription(
        cast,
        "sub_gone",
        status="canceled",
        ended_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
        current_period_end=datetime(2026, 3, 2, 9, tzinfo=UTC),
    )
    content = client_for(cast.bob).get(panel_url(cast.acme_breeder)).content.decode()
    assert "Cancelled on 2 Mar 2026" in content
    assert "Renews on" not in content


def test_shell_loads_subscription_and_programs_panels(cast, client_for):
    detail = reverse("accounts:breeder_detail", args=["acme", cast.acme_breeder.public_id])
    content = client_for(cast.bob).get(detail).content.decode()
    assert f'hx-get="{panel_url(cast.acme_breeder)}"' in content
    programs = f"/w/acme/programs/breeders/{cast.acme_breeder.public_id}/panel/"
    assert f'hx-get="{programs}"' in content
