"""Resolve the workspace once per request and run the view inside its scope."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from contextvars import Token
from typing import Any, cast

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from accounts.access import ACTIVE_WORKSPACE_SESSION_KEY, resolve_membership
from accounts.models import Membership
from accounts.roles import Permission
from accounts.scope import (
    _active_scope,
    _Scope,
)

ADMIN_PREFIX = "/admin/"
# Pages a member without MFA may still open when the workspace requires MFA.
MFA_SETUP_PREFIXES = ("/accounts/", "/static/")


class WorkspaceMiddleware:
    """Set `request.workspace` and `request.membership` and enter the workspace scope.

    Workspace pages take the workspace from the `workspace_slug` URL argument. The
    admin takes it from the workspace the user last worked in (kept in the session);
    platform superusers use the admin across all workspaces. Inside a workspace the
    workspace's time zone is the current time zone, so pages show local times.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.workspace = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            token: Token[Any] | None = getattr(request, "_workspace_scope_token", None)
            if token is not None:
                _active_scope.reset(token)
            timezone.deactivate()
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        slug = view_kwargs.get("workspace_slug")
        if slug is not None:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            membership = resolve_membership(request.user, slug)
            self._enter(request, membership)
            # Writing the same value would still mark the session modified and save it.
            if request.session.get(ACTIVE_WORKSPACE_SESSION_KEY) != membership.workspace_id:
                request.session[ACTIVE_WORKSPACE_SESSION_KEY] = membership.workspace_id
            return self._enforce_mfa(request, membership)

        if request.path.startswith(ADMIN_PREFIX) and request.user.is_authenticated:
            return self._enter_admin_scope(request)
        return None

    def _enter(self, request: HttpRequest, membership: Membership) -> None:
        request.workspace = membership.workspace  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        request._workspace_scope_token = _active_scope.set(  # type: ignore[attr-defined]
            _Scope(workspace_id=membership.workspace_id)
        )
        timezone.activate(zoneinfo.ZoneInfo(membership.workspace.time_zone))

    def _enter_admin_scope(self, request: HttpRequest) -> HttpResponse | None:
        if request.user.is_superuser:
            request._workspace_scope_token = _active_scope.set(  # type: ignore[attr-defined]
                _Scope(workspace_id=None, all_workspaces=True)
            )
            return None
        workspace_id = request.session.get(ACTIVE_WORKSPACE_SESSION_KEY)
        if not isinstance(workspace_id, int):
            return None
        membership = (
            Membership.unscoped_objects.select_related("workspace", "user")
            .filter(user_id=cast(int, request.user.pk), workspace_id=workspace_id)
            .first()
        )
        if membership is None or not membership.can(Permission.CONFIGURE_WORKSPACE):
            # The admin site's permission check turns this into a refusal.
            return None
        self._enter(request, membership)
        return self._enforce_mfa(request, membership)

    def _enforce_mfa(self, request: HttpRequest, membership: Membership) -> HttpResponse | None:
        if not membership.workspace.require_mfa:
            return None
        if request.path.startswith(MFA_SETUP_PREFIXES):
            return None
        has_totp = Authenticator.objects.filter(
            user=request.user, type=Authenticator.Type.TOTP
        ).exists()
        if has_totp:
            return None
        messages.warning(
            request,
            f"{membership.workspace.name} requires two-factor authentication. Set up an "
            "authenticator app to continue.",
        )
        return redirect("mfa_activate_totp")
