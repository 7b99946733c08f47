from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import WorkspaceRequest, get_breeder_for_request, require_permission
from accounts.models import Breeder
from accounts.roles import Permission
from lifecycle import journey
from lifecycle import subscription_panel as subscription_panel_data
from lifecycle.forms import LogActivityForm, TaskForm
from lifecycle.models import (
    BreederPhase,
    MilestoneAchievement,
    MilestoneDefinition,
    Task,
    TaskStatus,
)

TIMELINE_LENGTH = 50


def _panel_context(
    request: WorkspaceRequest, breeder: Breeder, form: LogActivityForm
) -> dict[str, Any]:
    achievements = {
        row.milestone_id: row for row in MilestoneAchievement.objects.filter(breeder=breeder)
    }
    checklist = [
        (milestone, achievements.get(milestone.pk))
        for milestone in MilestoneDefinition.objects.filter(active=True)
    ]
    return {
        "breeder": breeder,
        "phase": BreederPhase.objects.filter(breeder=breeder).first(),
        "checklist": checklist,
        "timeline": journey.breeder_timeline(breeder, limit=TIMELINE_LENGTH),
        "form": form,
        "task_form": TaskForm(initial={"due_on": timezone.localdate() + timedelta(days=3)}),
        "open_tasks": Task.objects.filter(breeder=breeder, status=TaskStatus.OPEN)
        .select_related("assignee")
        .order_by("due_on"),
    }


@require_GET
def timeline_panel(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    """Render the breeder's phase, milestone checklist and timeline as a panel."""
    require_permission(request, Permission.VIEW_WORKSPACE)
    breeder = get_breeder_for_request(request, public_id)
    context = _panel_context(request, breeder, LogActivityForm())
    return render(request, "lifecycle/_timeline_panel.html", context)


@require_POST
def log_activity(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    actor = require_permission(request, Permission.LOG_ACTIVITY)
    breeder = get_breeder_for_request(request, public_id)
    form = LogActivityForm(request.POST)
    if form.is_valid():
        try:
            journey.log_activity(
                breeder,
                actor_membership=actor,
                kind=form.cleaned_data["kind"],
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
            )
        except ValidationError as error:
            form.add_error(None, error)
    if form.is_valid():
        if not request.htmx:
            messages.success(request, "Logged on the timeline.")
            return redirect(
                "accounts:breeder_detail",
                workspace_slug=workspace_slug,
                public_id=breeder.public_id,
            )
        form = LogActivityForm()
        status = 200
    else:
        status = 400
    context = _panel_context(request, breeder, form)
    return render(request, "lifecycle/_timeline_panel.html", context, status=status)


@require_GET
def subscription_panel(
    request: WorkspaceRequest, workspace_slug: str, public_id: str
) -> HttpResponse:
    """Render the breeder's current subscription: plan, MRR, renewal and payment state."""
    require_permission(request, Permission.VIEW_WORKSPACE)
    breeder = get_breeder_for_request(request, public_id)
    return render(
        request,
        "lifecycle/_subscription_panel.html",
        {"breeder": breeder, "summary": subscription_panel_data.summarize(breeder)},
    )
