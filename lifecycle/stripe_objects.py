"""Read Stripe subscription, invoice and customer objects in both API shapes.

Stripe moved some fields in API version 2025-03-31 ("basil"):

- a subscription's period end moved from `current_period_end` on the subscription to
  `current_period_end` on each item in `items.data`;
- an invoice names its subscription in `parent.subscription_details.subscription`
  instead of a top-level `subscription`.

An endpoint pinned to an older API version still receives the older shape, in which a
subscription also carries a single `plan` (with `amount`) and `quantity`. The functions
here accept either shape and never call the Stripe API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# Months per billing interval, to turn any price into a monthly amount. A year counts as
# 12 months, 52 weeks or 365 days.
MONTHS_PER_INTERVAL: dict[str, Decimal] = {
    "month": Decimal(1),
    "year": Decimal(12),
    "week": Decimal(12) / Decimal(52),
    "day": Decimal(12) / Decimal(365),
}


class StripePayloadError(ValueError):
    """A Stripe object lacks a field this code needs, or has one of the wrong type."""


def to_datetime(epoch_seconds: Any) -> datetime | None:
    """Turn a Stripe timestamp (seconds since the epoch, UTC) into an aware datetime."""
    if epoch_seconds is None:
        return None
    if isinstance(epoch_seconds, bool) or not isinstance(epoch_seconds, int):
        raise StripePayloadError(f"Expected a Unix timestamp, got {epoch_seconds!r}.")
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def object_id(value: Any) -> str:
    """Return the id of a field that is either an id string or an expanded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return ""


def metadata_of(obj: dict[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def monthly_amount(
    unit_amount: Decimal, *, quantity: int, interval: str, interval_count: int
) -> Decimal:
    """Return the monthly amount, in minor units, of a recurring price.

    `unit_amount` is the price per unit per billing period in minor units; the period
    is `interval_count` times `interval` (every 3 months, say).
    """
    if interval not in MONTHS_PER_INTERVAL:
        raise StripePayloadError(f"Unknown billing interval {interval!r}.")
    months = MONTHS_PER_INTERVAL[interval] * max(interval_count, 1)
    return unit_amount * quantity / months


def round_minor(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class PriceLine:
    """One recurring price on a subscription: an item, or the legacy top-level plan."""

    price_id: str
    plan_name: str
    unit_amount: Decimal | None
    currency: str
    interval: str
    interval_count: int
    quantity: int
    usage_type: str
    current_period_end: datetime | None


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise StripePayloadError(f"Expected an amount, got {value!r}.") from None


def _price_line(price: dict[str, Any], *, quantity: Any, period_end: Any) -> PriceLine:
    """Read a `price` object (current shape) or a `plan` object (legacy shape)."""
    recurring = price.get("recurring") if isinstance(price.get("recurring"), dict) else None
    if recurring is not None:
        interval = recurring.get("interval") or ""
        interval_count = recurring.get("interval_count") or 1
        usage_type = recurring.get("usage_type") or "licensed"
        unit_amount = _decimal(price.get("unit_amount_decimal") or price.get("unit_amount"))
    else:
        # A legacy plan object keeps the interval and amount at its top level.
        interval = price.get("interval") or ""
        interval_count = price.get("interval_count") or 1
        usage_type = price.get("usage_type") or "licensed"
        unit_amount = _decimal(price.get("amount_decimal") or price.get("amount"))
    product = price.get("product")
    product_name = product.get("name", "") if isinstance(product, dict) else ""
    plan_name = (
        price.get("nickname")
        or product_name
        or price.get("lookup_key")
        or object_id(product)
        or price.get("id")
        or ""
    )
    return PriceLine(
        price_id=price.get("id") or "",
        plan_name=str(plan_name),
        unit_amount=unit_amount,
        currency=(price.get("currency") or "").lower(),
        interval=str(interval),
        interval_count=int(interval_count),
        quantity=int(quantity if quantity is not None else 1),
        usage_type=str(usage_type),
        current_period_end=to_datetime(period_end),
    )


def price_lines(subscription: dict[str, Any]) -> list[PriceLine]:
    """Return the subscription's recurring prices, from its items or its legacy plan."""
    items = subscription.get("items")
    item_list = items.get("data") if isinstance(items, dict) else None
    lines: list[PriceLine] = []
    for item in item_list or []:
        price = item.get("price") or item.get("plan")
        if not isinstance(price, dict):
            continue
        lines.append(
            _price_line(
                price,
                quantity=item.get("quantity"),
                period_end=item.get("current_period_end"),
            )
        )
    if not lines and isinstance(subscription.get("plan"), dict):
        lines.append(
            _price_line(
                subscription["plan"],
                quantity=subscription.get("quantity"),
                period_end=None,
            )
        )
    return lines


@dataclass(frozen=True)
class SubscriptionState:
    """The fields of our Subscription model, read from a Stripe subscription."""

    subscription_id: str
    customer_id: str
    status: str
    plan: str
    price_id: str
    interval: str
    interval_count: int
    quantity: int
    mrr_minor: int
    currency: str
    started_at: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    cancel_at: datetime | None
    trial_end: datetime | None
    canceled_at: datetime | None
    ended_at: datetime | None
    cancellation_reason: str
    cancellation_feedback: str
    cancellation_comment: str
    metadata: dict[str, str]


def subscription_state(subscription: dict[str, Any]) -> SubscriptionState:
    """Read a Stripe subscription object of either API shape."""
    subscription_id = subscription.get("id")
    status = subscription.get("status")
    if not isinstance(subscription_id, str) or not isinstance(status, str):
        raise StripePayloadError("A subscription needs a string `id` and `status`.")
    lines = price_lines(subscription)

    # MRR counts licensed (per-seat) prices only. NOTE: metered prices bill for usage
    # after the fact, tiered prices have no unit amount and discounts are not applied,
    # so the MRR of such subscriptions is lower than what Stripe will invoice.
    mrr = Decimal(0)
    for line in lines:
        if line.usage_type != "licensed" or line.unit_amount is None or not line.interval:
            continue
        mrr += monthly_amount(
            line.unit_amount,
            quantity=line.quantity,
            interval=line.interval,
            interval_count=line.interval_count,
        )

    # The current shape keeps the period end on each item. When items renew on different
    # days, the subscription is paid up to the latest of them.
    item_period_ends = [line.current_period_end for line in lines if line.current_period_end]
    period_end = (
        max(item_period_ends)
        if item_period_ends
        else to_datetime(subscription.get("current_period_end"))
    )

    first = lines[0] if lines else None
    details = subscription.get("cancellation_details")
    details = details if isinstance(details, dict) else {}
    return SubscriptionState(
        subscription_id=subscription_id,
        customer_id=object_id(subscription.get("customer")),
        status=status,
        plan=first.plan_name if first else "",
        price_id=first.price_id if first else "",
        interval=first.interval if first else "",
        interval_count=first.interval_count if first else 1,
        quantity=sum(line.quantity for line in lines) if lines else 1,
        mrr_minor=round_minor(mrr),
        currency=(subscription.get("currency") or (first.currency if first else "")).lower(),
        started_at=to_datetime(subscription.get("start_date") or subscription.get("created")),
        current_period_end=period_end,
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
        cancel_at=to_datetime(subscription.get("cancel_at")),
        trial_end=to_datetime(subscription.get("trial_end")),
        canceled_at=to_datetime(subscription.get("canceled_at")),
        ended_at=to_datetime(subscription.get("ended_at")),
        cancellation_reason=details.get("reason") or "",
        cancellation_feedback=details.get("feedback") or "",
        cancellation_comment=details.get("comment") or "",
        metadata=metadata_of(subscription),
    )


def invoice_subscription_id(invoice: dict[str, Any]) -> str:
    """Return the id of the subscription an invoice bills, or "" for one-off invoices."""
    parent = invoice.get("parent")
    if isinstance(parent, dict):
        details = parent.get("subscription_details")
        if isinstance(details, dict):
            found = object_id(details.get("subscription"))
            if found:
                return found
    return object_id(invoice.get("subscription"))
