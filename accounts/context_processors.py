from typing import Any

from django.http import HttpRequest

from accounts.access import memberships_of
from accounts.roles import permissions_of_role


def workspace(request: HttpRequest) -> dict[str, Any]:
    """Expose the current workspace, the user's role permissions and the switcher list."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    context: dict[str, Any] = {
        "workspace": getattr(request, "workspace", None),
        "membership": membership,
        "perms_in_workspace": (
            {p.value for p in permissions_of_role(membership.role)} if membership else set()
        ),
    }
    if user is not None and user.is_authenticated:
        context["switchable_memberships"] = memberships_of(user)
    return context
