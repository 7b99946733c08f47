"""The manager pages: team capacity with reassignment, and KPIs against targets."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.access import (
    WorkspaceRequest,
    get_breeder_for_request,
    get_membership_for_request,
    require_permission,
)
from accounts.models import Breeder, Membership, Tier
from accounts.roles import Permission
from segments import kpis as kpi_reports
from segments import services
from segments.capacity import (
    BAND_LABELS,
    Load,
    TeamCapacity,
    assignable_members,
    team_capacity,
)
from segments.charts import build_band_chart
from segments.models import CsmRole, OnboardingTarget

ASSIGN_PAGE_SIZE = 25
UNASSIGNED = "unassigned"
# Unassigned breeders of the tiers that need a personal CSM come first.
TIER_ORDER = Case(
    When(tier=Tier.ENTERPRISE, then=Value(0)),
    When(tier=Tier.PROFESSIONAL, then=Value(1)),
    When(tier="", then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


@require_GET
def capacity(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    """Show each CSM's portfolio against their role's range, the pool and a breeder list.

    The list shows unassigned breeders, or one member's breeders with `?from=<member
    public id>`, a page at a time, each with a form to assign it to someone else.
    """
    require_permission(request, Permission.VIEW_TEAM)
    team = team_capacity(request.workspace.pk)
    source = request.GET.get("from", UNASSIGNED)
    source_row = next((row for row in team.csms if str(row.membership.public_id) == source), None)
    if source_row is not None:
        breeders = Breeder.objects.filter(assigned_csm_id=source_row.membership.user_id)
        ordering: list[Any] = ["name", "pk"]
    else:
        source = UNASSIGNED
        breeders = Breeder.objects.filter(assigned_csm__isnull=True)
        ordering = [TIER_ORDER, "name", "pk"]
    page = Paginator(_with_scores(breeders).order_by(*ordering), ASSIGN_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "segments/capacity.html",
        {
            **_capacity_context(team),
            "page": page,
            "source": source,
            "source_row": source_row,
            "page_query": urlencode({"from": source}) if source != UNASSIGNED else "",
        },
    )


def _with_scores(breeders: QuerySet[Breeder]) -> QuerySet[Breeder]:
    return breeders.select_related("health_score", "assigned_csm").only(
        "public_id",
        "name",
        "business_name",
        "email",
        "external_id",
        "tier",
        "assigned_csm__full_name",
        "assigned_csm__email",
        "health_score__score",
        "health_score__band",
        "health_score__provisional",
        "health_score__coverage",
    )


def _capacity_context(team: TeamCapacity) -> dict[str, Any]:
    return {
        "team": team,
        "assignable": assignable_members(team),
        "csm_roles": CsmRole.choices,
    }


@require_POST
def assign_breeder(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    """Assign a breeder to the member in `csm` (a member public id), or to nobody if empty.

    An htmx request gets the breeder's row back, with the capacity table and the status
    line swapped out of band, so the counts change without a page load.
    """
    actor = require_permission(request, Permission.ASSIGN_BREEDERS)
    breeder = get_breeder_for_request(request, public_id)
    chosen = request.POST.get("csm", "")
    target = get_membership_for_request(request, chosen) if chosen else None
    error = ""
    try:
        changed = services.reassign_breeder(breeder, actor_membership=actor, to_membership=target)
    except ValidationError as problem:
        error = " ".join(problem.messages)
        changed = False
    team = team_capacity(request.workspace.pk)
    status = _assign_status(breeder, team, target, changed=changed, error=error)
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, status)
        back = reverse("segments:capacity", args=[workspace_slug])
        source = request.POST.get("from", "")
        return redirect(f"{back}?{urlencode({'from': source})}" if source else back)
    return render(
        request,
        "segments/_assign_response.html",
        {
            **_capacity_context(team),
            "breeder": _with_scores(Breeder.objects.filter(pk=breeder.pk)).get(),
            "status_message": status,
            "error": error,
            "source": request.POST.get("from", UNASSIGNED),
        },
        status=400 if error else 200,
    )


def _assign_status(
    breeder: Breeder,
    team: TeamCapacity,
    target: Membership | None,
    *,
    changed: bool,
    error: str,
) -> str:
    """Return the status line after an assignment: the error, the result, any overload."""
    if error:
        return error
    if target is None:
        return (
            f"{breeder.display_name} is now unassigned."
            if changed
            else f"{breeder.display_name} was already unassigned."
        )
    name = target.user.display_name
    if not changed:
        return f"{breeder.display_name} was already with {name}."
    row = next((row for row in team.csms if row.membership.pk == target.pk), None)
    message = f"{breeder.display_name} is now with {name}."
    if row is not None and row.load == Load.OVER and row.portfolio_range is not None:
        total = row.counts.total
        breeders = ngettext("%(total)d breeder", "%(total)d breeders", total) % {"total": total}
        message += (
            f" {name} now has {breeders}, above the range of "
            f"{row.portfolio_range.min_breeders}–{row.portfolio_range.max_breeders}."
        )
    return message


@require_POST
def set_csm_role(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    """Set a member's CSM role from the capacity table, then show the page again."""
    actor = require_permission(request, Permission.ASSIGN_BREEDERS)
    membership = get_membership_for_request(request, public_id)
    csm_role = request.POST.get("csm_role", "")
    try:
        services.set_csm_role(membership, actor_membership=actor, csm_role=csm_role)
    except ValidationError as problem:
        messages.error(request, " ".join(problem.messages))
    else:
        name = membership.user.display_name
        messages.success(
            request,
            f"{name}'s CSM role is now {CsmRole(csm_role).label}."
            if csm_role
            else f"{name} no longer has a CSM role.",
        )
    return redirect("segments:capacity", workspace_slug=workspace_slug)


@require_GET
def kpis(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    """Show onboarding targets per signup cohort, bands over time and recent churn."""
    require_permission(request, Permission.VIEW_TEAM)
    now = timezone.now()
    targets = list(OnboardingTarget.objects.filter(active=True).select_related("milestone"))
    settings = services.kpi_settings(request.workspace.pk)
    samples = kpi_reports.band_history()
    return render(
        request,
        "segments/kpis.html",
        {
            "targets": targets,
            "cohorts": kpi_reports.onboarding_cohorts(request.workspace, targets, now=now),
            "band_samples": samples,
            "band_chart": build_band_chart(samples),
            "band_labels": BAND_LABELS,
            "churn_periods": kpi_reports.recent_churn(
                request.workspace,
                now=now,
                target_percent=settings.monthly_churn_target_percent,
            ),
            "churn_target": settings.monthly_churn_target_percent,
        },
    )
