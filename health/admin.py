from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest

from accounts.admin_site import WorkspaceScopedAdmin
from accounts.models import User
from health import services
from health.models import Alert, HealthMeasure, HealthModel, HealthScore, ModelStatus


class HealthMeasureInline(admin.TabularInline):
    model = HealthMeasure
    extra = 0
    fields = ["category", "key", "weight", "window_days", "freshness_days", "curve", "phase_curves"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or obj.status == ModelStatus.DRAFT

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or obj.status == ModelStatus.DRAFT

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and obj.status == ModelStatus.DRAFT

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


@admin.register(HealthModel)
class HealthModelAdmin(WorkspaceScopedAdmin):
    """Versions of the health model. Only drafts can be edited; activation validates them."""

    list_display = ["name", "version", "status", "activated_at", "created_at"]
    list_filter = ["status"]
    inlines = [HealthMeasureInline]
    actions = ["copy_as_draft", "activate"]
    readonly_fields = ["version", "status", "activated_at", "created_by"]
    fields = [
        "name",
        "version",
        "status",
        "usage_weight",
        "business_weight",
        "satisfaction_weight",
        "green_from",
        "yellow_from",
        "provisional_below_coverage",
        "drop_alert_points",
        "anomaly_ratio",
        "anomaly_min_weekly_events",
        "alert_cooldown_days",
        "notes",
        "activated_at",
        "created_by",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New versions start as a copy of an existing one ("Copy as a new draft").
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != ModelStatus.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (
            obj is not None
            and obj.status == ModelStatus.DRAFT
            and super().has_delete_permission(request, obj)
        )

    @admin.action(description="Copy as a new draft")
    def copy_as_draft(self, request: HttpRequest, queryset: models.QuerySet[HealthModel]) -> None:
        for model in queryset:
            draft = services.clone_as_draft(model, actor=_user(request))
            self.message_user(request, f"Created draft version {draft.version}.")

    @admin.action(description="Activate the selected draft")
    def activate(self, request: HttpRequest, queryset: models.QuerySet[HealthModel]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one draft to activate.", messages.ERROR)
            return
        model = queryset.get()
        try:
            services.activate_model(model, actor=_user(request))
        except ValidationError as error:
            for problem in error.messages:
                self.message_user(request, problem, messages.ERROR)
            return
        self.message_user(
            request,
            f"Version {model.version} is now active; scores use it from the next recompute.",
        )


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


@admin.register(Alert)
class AlertAdmin(WorkspaceScopedAdmin):
    list_display = ["opened_at", "breeder", "kind", "severity", "state", "owner"]
    list_filter = ["state", "kind", "severity"]
    list_select_related = ["breeder", "owner"]
    readonly_fields = [
        "breeder",
        "kind",
        "severity",
        "title",
        "detail",
        "data",
        "opened_at",
        "resolved_at",
    ]
    fields = [
        "breeder",
        "kind",
        "severity",
        "title",
        "detail",
        "data",
        "state",
        "owner",
        "snoozed_until",
        "note",
        "opened_at",
        "resolved_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(HealthScore)
class HealthScoreAdmin(WorkspaceScopedAdmin):
    list_display = ["breeder", "score", "band", "coverage", "provisional", "as_of"]
    list_filter = ["band", "provisional"]
    list_select_related = ["breeder"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
