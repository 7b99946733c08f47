"""What each staff role may do in a workspace.

`ROLE_PERMISSIONS` is the single source of truth; docs/roles.md shows the same table,
and a test fails when the two disagree.
"""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "CS manager"
    CSM = "csm", "CSM"
    SUPPORT = "support", "Support"
    VIEWER = "viewer", "Viewer"


class Permission(models.TextChoices):
    VIEW_WORKSPACE = "view_workspace", "See breeders, scores, alerts and timelines"
    LOG_ACTIVITY = "log_activity", "Log notes, calls and tasks on a breeder"
    EDIT_BREEDERS = "edit_breeders", "Edit breeder details"
    ASSIGN_BREEDERS = "assign_breeders", "Assign breeders to CSMs"
    VIEW_TEAM = "view_team", "See every CSM's portfolio and the team view"
    MANAGE_MEMBERS = "manage_members", "Invite members, change roles below owner, remove members"
    CONFIGURE_WORKSPACE = (
        "configure_workspace",
        ("Configure the workspace in the admin: programs, models, templates, write keys"),
    )
    MANAGE_SECURITY = "manage_security", "Require MFA, grant or remove the owner role"


_EVERYONE = frozenset(Role)

ROLE_PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.VIEW_WORKSPACE: _EVERYONE,
    Permission.LOG_ACTIVITY: frozenset(
        {Role.OWNER, Role.ADMIN, Role.MANAGER, Role.CSM, Role.SUPPORT}
    ),
    Permission.EDIT_BREEDERS: frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER, Role.CSM}),
    Permission.ASSIGN_BREEDERS: frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER}),
    Permission.VIEW_TEAM: frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER}),
    Permission.MANAGE_MEMBERS: frozenset({Role.OWNER, Role.ADMIN}),
    Permission.CONFIGURE_WORKSPACE: frozenset({Role.OWNER, Role.ADMIN}),
    Permission.MANAGE_SECURITY: frozenset({Role.OWNER}),
}


def role_has_permission(role: str, permission: Permission) -> bool:
    return role in ROLE_PERMISSIONS[permission]


def permissions_of_role(role: str) -> frozenset[Permission]:
    return frozenset(perm for perm, roles in ROLE_PERMISSIONS.items() if role in roles)
