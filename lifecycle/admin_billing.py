"""Admin pages for billing: the Stripe endpoint of the workspace, and read-only views of
Stripe events, customers, subscriptions, cancellations and timeline entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.urls import reverse

from accounts.admin_site import ReadOnlyWorkspaceAdmin, WorkspaceScopedAdmin
from accounts.models import User, Workspace
from accounts.scope import active_workspace_id
from lifecycle import billing
from lifecycle.models.billing import (
    BillingTimelineEntry,
    Cancellation,
    StripeCustomer,
    StripeEndpoint,
    StripeEvent,
    Subscription,
)
from lifecycle.money import format_minor


def workspace_for_admin(request: HttpRequest, obj: Any = None) -> Workspace:
    """Return the workspace an admin form works on: the one in scope, else the object's."""
    workspace_id = active_workspace_id() or getattr(obj, "workspace_id", None)
    if workspace_id is None:
        raise PermissionDenied("Open a workspace page first, so the admin knows its workspace.")
    return Workspace.objects.get(pk=workspace_id)


class StripeEndpointForm(forms.ModelForm):
    signing_secret = forms.CharField(
        label="New signing secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=(
            "The whsec_… value from the endpoint's page in the Stripe Dashboard. It is "
            "stored encrypted and never shown again. Leave empty to keep the current one."
        ),
    )
    previous_secret_hours = forms.IntegerField(
        label="Keep accepting the old secret for (hours)",
        min_value=0,
        max_value=int(billing.MAX_PREVIOUS_SECRET_LIFETIME.total_seconds() // 3600),
        initial=int(billing.DEFAULT_PREVIOUS_SECRET_LIFETIME.total_seconds() // 3600),
        help_text="0 stops the old secret at once, for example after a leak.",
    )

    class Meta:
        model = StripeEndpoint
        fields: list[str] = []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk is None and not cleaned.get("signing_secret"):
            self.add_error("signing_secret", "Paste the endpoint's signing secret from Stripe.")
        return cleaned


@admin.register(StripeEndpoint)
class StripeEndpointAdmin(WorkspaceScopedAdmin):
    """The workspace's Stripe webhook endpoint: its URL and its signing secret."""

    form = StripeEndpointForm
    list_display = [
        "__str__",
        "signing_secret_hint",
        "signing_secret_set_at",
        "previous_secret_expires_at",
    ]
    readonly_fields = [
        "webhook_url",
        "signing_secret_hint",
        "signing_secret_set_at",
        "previous_secret_hint",
        "previous_secret_expires_at",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = ("signing_secret", "previous_secret_hours", *self.readonly_fields)
        if request.user.is_superuser and obj is None:
            return ("workspace", *fields)
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        if not super().has_add_permission(request):
            return False
        # One endpoint per workspace: once it exists, it is edited, not added again.
        workspace_id = active_workspace_id()
        return (
            workspace_id is None
            or not StripeEndpoint.objects.filter(workspace_id=workspace_id).exists()
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Endpoint URL to enter in Stripe")
    def webhook_url(self, obj: StripeEndpoint) -> str:
        if obj.pk is None:
            return "Shown after saving."
        workspace = Workspace.objects.get(pk=obj.workspace_id)
        path = reverse("webhooks:stripe", args=[workspace.public_id])
        return f"{settings.SITE_URL}{path}"

    def save_model(
        self, request: HttpRequest, obj: StripeEndpoint, form: Any, change: bool
    ) -> None:
        secret = form.cleaned_data.get("signing_secret")
        if not secret:
            return
        workspace = workspace_for_admin(request, obj)
        endpoint = billing.set_stripe_signing_secret(
            workspace,
            secret=secret,
            previous_secret_lifetime=timedelta(hours=form.cleaned_data["previous_secret_hours"]),
            actor=cast(User, request.user),
        )
        obj.pk = endpoint.pk
        obj.workspace_id = endpoint.workspace_id
        expires = endpoint.previous_secret_expires_at
        note = (
            f" The previous secret is accepted until {expires:%Y-%m-%d %H:%M} UTC."
            if expires
            else ""
        )
        messages.success(
            request,
            f"Saved the signing secret {endpoint.signing_secret_hint}; it is stored encrypted "
            f"and will not be shown again.{note}",
        )


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyWorkspaceAdmin):
    list_display = ["stripe_created", "type", "stripe_id", "status", "attempts", "received_at"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_id", "customer_id"]
    readonly_fields = [
        "stripe_id",
        "type",
        "api_version",
        "livemode",
        "stripe_created",
        "customer_id",
        "status",
        "attempts",
        "last_error",
        "received_at",
        "processed_at",
        "payload",
    ]
    actions = ["process_again"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The changelist's actions need the change permission (checked with no object), but
        # an event's own page stays view-only.
        if obj is not None:
            return False
        return super(ReadOnlyWorkspaceAdmin, self).has_change_permission(request, obj)

    @admin.action(description="Process the selected failed or unmatched events again")
    def process_again(self, request: HttpRequest, queryset: models.QuerySet[StripeEvent]) -> None:
        queued = billing.process_events_again(queryset)
        self.message_user(request, f"Queued {queued} events for processing.")


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyWorkspaceAdmin):
    list_display = ["customer_id", "breeder", "email", "reptidex_user_id", "last_event_at"]
    search_fields = ["customer_id", "email", "reptidex_user_id"]
    list_select_related = ["breeder"]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyWorkspaceAdmin):
    list_display = [
        "external_id",
        "breeder",
        "status",
        "plan",
        "monthly_revenue",
        "current_period_end",
        "cancel_at_period_end",
        "source",
    ]
    list_filter = ["status", "source", "cancel_at_period_end"]
    search_fields = [
        "external_id",
        "customer_id",
        "plan",
        "breeder__name",
        "breeder__business_name",
    ]
    list_select_related = ["breeder"]

    @admin.display(description="MRR", ordering="mrr_minor")
    def monthly_revenue(self, obj: Subscription) -> str:
        return format_minor(obj.mrr_minor, obj.currency)


@admin.register(Cancellation)
class CancellationAdmin(ReadOnlyWorkspaceAdmin):
    list_display = ["external_id", "breeder", "canceled_at", "reason", "feedback", "source"]
    list_filter = ["reason", "source", "is_reactivation"]
    search_fields = ["external_id", "breeder__name", "breeder__business_name"]
    list_select_related = ["breeder"]


@admin.register(BillingTimelineEntry)
class BillingTimelineEntryAdmin(ReadOnlyWorkspaceAdmin):
    list_display = ["occurred_at", "breeder", "kind", "summary"]
    list_filter = ["kind"]
    search_fields = ["summary", "breeder__name", "breeder__business_name"]
    list_select_related = ["breeder"]
