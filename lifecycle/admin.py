from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.admin_site import WorkspaceScopedAdmin
from accounts.scope import active_workspace_id
from lifecycle.models import DEFAULT_EVENT_FEATURES, EventMapping, Feature


class EventMappingForm(forms.ModelForm):
    class Meta:
        model = EventMapping
        fields = ["workspace", "event_name", "feature"]

    def clean(self) -> dict[str, Any]:
        # Workspace admins never see the workspace field, so Django skips the unique
        # constraint on (workspace, event_name). Checking it here turns a duplicate
        # into a form error instead of an IntegrityError on save.
        cleaned = super().clean() or {}
        workspace = cleaned.get("workspace")
        workspace_id = workspace.pk if workspace is not None else active_workspace_id()
        name = cleaned.get("event_name")
        if workspace_id is not None and name:
            duplicates = EventMapping.unscoped_objects.filter(
                workspace_id=workspace_id, event_name=name
            ).exclude(pk=self.instance.pk)
            if duplicates.exists():
                self.add_error(
                    "event_name",
                    f"“{name}” is already mapped; edit that entry instead of adding another.",
                )
        return cleaned


@admin.register(EventMapping)
class EventMappingAdmin(WorkspaceScopedAdmin):
    """The workspace's own tracking plan entries, listed above the default plan.

    An entry replaces the default mapping of the same event name or adds a new name.
    Changes apply to events processed from then on; existing rollups are not rebuilt.
    """

    form = EventMappingForm
    list_display = ["event_name", "feature", "updated_at"]
    list_filter = ["feature"]
    search_fields = ["event_name"]
    ordering = ["event_name"]
    change_list_template = "lifecycle/admin/eventmapping_change_list.html"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        labels = dict(Feature.choices)
        default_plan = [
            {"event_name": name, "feature": labels[feature]}
            for name, feature in sorted(DEFAULT_EVENT_FEATURES.items())
        ]
        context = {**(extra_context or {}), "default_plan": default_plan}
        return super().changelist_view(request, extra_context=context)  # type: ignore[return-value]


# The other admin modules register their classes when imported.
from lifecycle import (  # noqa: E402, F401
    admin_billing,
    admin_imports,
    admin_journey,
    admin_tickets,
)
