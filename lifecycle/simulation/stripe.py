"""Stripe objects and webhook events for simulated and replayed subscriptions.

The objects have the current API shape (version 2025-03-31 and later): a
subscription's period end is on its items, and an invoice names its subscription under
`parent.subscription_details`. Only the fields a webhook consumer reads, and a few
neighbours, are filled in. `sign_payload` computes the `Stripe-Signature` header the
way Stripe does, for deliveries to a workspace's webhook endpoint.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lifecycle.simulation.population import PLANS, BreederPlan, SubscriptionStory

API_VERSION = "2025-03-31.basil"


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """Return a `Stripe-Signature` header for `payload`.

    Stripe's v1 scheme: the hex HMAC-SHA256, keyed with the endpoint's signing secret,
    of "<timestamp>.<raw body>", sent as `t=<timestamp>,v1=<signature>`.
    """
    signed = str(timestamp).encode() + b"." + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def add_months(moment: datetime, months: int) -> datetime:
    """Add calendar months, keeping the day of the month where the month has it."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def next_period_end(moment: datetime, interval: str, count: int = 1) -> datetime:
    return add_months(moment, 12 * count if interval == "year" else count)


def price_object(
    *,
    price_id: str,
    nickname: str,
    product_id: str,
    unit_amount: int,
    interval: str,
    unit_amount_decimal: str | None = None,
) -> dict[str, Any]:
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "currency": "usd",
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": nickname,
        "product": product_id,
        "recurring": {
            "interval": interval,
            "interval_count": 1,
            "meter": None,
            "usage_type": "licensed",
            "trial_period_days": None,
        },
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount_decimal or str(unit_amount),
    }


def customer_object(
    customer_id: str, *, email: str, name: str, user_id: str, created: datetime
) -> dict[str, Any]:
    return {
        "id": customer_id,
        "object": "customer",
        "created": epoch(created),
        "currency": "usd",
        "delinquent": False,
        "email": email or None,
        "livemode": False,
        "metadata": {"reptidex_user_id": user_id},
        "name": name or None,
    }


@dataclass
class SubscriptionState:
    """A subscription's state between two events, rendered by `object()`."""

    subscription_id: str
    customer_id: str
    user_id: str
    created: datetime
    price: dict[str, Any]
    quantity: int
    status: str
    period_start: datetime
    period_end: datetime
    trial_end: datetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    ended_at: datetime | None = None
    cancellation_details: dict[str, Any] = field(
        default_factory=lambda: {"comment": None, "feedback": None, "reason": None}
    )
    latest_invoice: str | None = None

    def item(self) -> dict[str, Any]:
        return {
            "id": f"si_{self.subscription_id.removeprefix('sub_')}",
            "object": "subscription_item",
            "created": epoch(self.created),
            "current_period_start": epoch(self.period_start),
            "current_period_end": epoch(self.period_end),
            "price": self.price,
            "quantity": self.quantity,
            "subscription": self.subscription_id,
        }

    def object(self) -> dict[str, Any]:
        return {
            "id": self.subscription_id,
            "object": "subscription",
            "billing_cycle_anchor": epoch(self.period_start),
            "cancel_at": epoch(self.period_end) if self.cancel_at_period_end else None,
            "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": epoch(self.canceled_at) if self.canceled_at else None,
            "cancellation_details": dict(self.cancellation_details),
            "collection_method": "charge_automatically",
            "created": epoch(self.created),
            "currency": "usd",
            "customer": self.customer_id,
            "ended_at": epoch(self.ended_at) if self.ended_at else None,
            "items": {
                "object": "list",
                "data": [self.item()],
                "has_more": False,
                "total_count": 1,
            },
            "latest_invoice": self.latest_invoice,
            "livemode": False,
            "metadata": {"reptidex_user_id": self.user_id},
            "start_date": epoch(self.created),
            "status": self.status,
            "trial_end": epoch(self.trial_end) if self.trial_end else None,
            "trial_start": epoch(self.created) if self.trial_end else None,
        }

    def invoice(
        self,
        invoice_id: str,
        *,
        number: str,
        email: str,
        created: datetime,
        paid: bool,
        billing_reason: str,
        attempt_count: int = 1,
        next_attempt: datetime | None = None,
    ) -> dict[str, Any]:
        amount = int(self.price["unit_amount"]) * self.quantity
        return {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": amount,
            "amount_paid": amount if paid else 0,
            "amount_remaining": 0 if paid else amount,
            "attempt_count": attempt_count,
            "attempted": True,
            "billing_reason": billing_reason,
            "created": epoch(created),
            "currency": "usd",
            "customer": self.customer_id,
            "customer_email": email or None,
            "livemode": False,
            "next_payment_attempt": epoch(next_attempt) if next_attempt else None,
            "number": number,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "metadata": {"reptidex_user_id": self.user_id},
                    "subscription": self.subscription_id,
                },
            },
            "period_end": epoch(self.period_end),
            "period_start": epoch(self.period_start),
            "status": "paid" if paid else "open",
        }


def envelope(
    event_id: str,
    event_type: str,
    created: datetime,
    obj: dict[str, Any],
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wrap an object in a webhook event, as Stripe delivers it."""
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": epoch(created),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def plan_price(plan_key: str, interval: str) -> dict[str, Any]:
    plan = PLANS[plan_key]
    return price_object(
        price_id=f"price_demo_{plan.key}_{interval}",
        nickname=plan.name,
        product_id=f"prod_demo_{plan.key}",
        unit_amount=plan.prices[interval],
        interval=interval,
    )


class _Recorder:
    """Collects a subscription's events in order, with ids that depend only on that order."""

    def __init__(self, prefix: str, until: datetime) -> None:
        self.prefix = prefix
        self.until = until
        self.events: list[dict[str, Any]] = []
        self.count = 0
        self.invoices = 0

    def add(
        self,
        event_type: str,
        moment: datetime,
        obj: dict[str, Any],
        previous: dict[str, Any] | None = None,
    ) -> None:
        self.count += 1
        if moment <= self.until:
            event_id = f"evt_{self.prefix}_{self.count:03d}"
            self.events.append(envelope(event_id, event_type, moment, obj, previous))

    def next_invoice(self) -> tuple[str, str]:
        self.invoices += 1
        return f"in_{self.prefix}_{self.invoices:03d}", f"{self.prefix.upper()}-{self.invoices:04d}"


def subscription_events(plan: BreederPlan, seed: int, until: datetime) -> list[dict[str, Any]]:
    """Return the Stripe events of the breeder's subscription story up to `until`.

    Event ids and invoice numbers are counted along the whole story, so the same event
    gets the same id whatever `until` is.
    """
    story = plan.subscription
    if story is None or story.started_at > until:
        return []
    prefix = f"sim{seed}b{plan.number:04d}"
    record = _Recorder(prefix, until)
    state = SubscriptionState(
        subscription_id=f"sub_{prefix}",
        customer_id=f"cus_{prefix}",
        user_id=plan.external_id,
        created=story.started_at,
        price=plan_price(story.plan, story.interval),
        quantity=1,
        status="trialing" if story.trial_end else "active",
        period_start=story.started_at,
        period_end=story.trial_end or next_period_end(story.started_at, story.interval),
        trial_end=story.trial_end,
    )
    second = timedelta(seconds=1)

    def pay(moment: datetime, reason: str, invoice: tuple[str, str] | None = None) -> None:
        invoice_id, number = invoice or record.next_invoice()
        state.latest_invoice = invoice_id
        record.add(
            "invoice.paid",
            moment,
            state.invoice(
                invoice_id,
                number=number,
                email=plan.email,
                created=moment,
                paid=True,
                billing_reason=reason,
            ),
        )

    customer = customer_object(
        state.customer_id,
        email=plan.email,
        name=plan.name,
        user_id=plan.external_id,
        created=story.started_at - timedelta(minutes=2),
    )
    record.add("customer.created", story.started_at - timedelta(minutes=2), customer)
    record.add("customer.subscription.created", story.started_at, state.object())
    if state.status == "active":
        pay(story.started_at + second, "subscription_create")
    else:
        assert story.trial_end is not None
        record.add(
            "customer.subscription.trial_will_end",
            story.trial_end - timedelta(days=3),
            state.object(),
        )

    changed = False
    renewal = 0
    while state.period_end <= until:
        renewal_at = state.period_end
        if (
            story.change_at is not None
            and not changed
            and story.change_at < renewal_at
            and state.status == "active"
        ):
            changed = True
            previous_items = state.object()["items"]
            state.price = plan_price(story.change_to, story.interval)
            record.add(
                "customer.subscription.updated",
                story.change_at,
                state.object(),
                {"items": previous_items},
            )
        if story.cancel_requested_at is not None and story.cancel_requested_at < renewal_at:
            _cancel(record, state, story.cancel_requested_at, renewal_at, story)
            return record.events

        if state.status == "trialing":
            state.status = "active"
            state.period_start = renewal_at
            state.period_end = next_period_end(renewal_at, story.interval)
            record.add(
                "customer.subscription.updated",
                renewal_at,
                state.object(),
                {"status": "trialing"},
            )
            pay(renewal_at + second, "subscription_cycle")
            continue

        renewal += 1
        state.period_start = renewal_at
        state.period_end = next_period_end(renewal_at, story.interval)
        if story.failed_renewal == renewal:
            invoice = _failed_payment(record, state, plan, story.recovers_after_days, renewal_at)
            if story.recovers_after_days is None:
                return record.events
            recovered_at = renewal_at + timedelta(days=story.recovers_after_days)
            pay(recovered_at, "subscription_cycle", invoice)
            record.add(
                "customer.subscription.updated",
                recovered_at + second,
                _with_status(state, "active"),
                {"status": "past_due"},
            )
            continue
        previous_invoice = state.latest_invoice
        pay(renewal_at, "subscription_cycle")
        record.add(
            "customer.subscription.updated",
            renewal_at + second,
            state.object(),
            {"latest_invoice": previous_invoice},
        )
    if story.cancel_requested_at is not None and story.cancel_requested_at <= until:
        _cancel(record, state, story.cancel_requested_at, state.period_end, story)
    return record.events


def _with_status(state: SubscriptionState, status: str) -> dict[str, Any]:
    state.status = status
    return state.object()


def _failed_payment(
    record: _Recorder,
    state: SubscriptionState,
    plan: BreederPlan,
    recovers_after_days: int | None,
    renewal_at: datetime,
) -> tuple[str, str]:
    """Record a failed renewal payment and its retries; return the invoice's id and number.

    Stripe retries a failed payment (here 3, 8 and 15 days after the first attempt) and,
    with the default settings, cancels the subscription after the last failed retry.
    Without `recovers_after_days` the subscription is canceled that way; otherwise the
    retries stop at that day, where the caller records the payment.
    """
    invoice_id, number = record.next_invoice()
    state.latest_invoice = invoice_id
    retry_days = [0, 3, 8, 15]
    for attempt, days in enumerate(retry_days, start=1):
        moment = renewal_at + timedelta(days=days)
        if recovers_after_days is not None and days >= recovers_after_days:
            return invoice_id, number
        last = attempt == len(retry_days)
        next_attempt = None if last else renewal_at + timedelta(days=retry_days[attempt])
        record.add(
            "invoice.payment_failed",
            moment,
            state.invoice(
                invoice_id,
                number=number,
                email=plan.email,
                created=renewal_at,
                paid=False,
                billing_reason="subscription_cycle",
                attempt_count=attempt,
                next_attempt=next_attempt,
            ),
        )
        if attempt == 1:
            record.add(
                "customer.subscription.updated",
                moment + timedelta(seconds=1),
                _with_status(state, "past_due"),
                {"status": "active"},
            )
    end = renewal_at + timedelta(days=retry_days[-1], seconds=2)
    state.status = "canceled"
    state.canceled_at = end
    state.ended_at = end
    state.cancellation_details = {"comment": None, "feedback": None, "reason": "payment_failed"}
    record.add("customer.subscription.deleted", end, state.object())
    return invoice_id, number


def _cancel(
    record: _Recorder,
    state: SubscriptionState,
    requested_at: datetime,
    ends_at: datetime,
    story: SubscriptionStory,
) -> None:
    """Record a cancellation requested by the breeder, effective at the period's end."""
    state.cancel_at_period_end = True
    state.canceled_at = requested_at
    state.cancellation_details = {
        "comment": story.comment or None,
        "feedback": story.feedback or None,
        "reason": "cancellation_requested",
    }
    record.add(
        "customer.subscription.updated",
        requested_at,
        state.object(),
        {"cancel_at_period_end": False, "canceled_at": None},
    )
    state.status = "canceled"
    state.ended_at = ends_at
    record.add("customer.subscription.deleted", ends_at, state.object())
