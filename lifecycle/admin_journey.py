from django.contrib import admin
from django.http import HttpRequest

from accounts.admin_site import ReadOnlyWorkspaceAdmin, WorkspaceScopedAdmin
from lifecycle.models import (
    LifecycleSettings,
    MilestoneAchievement,
    MilestoneDefinition,
    TimelineEntry,
)


@admin.register(LifecycleSettings)
class LifecycleSettingsAdmin(WorkspaceScopedAdmin):
    list_display = ["__str__"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row per workspace.
        return super().has_add_permission(request) and not self.get_queryset(request).exists()


@admin.register(MilestoneDefinition)
class MilestoneDefinitionAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "key", "target_day", "active", "send_nudge_when_missed", "order"]
    list_editable = ["active", "order"]
    fields = ["name", "key", "target_day", "order", "rule", "active", "send_nudge_when_missed"]


class ReadOnlyAdmin(ReadOnlyWorkspaceAdmin):
    # Results and entries are written by jobs, but an admin may delete one, for
    # example so the next run records an achievement again.
    has_delete_permission = WorkspaceScopedAdmin.has_delete_permission


@admin.register(MilestoneAchievement)
class MilestoneAchievementAdmin(ReadOnlyAdmin):
    list_display = ["breeder", "milestone", "status", "due_at", "achieved_at", "missed_at"]
    list_filter = ["status", "milestone"]
    list_select_related = ["breeder", "milestone"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "breeder", "kind", "title", "actor"]
    list_filter = ["kind"]
    list_select_related = ["breeder", "actor"]
    search_fields = ["title"]
