from typing import Any, cast

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest

from accounts import services
from accounts.admin_site import ReadOnlyWorkspaceAdmin, WorkspaceScopedAdmin
from accounts.models import AuditEntry, Breeder, Invitation, Membership, User, Workspace, WriteKey
from accounts.roles import Permission
from accounts.scope import active_workspace_id


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    """Workspace admins edit their own workspace; only superusers add or delete one."""

    list_display = ["name", "slug", "time_zone", "require_mfa", "created_at"]
    search_fields = ["name", "slug"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or getattr(request, "membership", None) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Workspace]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk=active_workspace_id())

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if request.user.is_superuser:
            return []
        readonly = ["slug"]
        membership = getattr(request, "membership", None)
        if membership is None or not membership.can(Permission.MANAGE_SECURITY):
            readonly.append("require_mfa")
        return readonly


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin):
    """Members join through invitations (the Members page), so there is no add form here."""

    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "user__full_name"]
    fields = ["user", "role"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["user"] if obj is not None else []

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        actor = getattr(request, "membership", None)
        if change and actor is not None and "role" in form.changed_data:
            new_role = obj.role
            obj.role = form.initial["role"]
            services.change_role(obj, actor_membership=actor, role=new_role)
            return
        super().save_model(request, obj, form, change)


@admin.register(Invitation)
class InvitationAdmin(WorkspaceScopedAdmin):
    list_display = [
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_filter = ["role"]
    search_fields = ["email"]
    readonly_fields = [
        "email",
        "role",
        "invited_by",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WriteKey)
class WriteKeyAdmin(WorkspaceScopedAdmin):
    """Write keys for the event API. The key is shown once, right after it is created."""

    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_keys"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoked keys stay listed so their use can still be traced.
        return False

    def save_model(self, request: HttpRequest, obj: WriteKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        workspace = Workspace.objects.get(pk=active_workspace_id() or obj.workspace_id)
        key, raw_key = services.issue_write_key(
            workspace, name=obj.name, actor=cast(User, request.user)
        )
        obj.pk = key.pk
        obj.prefix = key.prefix
        messages.warning(
            request,
            f"Copy the write key now; it is not stored and will not be shown again: {raw_key}",
        )

    @admin.action(description="Revoke the selected write keys")
    def revoke_keys(self, request: HttpRequest, queryset: models.QuerySet[WriteKey]) -> None:
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.revoke_write_key(key, actor=cast(User, request.user))
            revoked += 1
        self.message_user(request, f"Revoked {revoked} write keys.")


@admin.register(Breeder)
class BreederAdmin(WorkspaceScopedAdmin):
    list_display = [
        "display_name",
        "email",
        "external_id",
        "tier",
        "plan",
        "assigned_csm",
        "signed_up_at",
    ]
    list_filter = ["tier", "operation", "experience"]
    search_fields = ["name", "business_name", "email", "external_id"]
    list_select_related = ["assigned_csm"]
    readonly_fields = ["public_id", "created_at", "updated_at"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyWorkspaceAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_id"]
    list_filter = ["action"]
    list_select_related = ["actor"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """Staff accounts across all workspaces: platform superusers only."""

    list_display = ["email", "full_name", "is_superuser", "is_active", "date_joined"]
    search_fields = ["email", "full_name"]
    fields = ["email", "full_name", "is_active", "is_staff", "is_superuser"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser
