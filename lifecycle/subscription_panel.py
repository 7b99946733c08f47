"""The breeder's current subscription as the breeder 360 shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, F, IntegerField, Value, When
from django.utils import dateformat, timezone

from accounts.models import Breeder
from lifecycle.models.billing import (
    BillingTimelineEntry,
    Subscription,
    SubscriptionStatus,
    TimelineKind,
)
from lifecycle.money import format_minor

# Statuses of a subscription that still bills or may bill again. A breeder's current
# subscription is the newest of these, else the newest of any status.
LIVE_STATUSES = [
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
    SubscriptionStatus.INCOMPLETE,
]
PAYMENT_KINDS = [TimelineKind.INVOICE_PAID, TimelineKind.PAYMENT_FAILED]
# Payment states that need a human, shown with a warning mark.
PAYMENT_PROBLEMS = {
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.INCOMPLETE,
}


@dataclass(frozen=True)
class SubscriptionSummary:
    subscription: Subscription
    payment_state: str
    needs_attention: bool
    mrr: str
    renewal_label: str
    renewal_at: datetime | None
    last_payment: BillingTimelineEntry | None
    other_subscriptions: int


def current_subscription(breeder: Breeder) -> Subscription | None:
    """Return the breeder's newest live subscription, else their newest one of any status."""
    return (
        Subscription.objects.filter(breeder=breeder)
        .annotate(
            is_live=Case(
                When(status__in=LIVE_STATUSES, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("is_live", F("started_at").desc(nulls_last=True), "-pk")
        .first()
    )


def payment_state(subscription: Subscription) -> str:
    """Describe where the subscription's payments stand, in words for the panel."""
    status = subscription.status
    if status == SubscriptionStatus.ACTIVE:
        return "Paid up"
    if status == SubscriptionStatus.TRIALING:
        if subscription.trial_end is not None:
            return f"In trial until {_day(subscription.trial_end)}"
        return "In trial"
    if status == SubscriptionStatus.PAST_DUE:
        return "Past due: the last payment failed and Stripe is retrying it"
    if status == SubscriptionStatus.UNPAID:
        return "Unpaid: Stripe stopped retrying the failed payment"
    if status == SubscriptionStatus.INCOMPLETE:
        return "Incomplete: the first payment has not gone through"
    if status == SubscriptionStatus.INCOMPLETE_EXPIRED:
        return "Expired before the first payment went through"
    if status == SubscriptionStatus.PAUSED:
        return "Paused: no invoices until it resumes"
    ended = subscription.ended_at or subscription.canceled_at
    return f"Cancelled on {_day(ended)}" if ended else "Cancelled"


def _day(moment: datetime) -> str:
    return dateformat.format(timezone.localtime(moment), "j M Y")


def summarize(breeder: Breeder) -> SubscriptionSummary | None:
    """Summarize the current subscription in three queries, or return None if there is none."""
    subscription = current_subscription(breeder)
    if subscription is None:
        return None
    is_live = subscription.status in LIVE_STATUSES
    renewal_at = subscription.current_period_end if is_live else None
    if renewal_at is None:
        renewal_label = ""
    elif subscription.cancel_at_period_end or subscription.cancel_at is not None:
        renewal_at = subscription.cancel_at or renewal_at
        renewal_label = "Ends on"
    else:
        renewal_label = "Renews on"
    last_payment = (
        BillingTimelineEntry.objects.filter(breeder=breeder, kind__in=PAYMENT_KINDS)
        .order_by("-occurred_at", "-pk")
        .first()
    )
    return SubscriptionSummary(
        subscription=subscription,
        payment_state=payment_state(subscription),
        needs_attention=subscription.status in PAYMENT_PROBLEMS,
        mrr=format_minor(subscription.mrr_minor, subscription.currency),
        renewal_label=renewal_label,
        renewal_at=renewal_at,
        last_payment=last_payment,
        other_subscriptions=Subscription.objects.filter(breeder=breeder)
        .exclude(pk=subscription.pk)
        .count(),
    )
