"""Admin pages for programs, templates and delivery settings, scoped to the workspace."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin_site import ReadOnlyWorkspaceAdmin, WorkspaceScopedAdmin
from accounts.models import Breeder, User
from accounts.scope import active_workspace_id
from programs.delivery import build_message, message_context
from programs.models import (
    EmailPreference,
    EmailTemplate,
    Enrollment,
    Program,
    ProgramStep,
    ProgramVariant,
    ScheduledSend,
    SendKind,
    SendSettings,
)
from programs.rendering import SAMPLE_CONTEXT, TemplateProblem, render_parts
from programs.windows import settings_for

# Breeders listed in the preview's menu; the search box finds the others.
PREVIEW_CHOICES = 100


class WorkspaceInline(admin.TabularInline):  # type: ignore[type-arg]
    """An inline whose rows belong to the parent's workspace."""

    extra = 0

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        workspace_id = active_workspace_id()
        if db_field.related_model is User and workspace_id is not None:
            kwargs["queryset"] = User.objects.filter(memberships__workspace_id=workspace_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*(super().get_exclude(request, obj) or []), "workspace"]


class VariantInline(WorkspaceInline):
    model = ProgramVariant
    fields = ["key", "name", "weight"]


class StepInline(WorkspaceInline):
    model = ProgramStep
    fields = [
        "day_offset",
        "key",
        "title",
        "kind",
        "template",
        "survey_kind",
        "outreach_role",
        "outreach_user",
        "due_within_hours",
        "skip_if_milestone",
        "variant",
    ]
    ordering = ["day_offset", "key"]


@admin.register(Program)
class ProgramAdmin(WorkspaceScopedAdmin):
    list_display = [
        "name",
        "kind",
        "enrollment_rule",
        "category",
        "priority",
        "holdout_percent",
        "active",
    ]
    list_filter = ["kind", "active"]
    inlines = [VariantInline, StepInline]
    fields = [
        "name",
        "key",
        "kind",
        "description",
        "category",
        "priority",
        "enrollment_rule",
        "enrollment_value",
        "enroll_signups_within_days",
        "holdout_percent",
        "active",
        "variant_report",
    ]
    readonly_fields = ["variant_report"]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        for instance in formset.save(commit=False):
            instance.workspace_id = form.instance.workspace_id
            instance.save()
        for removed in formset.deleted_objects:
            removed.delete()
        formset.save_m2m()

    @admin.display(description="Outcomes per variant")
    def variant_report(self, obj: Program) -> str:
        """Enrollments, completions and milestones reached, per variant and holdout."""
        if obj.pk is None:
            return "-"
        groups: dict[str, dict[str, int]] = {}
        for enrollment in Enrollment.objects.filter(program=obj).select_related("variant"):
            label = (
                "holdout"
                if enrollment.holdout
                else (enrollment.variant.name if enrollment.variant else "everyone")
            )
            group = groups.setdefault(
                label, {"enrolled": 0, "completed": 0, "on_time": 0, "churned": 0}
            )
            group["enrolled"] += 1
            group["completed"] += enrollment.state == "completed"
            group["on_time"] += int(enrollment.outcome.get("milestones_on_time", 0))
            group["churned"] += bool(enrollment.outcome.get("churned"))
        if not groups:
            return "No enrollments yet."
        rows = "".join(
            format_html(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                label,
                g["enrolled"],
                g["completed"],
                g["on_time"],
                g["churned"],
            )
            for label, g in sorted(groups.items())
        )
        return format_html(
            "<table><thead><tr><th>Group</th><th>Enrolled</th><th>Completed</th>"
            "<th>Milestones on time</th><th>Churned</th></tr></thead><tbody>{}</tbody></table>",
            format_html(rows),
        )


@admin.register(EmailTemplate)
class EmailTemplateAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "key", "category", "updated_at", "preview_link"]
    list_filter = ["category"]
    search_fields = ["name", "key", "subject"]
    fields = ["name", "key", "category", "subject", "text_body", "html_body"]

    @admin.display(description="Preview")
    def preview_link(self, obj: EmailTemplate) -> str:
        url = reverse("admin:programs_emailtemplate_preview", args=[obj.pk])
        return format_html('<a href="{}">Preview and test send</a>', url)

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "<int:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="programs_emailtemplate_preview",
            )
        ]
        return extra + super().get_urls()

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Render the template for a chosen breeder; POST sends it to the admin.

        The links in a preview and a test send are placeholders, and a test send has no
        unsubscribe headers: the admin's mail client must not opt the breeder out.
        """
        template = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        breeders = Breeder.objects.exclude(email="")
        search = (request.POST.get("q") or request.GET.get("q") or "").strip()
        matches = breeders
        if search:
            matches = breeders.filter(
                Q(email__icontains=search)
                | Q(name__icontains=search)
                | Q(business_name__icontains=search)
            )
        chosen_id = request.POST.get("breeder") or request.GET.get("breeder")
        breeder = None
        if chosen_id:
            try:
                breeder = breeders.filter(public_id=uuid.UUID(chosen_id)).first()
            except ValueError:
                breeder = None
        choices = list(matches.order_by("name", "pk")[:PREVIEW_CHOICES])
        breeder = breeder or (choices[0] if choices else None)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {template.name}",
            "template_obj": template,
            "opts": self.model._meta,
            "breeder": breeder,
            "breeders": choices,
            "search": search,
            "more": matches.count() > len(choices),
        }
        if breeder is not None:
            send = ScheduledSend(
                workspace_id=template.workspace_id,
                key=f"test:{template.pk}",
                breeder=breeder,
                template=template,
                kind=SendKind.SURVEY if template.category == "surveys" else SendKind.EMAIL,
                survey_kind="nps",
                category=template.category,
                context={"program": "Preview", "step": template.name, "day": 0},
                due_at=timezone.now(),
                send_after=timezone.now(),
            )
            values = message_context(
                send, breeder, breeder.workspace, settings_for(template.workspace_id)
            )
            values["links"] = SAMPLE_CONTEXT["links"]
            try:
                rendered = render_parts(
                    template.subject, template.text_body, template.html_body, values
                )
                context["rendered"] = rendered
            except TemplateProblem as problem:
                context["problem"] = f"{problem.field}: {problem}"
            if request.method == "POST" and "rendered" in context:
                message = build_message(
                    send, breeder, breeder.workspace, context["rendered"], unsubscribe_url=None
                )
                message.subject = f"[Test] {message.subject}"
                address = getattr(request.user, "email", "")
                message.to = [address]
                message.send()
                messages.success(request, f"Sent a test to {address}.")
        return TemplateResponse(request, "admin/programs/template_preview.html", context)


@admin.register(SendSettings)
class SendSettingsAdmin(WorkspaceScopedAdmin):
    list_display = ["__str__", "window_start_hour", "window_end_hour", "weekly_budget"]
    fields = [
        "window_start_hour",
        "window_end_hour",
        "weekdays",
        "weekly_budget",
        "survey_answer_days",
    ]


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyWorkspaceAdmin):
    list_display = [
        "breeder",
        "program",
        "cycle",
        "variant",
        "holdout",
        "state",
        "enrolled_at",
        "exit_reason",
    ]
    list_filter = ["program", "state", "holdout"]
    list_select_related = ["breeder", "program", "variant"]
    search_fields = ["breeder__email", "breeder__name"]


@admin.register(ScheduledSend)
class ScheduledSendAdmin(ReadOnlyWorkspaceAdmin):
    list_display = [
        "key",
        "breeder",
        "kind",
        "category",
        "state",
        "send_after",
        "sent_at",
        "reason",
    ]
    list_filter = ["state", "kind", "category"]
    list_select_related = ["breeder"]
    search_fields = ["key", "breeder__email", "subject"]
    date_hierarchy = "send_after"


@admin.register(EmailPreference)
class EmailPreferenceAdmin(ReadOnlyWorkspaceAdmin):
    list_display = ["breeder", "opted_out", "all_off", "updated_at"]
    list_select_related = ["breeder"]
    search_fields = ["breeder__email"]
