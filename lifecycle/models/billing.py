"""Billing signals: Stripe webhook endpoints and events, subscriptions, cancellations and
the billing entries of the breeder timeline."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.utils import timezone

from accounts.models import Breeder, WorkspaceOwned


class StripeEndpoint(WorkspaceOwned):
    """A workspace's Stripe webhook endpoint and its signing secrets.

    Stripe signs each delivery with the endpoint's secret, and verifying the signature
    needs the secret itself, so it is stored encrypted (see lifecycle.encryption), never
    hashed. During a rotation the previous secret stays valid until its expiry.
    """

    signing_secret_encrypted = models.TextField(blank=True, editable=False)
    signing_secret_hint = models.CharField(
        max_length=20,
        blank=True,
        editable=False,
        help_text="The last characters, to tell secrets apart.",
    )
    signing_secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_hint = models.CharField(max_length=20, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        verbose_name = "Stripe webhook endpoint"
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="stripe_endpoint_one_per_workspace"),
        ]

    def __str__(self) -> str:
        return f"Stripe endpoint of workspace {self.workspace_id}"

    def previous_secret_active(self, now: datetime | None = None) -> bool:
        return bool(
            self.previous_secret_encrypted
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > (now or timezone.now())
        )


class StripeEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    UNMATCHED = "unmatched", "No matching breeder yet"
    IGNORED = "ignored", "Ignored (type not handled)"
    FAILED = "failed", "Failed"


class StripeEvent(WorkspaceOwned):
    """A verified Stripe webhook event, stored before it is processed.

    The row is written in the request that received the event; a Celery task applies it
    later. Events that name no known breeder stay `unmatched` and are applied again when
    a breeder appears.
    """

    stripe_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    api_version = models.CharField(max_length=40, blank=True)
    livemode = models.BooleanField(default=False)
    stripe_created = models.DateTimeField(help_text="The event's own creation time at Stripe.")
    customer_id = models.CharField(
        max_length=255, blank=True, help_text="The Stripe customer the event concerns, if any."
    )
    payload = models.JSONField()
    status = models.CharField(
        max_length=20, choices=StripeEventStatus.choices, default=StripeEventStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            # Stripe may deliver an event more than once; the second insert is a no-op.
            models.UniqueConstraint(
                fields=["workspace", "stripe_id"], name="stripe_event_unique_id"
            ),
        ]
        indexes = [
            models.Index(
                fields=["workspace", "-stripe_created"], name="stripe_event_ws_created_idx"
            ),
            # The re-queue job looks only for pending events, which are few, so a partial
            # index keeps its scan small even with years of processed events.
            models.Index(
                fields=["workspace", "received_at"],
                condition=models.Q(status="pending"),
                name="stripe_event_pending_idx",
            ),
            # Applying unmatched events again, oldest first, when a breeder appears.
            models.Index(
                fields=["workspace", "customer_id", "stripe_created"],
                condition=models.Q(status="unmatched"),
                name="stripe_event_unmatched_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"

    @property
    def data_object(self) -> dict:
        obj = self.payload.get("data", {}).get("object", {})
        return obj if isinstance(obj, dict) else {}


class StripeCustomer(WorkspaceOwned):
    """A Stripe customer as its latest event showed it, and the breeder it belongs to.

    Subscription and invoice events carry only the customer's id, so the link made from
    customer events (metadata, then email) is what matches them to a breeder.
    """

    customer_id = models.CharField(max_length=255)
    breeder = models.ForeignKey(
        Breeder, null=True, blank=True, on_delete=models.SET_NULL, related_name="stripe_customers"
    )
    email = models.EmailField(blank=True)
    reptidex_user_id = models.CharField(
        max_length=200, blank=True, help_text="metadata.reptidex_user_id on the Stripe customer."
    )
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "customer_id"], name="stripe_customer_unique_id"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "breeder"], name="stripe_customer_ws_breeder_idx"),
        ]

    def __str__(self) -> str:
        return self.customer_id


class SubscriptionStatus(models.TextChoices):
    """Stripe's subscription statuses."""

    INCOMPLETE = "incomplete", "Incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete, expired"
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELED = "canceled", "Canceled"
    UNPAID = "unpaid", "Unpaid"
    PAUSED = "paused", "Paused"


class BillingInterval(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    YEAR = "year", "Year"


class RecordSource(models.TextChoices):
    """Origin of a subscription, cancellation or ticket."""

    STRIPE = "stripe", "Stripe"
    WEBHOOK = "webhook", "Webhook"
    IMPORT = "import", "CSV import"


class Subscription(WorkspaceOwned):
    """A breeder's subscription, from Stripe events or a CSV import.

    `mrr_minor` is the monthly recurring revenue in the currency's minor unit (cents
    for USD), with yearly, weekly and daily prices and the quantity folded in.
    `last_event_at` is the `created` time of the newest Stripe event applied; an older
    event that arrives later does not overwrite the state.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="subscriptions")
    external_id = models.CharField(
        max_length=255, help_text="The Stripe subscription id, or the id in an imported file."
    )
    source = models.CharField(max_length=20, choices=RecordSource.choices)
    customer_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=30, choices=SubscriptionStatus.choices)
    plan = models.CharField(max_length=200, blank=True)
    price_id = models.CharField(max_length=255, blank=True)
    interval = models.CharField(max_length=10, choices=BillingInterval.choices, blank=True)
    interval_count = models.PositiveIntegerField(default=1)
    quantity = models.PositiveIntegerField(default=1)
    mrr_minor = models.BigIntegerField(
        default=0, help_text="Monthly recurring revenue, minor units."
    )
    currency = models.CharField(max_length=3, blank=True, help_text="ISO 4217 code, lower case.")
    started_at = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    cancel_at = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=100, blank=True)
    cancellation_feedback = models.CharField(max_length=100, blank=True)
    cancellation_comment = models.TextField(blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"], name="subscription_unique_external_id"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "breeder"], name="subscription_ws_breeder_idx"),
            models.Index(fields=["workspace", "status"], name="subscription_ws_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.status})"


class TimelineKind(models.TextChoices):
    SUBSCRIPTION_CREATED = "subscription_created", "Subscription created"
    SUBSCRIPTION_CHANGED = "subscription_changed", "Subscription changed"
    PLAN_UPGRADED = "plan_upgraded", "Plan upgraded"
    PLAN_DOWNGRADED = "plan_downgraded", "Plan downgraded"
    CANCELLATION_SCHEDULED = "cancellation_scheduled", "Cancellation scheduled"
    SUBSCRIPTION_CANCELED = "subscription_canceled", "Subscription canceled"
    TRIAL_WILL_END = "trial_will_end", "Trial ends soon"
    INVOICE_PAID = "invoice_paid", "Invoice paid"
    PAYMENT_FAILED = "payment_failed", "Payment failed"


class BillingTimelineEntry(WorkspaceOwned):
    """One billing moment on a breeder's timeline: a payment, a failure, a plan change.

    `source_key` names what produced the entry (a Stripe event id, or an imported row),
    so a repeated delivery or a re-run import adds nothing.
    """

    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="billing_entries")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="timeline"
    )
    kind = models.CharField(max_length=40, choices=TimelineKind.choices)
    occurred_at = models.DateTimeField()
    summary = models.CharField(max_length=300)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    data = models.JSONField(default=dict, blank=True)
    source_key = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        verbose_name_plural = "billing timeline entries"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source_key"], name="billing_entry_unique_source"
            ),
        ]
        indexes = [
            # The breeder timeline: one breeder's entries, newest first.
            models.Index(
                fields=["workspace", "breeder", "-occurred_at"], name="billing_entry_timeline_idx"
            ),
            models.Index(
                fields=["workspace", "kind", "-occurred_at"], name="billing_entry_kind_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.summary


class Cancellation(WorkspaceOwned):
    """A breeder's cancellation (churn), with its reason and feedback.

    Stripe cancellations use the subscription id as `external_id`; imported ones keep
    the id of the source system's churn record.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="cancellations")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="cancellations"
    )
    external_id = models.CharField(max_length=255)
    source = models.CharField(max_length=20, choices=RecordSource.choices)
    canceled_at = models.DateTimeField()
    reason = models.CharField(max_length=100, blank=True)
    feedback = models.CharField(max_length=100, blank=True)
    comment = models.TextField(blank=True)
    refund_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    preceded_by_upgrade = models.BooleanField(default=False)
    preceded_by_downgrade = models.BooleanField(default=False)
    is_reactivation = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"], name="cancellation_unique_external_id"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "breeder"], name="cancellation_ws_breeder_idx"),
            # Churn reports count cancellations per month.
            models.Index(fields=["workspace", "canceled_at"], name="cancellation_ws_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.reason or 'no reason'})"
