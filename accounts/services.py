"""State changes for workspaces, members, invitations, write keys and breeders.

Every function is atomic, takes the acting user by keyword and writes an audit entry
in the same transaction. Emails leave only after the transaction commits.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from allauth.account.models import EmailAddress
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.invitations import INVITATION_LIFETIME
from accounts.models import (
    AuditEntry,
    Breeder,
    Invitation,
    Membership,
    User,
    Workspace,
    WriteKey,
)
from accounts.roles import Permission, Role
from accounts.scope import workspace_scope
from accounts.tasks import send_invitation_email

logger = logging.getLogger(__name__)

WRITE_KEY_PREFIX = "rdx_"


_F = TypeVar("_F", bound=Callable[..., Any])


def atomic_in_workspace(func: _F) -> _F:
    """Run a service atomically inside the scope of the workspace it works on.

    The workspace is the first argument, or the workspace of the object passed first.
    Callers in a request are already in that scope; commands and tasks need not be.
    """

    @functools.wraps(func)
    def wrapper(target: Any, *args: Any, **kwargs: Any) -> Any:
        workspace_id = target.pk if isinstance(target, Workspace) else target.workspace_id
        with transaction.atomic(), workspace_scope(workspace_id):
            return func(target, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def record_audit(
    workspace: Workspace, *, actor: User | None, action: str, target: Any = None, **data: Any
) -> AuditEntry:
    target_type = type(target).__name__ if target is not None else ""
    target_id = str(getattr(target, "public_id", getattr(target, "pk", ""))) if target else ""
    return AuditEntry.objects.create(
        workspace=workspace,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        data=data,
    )


def ensure_user(email: str, *, password: str | None = None, full_name: str = "") -> User:
    """Return the user with this email, creating it (with a verified address) if needed."""
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, full_name=full_name)
    elif password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@transaction.atomic
def create_workspace(
    *, name: str, slug: str, owner: User, time_zone: str = "UTC", actor: User | None = None
) -> Workspace:
    workspace = Workspace(name=name, slug=slug, time_zone=time_zone)
    workspace.full_clean()
    workspace.save()
    with workspace_scope(workspace):
        Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
        record_audit(workspace, actor=actor or owner, action="workspace.created", target=workspace)
    logger.info("Created workspace %s (%s) owned by user %s", workspace.pk, slug, owner.pk)
    return workspace


def _check_role_change_allowed(actor_membership: Membership, role: str) -> None:
    if role == Role.OWNER and not actor_membership.can(Permission.MANAGE_SECURITY):
        raise PermissionDenied("Only an owner can grant the owner role.")


@atomic_in_workspace
def invite_member(
    workspace: Workspace, *, actor_membership: Membership, email: str, role: str
) -> Invitation:
    """Create (or renew) an invitation and email its link once the transaction commits."""
    if not actor_membership.can(Permission.MANAGE_MEMBERS):
        raise PermissionDenied("Your role cannot invite members.")
    _check_role_change_allowed(actor_membership, role)
    email = email.strip().lower()
    if Membership.objects.filter(user__email=email).exists():
        raise ValidationError({"email": f"{email} is already a member of this workspace."})
    Invitation.objects.filter(
        email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        invited_by=actor_membership.user,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    record_audit(
        workspace,
        actor=actor_membership.user,
        action="invitation.created",
        target=invitation,
        email=email,
        role=role,
    )
    transaction.on_commit(
        lambda: send_invitation_email.delay(workspace_id=workspace.pk, invitation_id=invitation.pk)
    )
    return invitation


@transaction.atomic
def accept_invitation(invitation: Invitation, *, user: User) -> Membership:
    if not invitation.is_open:
        raise ValidationError("This invitation has expired or was withdrawn; ask for a new one.")
    verified = EmailAddress.objects.filter(
        user=user, email__iexact=invitation.email, verified=True
    ).exists()
    if not verified:
        raise PermissionDenied(
            f"This invitation is for {invitation.email}. Sign in with that address to accept it."
        )
    with workspace_scope(invitation.workspace_id):
        membership, created = Membership.objects.get_or_create(
            workspace_id=invitation.workspace_id, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        record_audit(
            invitation.workspace,
            actor=user,
            action="invitation.accepted",
            target=invitation,
            role=membership.role,
            new_member=created,
        )
    return membership


@atomic_in_workspace
def revoke_invitation(invitation: Invitation, *, actor_membership: Membership) -> None:
    if not actor_membership.can(Permission.MANAGE_MEMBERS):
        raise PermissionDenied("Your role cannot withdraw invitations.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record_audit(
        invitation.workspace,
        actor=actor_membership.user,
        action="invitation.revoked",
        target=invitation,
    )


def _owner_count(workspace: Workspace) -> int:
    return Membership.objects.filter(workspace=workspace, role=Role.OWNER).count()


@atomic_in_workspace
def change_role(membership: Membership, *, actor_membership: Membership, role: str) -> Membership:
    if not actor_membership.can(Permission.MANAGE_MEMBERS):
        raise PermissionDenied("Your role cannot change roles.")
    if role not in Role.values:
        raise ValidationError({"role": f"{role!r} is not a role; choose one of {Role.values}."})
    touches_owner = role == Role.OWNER or membership.role == Role.OWNER
    if touches_owner and not actor_membership.can(Permission.MANAGE_SECURITY):
        raise PermissionDenied("Only an owner can grant or remove the owner role.")
    # Lock the owners so two concurrent demotions cannot both pass the last-owner check.
    list(Membership.objects.select_for_update().filter(role=Role.OWNER))
    if (
        membership.role == Role.OWNER
        and role != Role.OWNER
        and _owner_count(membership.workspace) <= 1
    ):
        raise ValidationError({"role": "A workspace needs at least one owner."})
    old_role = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    record_audit(
        membership.workspace,
        actor=actor_membership.user,
        action="membership.role_changed",
        target=membership,
        old_role=old_role,
        new_role=role,
    )
    return membership


@atomic_in_workspace
def remove_member(membership: Membership, *, actor_membership: Membership) -> None:
    if not actor_membership.can(Permission.MANAGE_MEMBERS):
        raise PermissionDenied("Your role cannot remove members.")
    if membership.role == Role.OWNER:
        if not actor_membership.can(Permission.MANAGE_SECURITY):
            raise PermissionDenied("Only an owner can remove an owner.")
        list(Membership.objects.select_for_update().filter(role=Role.OWNER))
        if _owner_count(membership.workspace) <= 1:
            raise ValidationError("A workspace needs at least one owner.")
    # Breeders assigned to the leaving member go back to the unassigned pool.
    Breeder.objects.filter(assigned_csm=membership.user).update(assigned_csm=None)
    record_audit(
        membership.workspace,
        actor=actor_membership.user,
        action="membership.removed",
        target=membership,
        email=membership.user.email,
    )
    membership.delete()


@atomic_in_workspace
def set_require_mfa(workspace: Workspace, *, actor_membership: Membership, required: bool) -> None:
    if not actor_membership.can(Permission.MANAGE_SECURITY):
        raise PermissionDenied("Only an owner can change the MFA requirement.")
    workspace.require_mfa = required
    workspace.save(update_fields=["require_mfa"])
    record_audit(
        workspace,
        actor=actor_membership.user,
        action="workspace.mfa_requirement",
        target=workspace,
        required=required,
    )


def hash_write_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@atomic_in_workspace
def issue_write_key(workspace: Workspace, *, name: str, actor: User | None) -> tuple[WriteKey, str]:
    """Create a write key and return it with the raw key, which is never stored."""
    raw_key = WRITE_KEY_PREFIX + secrets.token_urlsafe(32)
    key = WriteKey.objects.create(
        workspace=workspace,
        name=name,
        prefix=raw_key[:10],
        key_hash=hash_write_key(raw_key),
        created_by=actor,
    )
    record_audit(workspace, actor=actor, action="write_key.issued", target=key, name=name)
    return key, raw_key


@atomic_in_workspace
def revoke_write_key(key: WriteKey, *, actor: User | None) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    record_audit(key.workspace, actor=actor, action="write_key.revoked", target=key)


def find_workspace_by_write_key(raw_key: str) -> Workspace | None:
    """Return the workspace of an active write key, or None.

    Reads across workspaces on purpose: the key is what tells us the workspace.
    """
    key = (
        WriteKey.unscoped_objects.select_related("workspace")
        .filter(key_hash=hash_write_key(raw_key), revoked_at__isnull=True)
        .first()
    )
    return key.workspace if key else None


BREEDER_EDITABLE_FIELDS = [
    "name",
    "business_name",
    "email",
    "time_zone",
    "country",
    "species",
    "animal_count",
    "operation",
    "experience",
    "plan",
]


@atomic_in_workspace
def update_breeder(
    breeder: Breeder, *, actor_membership: Membership, changes: dict[str, Any]
) -> Breeder:
    if not actor_membership.can(Permission.EDIT_BREEDERS):
        raise PermissionDenied("Your role cannot edit breeders.")
    if "assigned_csm" in changes and not actor_membership.can(Permission.ASSIGN_BREEDERS):
        raise PermissionDenied("Your role cannot assign breeders to CSMs.")
    before = {field: getattr(breeder, field) for field in changes}
    for field, value in changes.items():
        setattr(breeder, field, value)
    breeder.full_clean(exclude=["workspace"])
    breeder.save(update_fields=[*changes, "updated_at"])
    changed = {
        field: [str(before[field]), str(getattr(breeder, field))]
        for field in changes
        if before[field] != getattr(breeder, field)
    }
    record_audit(
        breeder.workspace,
        actor=actor_membership.user,
        action="breeder.updated",
        target=breeder,
        changed=changed,
    )
    return breeder
