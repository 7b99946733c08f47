"""The Django admin as each workspace's configuration tool.

Workspace owners and admins use it for the workspace they last worked in, which the
workspace middleware puts in scope. Platform superusers use it across all workspaces.
Every tenant model admin derives from `WorkspaceScopedAdmin`, which limits querysets,
foreign-key choices and saves to the workspace in scope.
"""

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from accounts.models import User
from accounts.roles import Permission
from accounts.scope import active_workspace_id


def _can_configure(request: HttpRequest) -> bool:
    if not (request.user.is_active and request.user.is_authenticated):
        return False
    if request.user.is_superuser:
        return True
    membership = getattr(request, "membership", None)
    return membership is not None and membership.can(Permission.CONFIGURE_WORKSPACE)


class WorkspaceAdminSite(admin.AdminSite):
    site_header = "ReptiDex Success configuration"
    site_title = "ReptiDex Success"
    index_title = "Workspace configuration"

    def has_permission(self, request: HttpRequest) -> bool:
        return _can_configure(request)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        workspace = getattr(request, "workspace", None)
        if workspace is not None:
            context["site_header"] = f"{workspace.name}: configuration"
        elif request.user.is_authenticated and request.user.is_superuser:
            context["site_header"] = "ReptiDex Success: all workspaces (platform operator)"
        return context


class WorkspaceScopedAdmin(admin.ModelAdmin):
    """Admin for a tenant model.

    Permissions come from the member's role, not from Django's per-model permissions.
    Workspace admins never see the workspace field: new rows go to the workspace in
    scope. Superusers see and choose it.
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _can_configure(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _can_configure(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _can_configure(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _can_configure(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _can_configure(request)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        # The scoped default manager already limits rows to the workspace in scope;
        # the explicit filter keeps that true should the manager ever change.
        queryset = super().get_queryset(request)
        workspace_id = active_workspace_id()
        if workspace_id is not None:
            queryset = queryset.filter(workspace_id=workspace_id)
        return queryset

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        excluded = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            excluded.append("workspace")
        return excluded

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser:
            filters.append("workspace")
        return filters

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        workspace_id = active_workspace_id()
        if workspace_id is None or request.user.is_superuser:
            return form_class

        class WorkspaceForm(form_class):  # type: ignore[misc,valid-type]
            """Validates unique constraints that include the hidden workspace field.

            Django skips every constraint that names a field the form lacks, so without
            this a duplicate (workspace, external id) would fail as an IntegrityError
            on save instead of a form error.
            """

            def _post_clean(self) -> None:
                if self.instance.workspace_id is None:
                    self.instance.workspace_id = workspace_id
                super()._post_clean()

            def _get_validation_exclusions(self) -> set[str]:
                exclusions = set(super()._get_validation_exclusions())
                exclusions.discard("workspace")
                return exclusions

        return WorkspaceForm

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        workspace_id = active_workspace_id()
        if db_field.related_model is User and workspace_id is not None:
            kwargs["queryset"] = User.objects.filter(memberships__workspace_id=workspace_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        workspace_id = active_workspace_id()
        if workspace_id is not None:
            obj.workspace_id = workspace_id
        super().save_model(request, obj, form, change)


class ReadOnlyWorkspaceAdmin(WorkspaceScopedAdmin):
    """Admin for rows that services, webhooks and imports write: admins look, not edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
