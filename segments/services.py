"""State changes for CSM roles and breeder assignments, and the default configuration.

Each change is atomic, takes the acting member by keyword, checks the role and writes
an audit entry in the same transaction.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Breeder, Membership
from accounts.roles import Permission, role_has_permission
from accounts.services import atomic_in_workspace, record_audit
from health.models import UNRESOLVED_STATES, Alert
from lifecycle.models import MilestoneDefinition
from segments.models import (
    DEFAULT_ONBOARDING_TARGETS,
    DEFAULT_PORTFOLIO_RANGES,
    POOLED_ROLES,
    CsmProfile,
    CsmRole,
    KpiSettings,
    OnboardingTarget,
    PortfolioRange,
)


def can_carry_breeders(membership: Membership) -> bool:
    """Return whether the member's role may work breeders, and so be assigned some."""
    return role_has_permission(membership.role, Permission.EDIT_BREEDERS)


@atomic_in_workspace
def reassign_breeder(
    breeder: Breeder, *, actor_membership: Membership, to_membership: Membership | None
) -> bool:
    """Assign the breeder to a member, or to nobody (the unassigned pool).

    The breeder's unresolved alerts move with it, because an alert's owner is the CSM
    whose inbox shows it. Returns False when the breeder already had that CSM, in which
    case nothing is written.
    """
    if not actor_membership.can(Permission.ASSIGN_BREEDERS):
        raise PermissionDenied("Your role cannot assign breeders to CSMs.")
    if to_membership is not None:
        if to_membership.workspace_id != breeder.workspace_id:
            raise ValidationError({"csm": "That member belongs to another workspace."})
        if not can_carry_breeders(to_membership):
            raise ValidationError(
                {
                    "csm": f"{to_membership.user.display_name} is a "
                    f"{to_membership.get_role_display()}, a role that does not work breeders; "
                    "choose a CSM."
                }
            )
    # Lock the row, so two managers moving the same breeder at once are applied in turn
    # and each audit entry names the CSM the breeder really came from.
    locked = (
        Breeder.objects.select_for_update(of=("self",))
        .select_related("assigned_csm")
        .get(pk=breeder.pk)
    )
    before = locked.assigned_csm
    after = to_membership.user if to_membership is not None else None
    if before == after:
        return False
    locked.assigned_csm = after
    locked.save(update_fields=["assigned_csm", "updated_at"])
    breeder.assigned_csm = after
    Alert.objects.filter(breeder=locked, state__in=UNRESOLVED_STATES).update(owner=after)
    record_audit(
        actor_membership.workspace,
        actor=actor_membership.user,
        action="breeder.reassigned",
        target=locked,
        from_csm=before.email if before else "",
        to_csm=after.email if after else "",
    )
    return True


@atomic_in_workspace
def set_csm_role(membership: Membership, *, actor_membership: Membership, csm_role: str) -> None:
    """Set the member's CSM role, or clear it with an empty string.

    Members of a pooled role work the pool: their alert inbox also shows the alerts of
    breeders without a CSM, so `works_pool` follows the role.
    """
    if not actor_membership.can(Permission.ASSIGN_BREEDERS):
        raise PermissionDenied("Your role cannot change CSM roles.")
    if csm_role and csm_role not in CsmRole.values:
        raise ValidationError(
            {"csm_role": f"{csm_role!r} is not a CSM role; choose one of {CsmRole.values}."}
        )
    if csm_role and not can_carry_breeders(membership):
        raise ValidationError(
            {
                "csm_role": f"{membership.user.display_name} is a {membership.get_role_display()}, "
                "a role that does not work breeders."
            }
        )
    profile = CsmProfile.objects.filter(membership=membership).first()
    old_role = profile.csm_role if profile else ""
    if csm_role:
        CsmProfile.objects.update_or_create(membership=membership, defaults={"csm_role": csm_role})
    elif profile is not None:
        profile.delete()
    works_pool = csm_role in POOLED_ROLES
    if membership.works_pool != works_pool:
        membership.works_pool = works_pool
        membership.save(update_fields=["works_pool"])
    record_audit(
        actor_membership.workspace,
        actor=actor_membership.user,
        action="membership.csm_role_changed",
        target=membership,
        old_csm_role=old_role,
        new_csm_role=csm_role,
    )


def portfolio_ranges(workspace_id: int) -> dict[str, PortfolioRange]:
    """Return the range of each CSM role: the workspace's own, else the default (unsaved)."""
    saved = {row.csm_role: row for row in PortfolioRange.objects.filter(workspace_id=workspace_id)}
    return {
        role: saved.get(role) or default_portfolio_range(workspace_id, role) for role in CsmRole
    }


def default_portfolio_range(workspace_id: int, role: str) -> PortfolioRange:
    fewest, most, tiers = DEFAULT_PORTFOLIO_RANGES[role]
    return PortfolioRange(
        workspace_id=workspace_id,
        csm_role=role,
        min_breeders=fewest,
        max_breeders=most,
        tiers=list(tiers),
    )


def kpi_settings(workspace_id: int) -> KpiSettings:
    """Return the workspace's KPI settings, or the defaults (unsaved) when none are saved."""
    saved = KpiSettings.objects.filter(workspace_id=workspace_id).first()
    return saved or KpiSettings(workspace_id=workspace_id)


def create_default_configuration(workspace_id: int) -> None:
    """Create the default portfolio ranges, KPI settings and onboarding targets.

    Rows that exist are left alone, so this is safe to run again. An onboarding target
    is created only when the workspace has the milestone it measures.
    """
    PortfolioRange.unscoped_objects.bulk_create(
        [default_portfolio_range(workspace_id, role) for role in CsmRole],
        ignore_conflicts=True,
    )
    KpiSettings.unscoped_objects.bulk_create(
        [KpiSettings(workspace_id=workspace_id)], ignore_conflicts=True
    )
    milestones = dict(
        MilestoneDefinition.unscoped_objects.filter(
            workspace_id=workspace_id, key__in=[key for key, *_ in DEFAULT_ONBOARDING_TARGETS]
        ).values_list("key", "pk")
    )
    OnboardingTarget.unscoped_objects.bulk_create(
        [
            OnboardingTarget(
                workspace_id=workspace_id,
                milestone_id=milestones[key],
                label=label,
                within_hours=hours,
                target_percent=percent,
                order=order,
            )
            for order, (key, label, hours, percent) in enumerate(DEFAULT_ONBOARDING_TARGETS)
            if key in milestones
        ],
        ignore_conflicts=True,
    )
