"""Apply stored Stripe events to customers, subscriptions, cancellations and the billing
timeline.

Each event is applied at most once at a time: `process_stored_event` locks the event
row (`SELECT … FOR UPDATE SKIP LOCKED`) and skips events already processed, so a
duplicate task, a re-queued event and a retry are harmless. Events can arrive in any
order; a subscription keeps the `created` time of the newest event applied to it, and
an older event changes nothing but still adds its entry to the timeline.

Breeder matching, within the event's workspace only:

1. customer events: `metadata.reptidex_user_id` equal to a breeder's external id, then
   the customer's email equal to exactly one breeder's email (ignoring case). The match
   is stored as a StripeCustomer link;
2. subscription and invoice events: the customer's stored link, then the object's own
   `metadata.reptidex_user_id`, then (invoices only) `customer_email`.

An event with no match is kept as `unmatched` and applied again when a breeder is
saved in the workspace or the customer gets linked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Breeder
from accounts.tasks import TRANSIENT_ERRORS
from lifecycle.models.billing import (
    BillingTimelineEntry,
    Cancellation,
    RecordSource,
    StripeCustomer,
    StripeEvent,
    StripeEventStatus,
    Subscription,
    TimelineKind,
)
from lifecycle.money import format_minor
from lifecycle.stripe_objects import (
    StripePayloadError,
    SubscriptionState,
    invoice_subscription_id,
    metadata_of,
    object_id,
    subscription_state,
    to_datetime,
)

logger = logging.getLogger(__name__)

BREEDER_METADATA_KEY = "reptidex_user_id"

CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated"})
SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
    }
)
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed"})
HANDLED_EVENT_TYPES = CUSTOMER_EVENTS | SUBSCRIPTION_EVENTS | INVOICE_EVENTS

# Statuses from which an event may still be applied.
OPEN_STATUSES = (StripeEventStatus.PENDING, StripeEventStatus.UNMATCHED)

# Changes to these subscription fields earn a timeline entry on customer.subscription.updated.
SIGNIFICANT_FIELDS = frozenset(
    {"status", "items", "plan", "quantity", "cancel_at_period_end", "cancel_at", "trial_end"}
)


@dataclass(frozen=True)
class Outcome:
    status: str
    note: str = ""
    linked_customer_id: str = ""


def event_customer_id(event_type: str, obj: dict[str, Any]) -> str:
    """Return the Stripe customer id an event concerns."""
    if event_type in CUSTOMER_EVENTS:
        return object_id(obj)
    return object_id(obj.get("customer"))


# Matching ---------------------------------------------------------------------------


def find_breeder(*, user_id: str, email: str) -> tuple[Breeder | None, str]:
    """Find the breeder with this external id, else the one breeder with this email.

    Returns the breeder, or None and the reason there is no match.
    """
    if user_id:
        breeder = Breeder.objects.filter(external_id=user_id).first()
        if breeder is not None:
            return breeder, ""
    if email:
        # Lower(email) matches the breeder_ws_email_idx index expression.
        matches = list(
            Breeder.objects.alias(email_lower=Lower("email")).filter(email_lower=email.lower())[:2]
        )
        if len(matches) == 1:
            return matches[0], ""
        if len(matches) > 1:
            return (
                None,
                f"several breeders have the email {email}; set metadata.{BREEDER_METADATA_KEY} "
                "on the Stripe customer",
            )
    criteria = []
    if user_id:
        criteria.append(f"external id {user_id!r}")
    if email:
        criteria.append(f"email {email!r}")
    if not criteria:
        return None, (
            f"the Stripe customer has neither metadata.{BREEDER_METADATA_KEY} nor an email"
        )
    return None, "no breeder has " + " or ".join(criteria)


def _locked_customer(customer_id: str) -> StripeCustomer:
    customer = StripeCustomer.objects.select_for_update().filter(customer_id=customer_id).first()
    if customer is not None:
        return customer
    try:
        with transaction.atomic():
            return StripeCustomer.objects.create(customer_id=customer_id)
    except IntegrityError:
        # Another worker created it between our read and insert.
        return StripeCustomer.objects.select_for_update().get(customer_id=customer_id)


def _breeder_for_object(
    customer_id: str, obj: dict[str, Any], *, email: str = ""
) -> tuple[Breeder | None, str]:
    """Match a subscription or invoice to a breeder (rule 2 in the module docstring)."""
    link = None
    if customer_id:
        link = (
            StripeCustomer.objects.select_related("breeder").filter(customer_id=customer_id).first()
        )
        if link is not None and link.breeder is not None:
            return link.breeder, ""
    breeder, reason = find_breeder(
        user_id=metadata_of(obj).get(BREEDER_METADATA_KEY, ""), email=email
    )
    if breeder is None:
        return None, f"Stripe customer {customer_id or '(none)'}: {reason}"
    if customer_id:
        # Remember the match so later events of this customer need no metadata.
        link = _locked_customer(customer_id)
        if link.breeder_id is None:
            link.breeder = breeder
            link.save(update_fields=["breeder", "updated_at"])
    return breeder, ""


# Customers -----------------------------------------------------------------------


def _apply_customer(event: StripeEvent, obj: dict[str, Any]) -> Outcome:
    customer_id = object_id(obj)
    if not customer_id:
        raise StripePayloadError("A customer object needs an `id`.")
    customer = _locked_customer(customer_id)
    if customer.last_event_at is not None and event.stripe_created < customer.last_event_at:
        return Outcome(StripeEventStatus.PROCESSED, "older than the customer's last event")

    had_breeder = customer.breeder_id is not None
    customer.email = obj.get("email") or ""
    customer.reptidex_user_id = metadata_of(obj).get(BREEDER_METADATA_KEY, "")
    breeder, reason = find_breeder(user_id=customer.reptidex_user_id, email=customer.email)
    customer.breeder = breeder
    customer.last_event_at = event.stripe_created
    customer.save(
        update_fields=["email", "reptidex_user_id", "breeder", "last_event_at", "updated_at"]
    )
    if breeder is None:
        return Outcome(StripeEventStatus.UNMATCHED, f"Stripe customer {customer_id}: {reason}")
    return Outcome(
        StripeEventStatus.PROCESSED,
        linked_customer_id=customer_id if not had_breeder else "",
    )


# Subscriptions -------------------------------------------------------------------


def _locked_subscription(state: SubscriptionState, breeder: Breeder) -> Subscription:
    subscription = (
        Subscription.objects.select_for_update().filter(external_id=state.subscription_id).first()
    )
    if subscription is not None:
        return subscription
    try:
        with transaction.atomic():
            return Subscription.objects.create(
                external_id=state.subscription_id,
                breeder=breeder,
                source=RecordSource.STRIPE,
                status=state.status,
                customer_id=state.customer_id,
            )
    except IntegrityError:
        return Subscription.objects.select_for_update().get(external_id=state.subscription_id)


STATE_FIELDS = [
    "customer_id",
    "status",
    "plan",
    "price_id",
    "interval",
    "interval_count",
    "quantity",
    "mrr_minor",
    "currency",
    "started_at",
    "current_period_end",
    "cancel_at_period_end",
    "cancel_at",
    "trial_end",
    "canceled_at",
    "ended_at",
    "cancellation_reason",
    "cancellation_feedback",
    "cancellation_comment",
]


def _copy_state(subscription: Subscription, state: SubscriptionState) -> None:
    for field in STATE_FIELDS:
        setattr(subscription, field, getattr(state, field))


def _price_text(state: SubscriptionState) -> str:
    plan = state.plan or "a plan"
    return f"{plan} at {format_minor(state.mrr_minor, state.currency)}/month"


def _date_text(moment: datetime | None) -> str:
    """Format the UTC day of a Stripe timestamp as "3 Feb 2031"."""
    return f"{moment.day} {moment:%b %Y}" if moment else "an unknown date"


def _previous_state(obj: dict[str, Any], previous: dict[str, Any]) -> SubscriptionState | None:
    """Rebuild the subscription as it was before an update, from `previous_attributes`."""
    if not previous:
        return None
    try:
        return subscription_state({**obj, **previous})
    except StripePayloadError:
        return None


def _update_entry(
    state: SubscriptionState, before: SubscriptionState | None, changed: set[str]
) -> tuple[str, str] | None:
    """Choose the timeline kind and summary for a customer.subscription.updated event."""
    if before is None or not changed & SIGNIFICANT_FIELDS:
        return None
    if state.mrr_minor > before.mrr_minor:
        return (
            TimelineKind.PLAN_UPGRADED,
            f"Upgraded to {_price_text(state)} from {_price_text(before)}",
        )
    if state.mrr_minor < before.mrr_minor:
        return (
            TimelineKind.PLAN_DOWNGRADED,
            f"Downgraded to {_price_text(state)} from {_price_text(before)}",
        )
    if state.cancel_at_period_end and not before.cancel_at_period_end:
        return (
            TimelineKind.CANCELLATION_SCHEDULED,
            "Cancellation scheduled for the end of the period, "
            f"{_date_text(state.current_period_end)}",
        )
    if before.cancel_at_period_end and not state.cancel_at_period_end:
        return TimelineKind.SUBSCRIPTION_CHANGED, "Scheduled cancellation withdrawn"
    if state.status != before.status:
        return (
            TimelineKind.SUBSCRIPTION_CHANGED,
            f"Status changed from {before.status} to {state.status}",
        )
    return TimelineKind.SUBSCRIPTION_CHANGED, f"Subscription changed: now {_price_text(state)}"


def _add_entry(
    event: StripeEvent,
    *,
    breeder: Breeder,
    subscription: Subscription | None,
    kind: str,
    summary: str,
    amount_minor: int | None = None,
    currency: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    BillingTimelineEntry.objects.get_or_create(
        source_key=f"stripe:{event.stripe_id}",
        defaults={
            "workspace_id": event.workspace_id,
            "breeder": breeder,
            "subscription": subscription,
            "kind": kind,
            "occurred_at": event.stripe_created,
            "summary": summary[:300],
            "amount_minor": amount_minor,
            "currency": currency,
            "data": {"stripe_event_type": event.type, **(data or {})},
        },
    )


def _apply_subscription(event: StripeEvent, obj: dict[str, Any]) -> Outcome:
    state = subscription_state(obj)
    breeder, reason = _breeder_for_object(state.customer_id, obj)
    if breeder is None:
        return Outcome(StripeEventStatus.UNMATCHED, reason)

    subscription = _locked_subscription(state, breeder)
    is_newer = (
        subscription.last_event_at is None or event.stripe_created >= subscription.last_event_at
    )
    if is_newer:
        _copy_state(subscription, state)
        subscription.breeder = breeder
        subscription.last_event_at = event.stripe_created
        subscription.save()

    previous = event.payload.get("data", {}).get("previous_attributes") or {}
    entry: tuple[str, str] | None
    if event.type == "customer.subscription.created":
        entry = (
            TimelineKind.SUBSCRIPTION_CREATED,
            f"Subscribed to {_price_text(state)} ({state.status})",
        )
    elif event.type == "customer.subscription.deleted":
        entry = (TimelineKind.SUBSCRIPTION_CANCELED, _cancellation_text(state))
        _record_stripe_cancellation(event, state, breeder, subscription)
    elif event.type == "customer.subscription.trial_will_end":
        entry = (TimelineKind.TRIAL_WILL_END, f"Trial ends on {_date_text(state.trial_end)}")
    else:
        entry = _update_entry(state, _previous_state(obj, previous), set(previous))
    if entry is not None:
        kind, summary = entry
        _add_entry(
            event,
            breeder=breeder,
            subscription=subscription,
            kind=kind,
            summary=summary,
            amount_minor=state.mrr_minor,
            currency=state.currency,
            data={"status": state.status, "changed_fields": sorted(previous)},
        )
    note = "" if is_newer else "older than the subscription's last applied event; state kept"
    return Outcome(StripeEventStatus.PROCESSED, note)


def _cancellation_text(state: SubscriptionState) -> str:
    reasons = [
        f"{label}: {value}"
        for label, value in (
            ("reason", state.cancellation_reason),
            ("feedback", state.cancellation_feedback),
        )
        if value
    ]
    suffix = f" ({'; '.join(reasons)})" if reasons else ""
    return f"Subscription to {state.plan or 'a plan'} canceled{suffix}"


def _record_stripe_cancellation(
    event: StripeEvent, state: SubscriptionState, breeder: Breeder, subscription: Subscription
) -> None:
    Cancellation.objects.update_or_create(
        external_id=state.subscription_id,
        defaults={
            "workspace_id": event.workspace_id,
            "breeder": breeder,
            "subscription": subscription,
            "source": RecordSource.STRIPE,
            "canceled_at": state.ended_at or state.canceled_at or event.stripe_created,
            "reason": state.cancellation_reason,
            "feedback": state.cancellation_feedback,
            "comment": state.cancellation_comment,
            "currency": state.currency,
        },
    )


# Invoices ------------------------------------------------------------------------


def _apply_invoice(event: StripeEvent, obj: dict[str, Any]) -> Outcome:
    customer_id = object_id(obj.get("customer"))
    subscription_id = invoice_subscription_id(obj)
    subscription = (
        Subscription.objects.select_related("breeder").filter(external_id=subscription_id).first()
        if subscription_id
        else None
    )
    breeder: Breeder | None
    if subscription is not None:
        breeder, reason = subscription.breeder, ""
    else:
        breeder, reason = _breeder_for_object(
            customer_id, obj, email=obj.get("customer_email") or ""
        )
    if breeder is None:
        return Outcome(StripeEventStatus.UNMATCHED, reason)

    currency = (obj.get("currency") or "").lower()
    number = obj.get("number") or obj.get("id") or ""
    if event.type == "invoice.paid":
        amount = obj.get("amount_paid")
        kind = TimelineKind.INVOICE_PAID
        summary = f"Invoice {number} paid: {format_minor(amount, currency)}"
    else:
        amount = obj.get("amount_due")
        kind = TimelineKind.PAYMENT_FAILED
        attempts = obj.get("attempt_count") or 1
        next_attempt = to_datetime(obj.get("next_payment_attempt"))
        retry = (
            f"Stripe retries on {_date_text(next_attempt)}"
            if next_attempt
            else "no further retry is scheduled"
        )
        summary = (
            f"Payment of {format_minor(amount, currency)} for invoice {number} failed "
            f"(attempt {attempts}); {retry}"
        )
    _add_entry(
        event,
        breeder=breeder,
        subscription=subscription,
        kind=kind,
        summary=summary,
        amount_minor=amount if isinstance(amount, int) else None,
        currency=currency,
        data={
            "invoice_id": obj.get("id") or "",
            "subscription_id": subscription_id,
            "attempt_count": obj.get("attempt_count"),
            "billing_reason": obj.get("billing_reason") or "",
        },
    )
    return Outcome(StripeEventStatus.PROCESSED)


# Dispatch ------------------------------------------------------------------------


def apply_stripe_event(event: StripeEvent) -> Outcome:
    """Apply one stored event; the caller holds its row lock and saves its status."""
    obj = event.data_object
    if event.type in CUSTOMER_EVENTS:
        return _apply_customer(event, obj)
    if event.type in SUBSCRIPTION_EVENTS:
        return _apply_subscription(event, obj)
    if event.type in INVOICE_EVENTS:
        return _apply_invoice(event, obj)
    return Outcome(StripeEventStatus.IGNORED, f"event type {event.type} is not handled")


def process_stored_event(stripe_event_id: str) -> Outcome | None:
    """Apply a stored event of the workspace in scope, unless it is done or locked.

    Returns None when there was nothing to do: the event is processed already, or
    another worker has it locked right now.
    """
    with transaction.atomic():
        event = (
            StripeEvent.objects.select_for_update(skip_locked=True)
            .filter(stripe_id=stripe_event_id, status__in=OPEN_STATUSES)
            .first()
        )
        if event is None:
            return None
        event.attempts += 1
        try:
            # A savepoint, so a failure undoes the event's own writes but still lets us
            # record the failure on the event row.
            with transaction.atomic():
                outcome = apply_stripe_event(event)
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            # Anything else is bad data or a bug, and retrying would repeat it: the event
            # is marked failed for a person to look at and reprocess from the admin.
            logger.exception(
                "Stripe event %s (%s) in workspace %s failed",
                event.stripe_id,
                event.type,
                event.workspace_id,
            )
            outcome = Outcome(StripeEventStatus.FAILED, f"{type(error).__name__}: {error}")

        event.status = outcome.status
        event.last_error = outcome.note if outcome.status != StripeEventStatus.PROCESSED else ""
        if outcome.status in (StripeEventStatus.PROCESSED, StripeEventStatus.IGNORED):
            event.processed_at = timezone.now()
        event.save(update_fields=["status", "last_error", "processed_at", "attempts"])
    logger.info(
        "Stripe event %s (%s) in workspace %s: %s %s",
        event.stripe_id,
        event.type,
        event.workspace_id,
        outcome.status,
        outcome.note,
    )
    return outcome
