"""Stripe objects, event envelopes and signed deliveries for the Stripe tests.

The objects follow the field layout of Stripe's API reference in two versions. In the
current shape (API 2025-03-31 and later) each subscription item has its own period end,
and an invoice names its subscription under `parent.subscription_details`. In the older
shape the period end, `plan` and `quantity` sit on the subscription, and an invoice has
a top-level `subscription`. Only the fields a webhook consumer reads, plus enough
neighbours to look real, are filled in.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

from django.test import Client
from django.urls import reverse

from accounts.models import Workspace

CURRENT_API_VERSION = "2025-03-31.basil"
LEGACY_API_VERSION = "2020-08-27"
DAY = 24 * 60 * 60

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}_Test{next(_ids):010d}"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Compute a `Stripe-Signature` header the way Stripe does.

    The v1 signature is the hex HMAC-SHA256, keyed with the endpoint's secret, of
    "<timestamp>.<raw body>".
    """
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def customer(
    customer_id: str, *, email: str | None = None, user_id: str | None = None, created: int = 0
) -> dict[str, Any]:
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created or int(time.time()) - DAY,
        "currency": "usd",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": email,
        "invoice_prefix": "A1B2C3D4",
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
        "livemode": False,
        "metadata": {"reptidex_user_id": user_id} if user_id else {},
        "name": "Test Breeder",
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def price(
    *,
    unit_amount: int = 2900,
    currency: str = "usd",
    interval: str = "month",
    interval_count: int = 1,
    nickname: str | None = "Pro",
    usage_type: str = "licensed",
) -> dict[str, Any]:
    return {
        "id": next_id("price"),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": int(time.time()) - 30 * DAY,
        "currency": currency,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": nickname,
        "product": next_id("prod"),
        "recurring": {
            "interval": interval,
            "interval_count": interval_count,
            "meter": None,
            "usage_type": usage_type,
            "trial_period_days": None,
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def legacy_plan(
    *,
    amount: int = 2900,
    currency: str = "usd",
    interval: str = "month",
    interval_count: int = 1,
    nickname: str | None = "Pro",
) -> dict[str, Any]:
    return {
        "id": next_id("plan"),
        "object": "plan",
        "active": True,
        "aggregate_usage": None,
        "amount": amount,
        "amount_decimal": str(amount),
        "billing_scheme": "per_unit",
        "created": int(time.time()) - 30 * DAY,
        "currency": currency,
        "interval": interval,
        "interval_count": interval_count,
        "livemode": False,
        "metadata": {},
        "nickname": nickname,
        "product": next_id("prod"),
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def _subscription_base(
    subscription_id: str,
    customer_id: str,
    *,
    status: str,
    currency: str,
    cancel_at_period_end: bool,
    trial_end: int | None,
    canceled_at: int | None,
    ended_at: int | None,
    cancellation_details: dict[str, Any] | None,
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": subscription_id,
        "object": "subscription",
        "application": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": now - 10 * DAY,
        "cancel_at": None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": canceled_at,
        "cancellation_details": cancellation_details
        or {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": now - 10 * DAY,
        "currency": currency,
        "customer": customer_id,
        "days_until_due": None,
        "default_payment_method": None,
        "description": None,
        "discounts": [],
        "ended_at": ended_at,
        "latest_invoice": next_id("in"),
        "livemode": False,
        "metadata": metadata or {},
        "pending_update": None,
        "schedule": None,
        "start_date": now - 10 * DAY,
        "status": status,
        "test_clock": None,
        "trial_end": trial_end,
        "trial_start": None,
    }


def subscription(
    subscription_id: str,
    customer_id: str,
    *,
    status: str = "active",
    prices: list[tuple[dict[str, Any], int]] | None = None,
    period_end: int | None = None,
    currency: str = "usd",
    cancel_at_period_end: bool = False,
    trial_end: int | None = None,
    canceled_at: int | None = None,
    ended_at: int | None = None,
    cancellation_details: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A subscription in the current shape: each item has its own billing period."""
    now = int(time.time())
    period_end = period_end or now + 20 * DAY
    prices = prices or [(price(), 1)]
    obj = _subscription_base(
        subscription_id,
        customer_id,
        status=status,
        currency=currency,
        cancel_at_period_end=cancel_at_period_end,
        trial_end=trial_end,
        canceled_at=canceled_at,
        ended_at=ended_at,
        cancellation_details=cancellation_details,
        metadata=metadata,
    )
    obj["items"] = {
        "object": "list",
        "data": [
            {
                "id": next_id("si"),
                "object": "subscription_item",
                "created": now - 10 * DAY,
                "current_period_start": period_end - 30 * DAY,
                "current_period_end": period_end,
                "discounts": [],
                "metadata": {},
                "price": item_price,
                "quantity": quantity,
                "subscription": subscription_id,
                "tax_rates": [],
            }
            for item_price, quantity in prices
        ],
        "has_more": False,
        "total_count": len(prices),
        "url": f"/v1/subscription_items?subscription={subscription_id}",
    }
    return obj


def legacy_subscription(
    subscription_id: str,
    customer_id: str,
    *,
    status: str = "active",
    plan: dict[str, Any] | None = None,
    quantity: int = 1,
    period_end: int | None = None,
    with_items: bool = True,
    currency: str = "usd",
    cancel_at_period_end: bool = False,
    trial_end: int | None = None,
    canceled_at: int | None = None,
    ended_at: int | None = None,
    cancellation_details: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A subscription in the older shape: one plan, quantity and period on the subscription."""
    now = int(time.time())
    period_end = period_end or now + 20 * DAY
    plan = plan or legacy_plan()
    obj = _subscription_base(
        subscription_id,
        customer_id,
        status=status,
        currency=currency,
        cancel_at_period_end=cancel_at_period_end,
        trial_end=trial_end,
        canceled_at=canceled_at,
        ended_at=ended_at,
        cancellation_details=cancellation_details,
        metadata=metadata,
    )
    obj.update(
        {
            "current_period_start": period_end - 30 * DAY,
            "current_period_end": period_end,
            "plan": plan,
            "quantity": quantity,
        }
    )
    if with_items:
        obj["items"] = {
            "object": "list",
            "data": [
                {
                    "id": next_id("si"),
                    "object": "subscription_item",
                    "created": now - 10 * DAY,
                    "metadata": {},
                    "plan": plan,
                    "quantity": quantity,
                    "subscription": subscription_id,
                    "tax_rates": [],
                }
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        }
    return obj


def _invoice_base(
    customer_id: str,
    *,
    paid: bool,
    amount: int,
    attempt_count: int,
    next_payment_attempt: int | None,
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": next_id("in"),
        "object": "invoice",
        "account_country": "US",
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "attempt_count": attempt_count,
        "attempted": True,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": now - 60,
        "currency": "usd",
        "customer": customer_id,
        "customer_email": None,
        "hosted_invoice_url": None,
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": next_payment_attempt,
        "number": f"INV-{next(_ids):04d}",
        "period_end": now,
        "period_start": now - 30 * DAY,
        "status": "paid" if paid else "open",
        "subtotal": amount,
        "total": amount,
    }


def invoice(
    customer_id: str,
    subscription_id: str,
    *,
    paid: bool = True,
    amount: int = 2900,
    attempt_count: int = 1,
    next_payment_attempt: int | None = None,
) -> dict[str, Any]:
    """An invoice in the current shape, linked to its subscription through `parent`."""
    obj = _invoice_base(
        customer_id,
        paid=paid,
        amount=amount,
        attempt_count=attempt_count,
        next_payment_attempt=next_payment_attempt,
    )
    obj["parent"] = {
        "quote_details": None,
        "subscription_details": {"metadata": {}, "subscription": subscription_id},
        "type": "subscription_details",
    }
    return obj


def legacy_invoice(
    customer_id: str,
    subscription_id: str,
    *,
    paid: bool = True,
    amount: int = 2900,
    attempt_count: int = 1,
    next_payment_attempt: int | None = None,
) -> dict[str, Any]:
    """An invoice in the older shape, with a top-level `subscription`."""
    obj = _invoice_base(
        customer_id,
        paid=paid,
        amount=amount,
        attempt_count=attempt_count,
        next_payment_attempt=next_payment_attempt,
    )
    obj["subscription"] = subscription_id
    obj["paid"] = paid
    return obj


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    created: int | None = None,
    previous_attributes: dict[str, Any] | None = None,
    api_version: str = CURRENT_API_VERSION,
    event_id: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id or next_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": created or int(time.time()),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": next_id("req"), "idempotency_key": None},
        "type": event_type,
    }


def webhook_url(workspace: Workspace) -> str:
    return reverse("webhooks:stripe", args=[workspace.public_id])


def deliver(
    client: Client,
    workspace: Workspace,
    stripe_event: dict[str, Any],
    secret: str,
    *,
    timestamp: int | None = None,
    body: str | None = None,
) -> Any:
    """POST an event to the workspace's endpoint, signed over `body` (the event's JSON).

    Passing a different `body` than the signed one simulates a tampered delivery.
    """
    payload = json.dumps(stripe_event)
    header = sign(payload, secret, timestamp)
    return client.post(
        webhook_url(workspace),
        data=body if body is not None else payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
