"""Celery tasks of the accounts app and the workspace task base every app uses."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from celery import Task, shared_task
from celery.signals import task_postrun, task_prerun
from django.db import OperationalError
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.invitations import build_invitation_email
from accounts.models import Invitation, Workspace
from accounts.scope import clear_scope, scope_is_active, workspace_scope

logger = logging.getLogger(__name__)

# Errors worth a retry: the database or Redis was briefly unreachable. Anything else is
# a bug or bad data, and retrying would only repeat it.
TRANSIENT_ERRORS = (OperationalError, RedisConnectionError, ConnectionError, TimeoutError)


class MissingWorkspaceError(ValueError):
    """A workspace task was called without a `workspace_id` keyword argument."""


class WorkspaceTask(Task):
    """Base for tasks that work on one workspace's data.

    The caller passes `workspace_id=<int>` by keyword. The task loads the workspace and
    runs its body inside that workspace's scope; the scope ends with the task, so the
    next task in the same worker process starts with none.
    """

    abstract = True
    autoretry_for = TRANSIENT_ERRORS
    max_retries = 5
    retry_backoff = True
    retry_backoff_max = 300
    retry_jitter = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        workspace_id = kwargs.get("workspace_id")
        if not isinstance(workspace_id, int) or isinstance(workspace_id, bool):
            raise MissingWorkspaceError(
                f"Task {self.name} needs workspace_id=<int> as a keyword argument; "
                f"it got {workspace_id!r}."
            )
        if not Workspace.objects.filter(pk=workspace_id).exists():
            raise MissingWorkspaceError(f"Task {self.name}: workspace {workspace_id} not found.")
        with workspace_scope(workspace_id):
            return super().__call__(*args, **kwargs)


# Eagerly applied tasks run inside their caller's context, whose scope is the caller's
# business, so only tasks executed by a worker are checked and cleared.


@task_prerun.connect
def _start_task_without_scope(task_id: str, task: Task, **kwargs: Any) -> None:
    if task.request.is_eager:
        return
    if scope_is_active():
        logger.error("Task %s (%s) started with a leftover workspace scope", task.name, task_id)
        clear_scope()


@task_postrun.connect
def _end_task_without_scope(task_id: str, task: Task, **kwargs: Any) -> None:
    if not task.request.is_eager:
        clear_scope()


def fan_out(task: Task, workspace_ids: Iterable[int] | None = None) -> int:
    """Queue `task` once per workspace, for every workspace unless ids are given.

    Periodic jobs call this so each workspace's work is a small task of its own.
    Returns the number of tasks queued.
    """
    if workspace_ids is None:
        workspace_ids = Workspace.objects.order_by("pk").values_list("pk", flat=True)
    queued = list(workspace_ids)
    for workspace_id in queued:
        task.delay(workspace_id=workspace_id)
    return len(queued)


@shared_task(base=WorkspaceTask, bind=True)
def send_invitation_email(self: WorkspaceTask, *, workspace_id: int, invitation_id: int) -> bool:
    invitation = (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or not invitation.is_open:
        logger.info(
            "Invitation %s in workspace %s is not open; no email", invitation_id, workspace_id
        )
        return False
    build_invitation_email(invitation).send()
    logger.info("Sent invitation %s in workspace %s", invitation_id, workspace_id)
    return True


@shared_task(base=WorkspaceTask, bind=True)
def expire_invitations(self: WorkspaceTask, *, workspace_id: int) -> int:
    """Mark this workspace's invitations past their expiry as revoked."""
    count = Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lte=timezone.now()
    ).update(revoked_at=timezone.now())
    if count:
        logger.info("Expired %s invitations in workspace %s", count, workspace_id)
    return count


@shared_task(autoretry_for=TRANSIENT_ERRORS, max_retries=3, retry_backoff=True)
def expire_invitations_everywhere() -> int:
    """Fan out one small `expire_invitations` task per workspace."""
    return fan_out(expire_invitations)
