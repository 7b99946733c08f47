from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from accounts.admin_site import WorkspaceScopedAdmin
from accounts.models import Membership
from accounts.scope import active_workspace_id
from segments import services
from segments.models import CsmProfile, KpiSettings, OnboardingTarget, PortfolioRange


@admin.register(PortfolioRange)
class PortfolioRangeAdmin(WorkspaceScopedAdmin):
    """The portfolio size range and tiers of each CSM role; new workspaces get defaults."""

    list_display = ["csm_role", "min_breeders", "max_breeders", "tiers"]
    fields = ["csm_role", "min_breeders", "max_breeders", "tiers"]


@admin.register(CsmProfile)
class CsmProfileAdmin(WorkspaceScopedAdmin):
    """Members' CSM roles. Saving goes through the service, so the pool flag follows."""

    list_display = ["membership", "csm_role", "updated_at"]
    list_filter = ["csm_role"]
    list_select_related = ["membership__user"]
    fields = ["membership", "csm_role"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["membership"] if obj is not None else []

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        workspace_id = active_workspace_id()
        if db_field.name == "membership" and workspace_id is not None:
            kwargs["queryset"] = Membership.objects.filter(
                workspace_id=workspace_id
            ).select_related("user")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: CsmProfile, form: Any, change: bool) -> None:
        actor = getattr(request, "membership", None)
        if actor is None:
            # A platform superuser outside any workspace: no acting member to audit.
            super().save_model(request, obj, form, change)
            return
        services.set_csm_role(obj.membership, actor_membership=actor, csm_role=obj.csm_role)
        saved = CsmProfile.objects.get(membership=obj.membership)
        obj.pk = saved.pk


@admin.register(OnboardingTarget)
class OnboardingTargetAdmin(WorkspaceScopedAdmin):
    """Targets of the KPI page's cohort table: a share of signups reaching a milestone."""

    list_display = ["label", "milestone", "within_hours", "target_percent", "order", "active"]
    list_editable = ["order", "active"]
    list_select_related = ["milestone"]
    fields = ["label", "milestone", "within_hours", "target_percent", "order", "active"]


@admin.register(KpiSettings)
class KpiSettingsAdmin(WorkspaceScopedAdmin):
    list_display = ["__str__"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row per workspace.
        return super().has_add_permission(request) and not self.get_queryset(request).exists()
