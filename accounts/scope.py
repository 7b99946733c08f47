"""Workspace scoping: which tenant the current request or task works on.

Tenant models use `WorkspaceScopedManager` as their default manager. It reads the
active workspace from a context variable and adds `workspace_id = <active>` to every
query. With no workspace active it raises `WorkspaceScopeError`, so code that forgot
to choose a tenant fails loudly instead of reading everyone's rows.

Context variables follow the thread (and asyncio task) that set them, so a scope
entered in one request or Celery task is invisible to others running at the same
time, and `workspace_scope` restores the previous value on exit.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import models

if TYPE_CHECKING:
    from accounts.models import Workspace


class WorkspaceScopeError(RuntimeError):
    """A tenant model was queried with no workspace scope active."""


@dataclass(frozen=True)
class _Scope:
    workspace_id: int | None
    all_workspaces: bool = False


_active_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "reptidex_workspace_scope", default=None
)


@contextmanager
def workspace_scope(workspace: Workspace | int) -> Iterator[None]:
    """Run the block with queries on tenant models limited to one workspace."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    if workspace_id is None:
        raise WorkspaceScopeError("Cannot enter the scope of an unsaved workspace.")
    token = _active_scope.set(_Scope(workspace_id=workspace_id))
    try:
        yield
    finally:
        _active_scope.reset(token)


@contextmanager
def unscoped_across_all_workspaces() -> Iterator[None]:
    """Let tenant-model queries in the block read every workspace's rows.

    For platform operators only: management commands that list workspaces, the
    superuser's admin and fan-out jobs. Never use it in request code for staff.
    """
    token = _active_scope.set(_Scope(workspace_id=None, all_workspaces=True))
    try:
        yield
    finally:
        _active_scope.reset(token)


def active_workspace_id() -> int | None:
    """Return the id of the workspace in scope, or None when none (or all) are."""
    scope = _active_scope.get()
    return scope.workspace_id if scope else None


def scope_is_active() -> bool:
    return _active_scope.get() is not None


def clear_scope() -> None:
    """Forget any scope. Celery calls this around every task as a second safety net."""
    _active_scope.set(None)


_M = TypeVar("_M", bound=models.Model)


class WorkspaceScopedQuerySet(models.QuerySet[_M], Generic[_M]):
    pass


class WorkspaceScopedManager(models.Manager[_M], Generic[_M]):
    """Default manager of tenant models: filters by the active workspace or raises."""

    def get_queryset(self) -> models.QuerySet[_M]:
        scope = _active_scope.get()
        queryset = super().get_queryset()
        if scope is None:
            raise WorkspaceScopeError(
                f"{self.model.__name__} was queried outside a workspace scope. Wrap the "
                "code in accounts.scope.workspace_scope(workspace), or run it from a "
                "workspace URL or a WorkspaceTask."
            )
        if scope.all_workspaces:
            return queryset
        return queryset.filter(workspace_id=scope.workspace_id)

    def create(self, **kwargs: Any) -> _M:
        self._fill_workspace(kwargs)
        return super().create(**kwargs)

    def _fill_workspace(self, kwargs: dict[str, Any]) -> None:
        if "workspace" in kwargs or "workspace_id" in kwargs:
            workspace_id = kwargs.get("workspace_id") or getattr(kwargs["workspace"], "pk", None)
            scope = _active_scope.get()
            if scope and not scope.all_workspaces and scope.workspace_id != workspace_id:
                raise WorkspaceScopeError(
                    f"Refusing to create a {self.model.__name__} in workspace {workspace_id} "
                    f"while the scope is workspace {scope.workspace_id}."
                )
            return
        workspace_id = active_workspace_id()
        if workspace_id is None:
            raise WorkspaceScopeError(
                f"Cannot create a {self.model.__name__} without a workspace: pass one or "
                "enter a workspace scope."
            )
        kwargs["workspace_id"] = workspace_id
