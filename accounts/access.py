"""Per-request access: which workspace, which membership, which objects.

Views fetch tenant objects only through these helpers. An object of another
workspace, or an id that does not exist, is a 404; a role without the permission
for a change is a 403.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import Breeder, Invitation, Membership, User, Workspace
from accounts.roles import Permission

ACTIVE_WORKSPACE_SESSION_KEY = "active_workspace_id"

_M = TypeVar("_M", bound=models.Model)


class AuthenticatedRequest(HttpRequest):
    """Type of a request whose user is signed in (for type checking only)."""

    user: User
    htmx: HtmxDetails


class WorkspaceRequest(AuthenticatedRequest):
    """Type of a request on a /w/<slug>/ page, after WorkspaceMiddleware resolved it."""

    workspace: Workspace
    membership: Membership


def memberships_of(user: User) -> models.QuerySet[Membership]:
    """Return the user's memberships in every workspace (for the switcher and sign-in).

    This reads across workspaces on purpose, and only the user's own rows.
    """
    return (
        Membership.unscoped_objects.filter(user=user)
        .select_related("workspace")
        .order_by("workspace__name")
    )


def resolve_membership(user: User, slug: str) -> Membership:
    """Return the user's membership in the workspace with this slug, or raise Http404.

    A workspace the user does not belong to looks exactly like one that does not exist.
    """
    membership = (
        Membership.unscoped_objects.select_related("workspace", "user")
        .filter(user=user, workspace__slug=slug)
        .first()
    )
    if membership is None:
        raise Http404("No such workspace.")
    return membership


def require_permission(request: HttpRequest, permission: Permission) -> Membership:
    membership: Membership | None = getattr(request, "membership", None)
    if membership is None or not membership.can(permission):
        raise PermissionDenied(f"Your role does not allow this ({permission.label}).")
    return membership


def _parse_uuid(value: str | uuid.UUID) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise Http404("Invalid id.") from None


def get_in_workspace(queryset: models.QuerySet[_M], public_id: str | uuid.UUID) -> _M:
    """Fetch one object by public UUID from a queryset of the active workspace."""
    obj = queryset.filter(public_id=_parse_uuid(public_id)).first()
    if obj is None:
        raise Http404("Not found in this workspace.")
    return obj


def get_breeder_for_request(request: WorkspaceRequest, public_id: str | uuid.UUID) -> Breeder:
    return get_in_workspace(
        Breeder.objects.filter(workspace=request.workspace).select_related("assigned_csm"),
        public_id,
    )


def get_membership_for_request(request: WorkspaceRequest, public_id: str | uuid.UUID) -> Membership:
    return get_in_workspace(
        Membership.objects.filter(workspace=request.workspace).select_related("user"), public_id
    )


def get_invitation_for_request(request: WorkspaceRequest, public_id: str | uuid.UUID) -> Invitation:
    return get_in_workspace(Invitation.objects.filter(workspace=request.workspace), public_id)


def staff_of(workspace: Workspace) -> models.QuerySet[User]:
    """Return the users who are members of the workspace."""
    return User.objects.filter(memberships__workspace=workspace).order_by("full_name", "email")
