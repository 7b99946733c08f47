from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import (
    WorkspaceRequest,
    get_breeder_for_request,
    get_in_workspace,
    require_permission,
)
from accounts.roles import Permission
from lifecycle import tasks_service
from lifecycle.forms import CompleteTaskForm, TaskForm
from lifecycle.models import Task, TaskStatus


@require_GET
def my_tasks(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    """List the signed-in member's open tasks by due date, so overdue ones come first."""
    require_permission(request, Permission.VIEW_WORKSPACE)
    tasks = (
        Task.objects.filter(assignee=request.user, status=TaskStatus.OPEN)
        .select_related("breeder")
        .order_by("due_on", "pk")
    )
    return render(
        request,
        "lifecycle/tasks.html",
        {
            "tasks": tasks,
            "today": timezone.localdate(),
            "complete_form": CompleteTaskForm(),
        },
    )


@require_POST
def create_task(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    actor = require_permission(request, Permission.LOG_ACTIVITY)
    breeder = get_breeder_for_request(request, public_id)
    form = TaskForm(request.POST)
    if form.is_valid():
        tasks_service.create_task(
            breeder,
            actor_membership=actor,
            title=form.cleaned_data["title"],
            due_on=form.cleaned_data["due_on"],
        )
        messages.success(request, "Task created.")
        return redirect(
            "accounts:breeder_detail", workspace_slug=workspace_slug, public_id=breeder.public_id
        )
    errors = "; ".join(
        f"{name}: {' '.join(str(problem) for problem in problems)}"
        for name, problems in form.errors.items()
    )
    messages.error(request, f"The task was not created. {errors}")
    return redirect(
        "accounts:breeder_detail", workspace_slug=workspace_slug, public_id=breeder.public_id
    )


@require_POST
def complete_task(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    actor = require_permission(request, Permission.LOG_ACTIVITY)
    task = get_in_workspace(Task.objects.select_related("breeder"), public_id)
    form = CompleteTaskForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            tasks_service.complete_task(
                task, actor_membership=actor, outcome=form.cleaned_data["outcome"]
            )
        except ValidationError as problem:
            error = " ".join(problem.messages)
    else:
        error = "Say what happened, so the timeline shows it."
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("lifecycle:tasks", workspace_slug=workspace_slug)
    return render(
        request,
        "lifecycle/_task_row.html",
        {
            "task": task,
            "error": error,
            "today": timezone.localdate(),
            "complete_form": CompleteTaskForm(),
        },
        status=400 if error else 200,
    )
