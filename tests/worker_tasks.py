"""Tasks that exist only for the worker tests; the worker fixture imports this module."""

from typing import Any

from celery import shared_task

from accounts.models import Breeder
from accounts.scope import _active_scope, _Scope, active_workspace_id
from accounts.tasks import WorkspaceTask


@shared_task(base=WorkspaceTask)
def report_scope(*, workspace_id: int) -> dict[str, Any]:
    return {
        "active_workspace_id": active_workspace_id(),
        "breeders": sorted(Breeder.objects.values_list("name", flat=True)),
    }


@shared_task
def leave_scope_behind(workspace_id: int) -> None:
    """Behave like a buggy task that sets a scope and never resets it."""
    _active_scope.set(_Scope(workspace_id=workspace_id))


@shared_task
def count_breeders_without_scope() -> dict[str, Any]:
    try:
        count = Breeder.objects.count()
    except Exception as error:
        return {"error": type(error).__name__, "active_workspace_id": active_workspace_id()}
    return {"count": count, "active_workspace_id": active_workspace_id()}
