from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import WorkspaceRequest, require_permission
from accounts.models import Breeder
from accounts.roles import Permission

PORTFOLIO_PAGE_SIZE = 50


@require_GET
def portfolio(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    """List the breeders assigned to the signed-in CSM.

    Roles that may see the team choose any CSM's portfolio with `?csm=<public id>`,
    or `?csm=all` for every breeder.
    """
    membership = require_permission(request, Permission.VIEW_WORKSPACE)
    breeders = Breeder.objects.select_related("assigned_csm").order_by("name", "pk")
    csm_filter = request.GET.get("csm", "")
    if membership.can(Permission.VIEW_TEAM) and csm_filter == "all":
        shown = "all"
    elif membership.can(Permission.VIEW_TEAM) and csm_filter:
        breeders = breeders.filter(assigned_csm__public_id=csm_filter)
        shown = csm_filter
    else:
        breeders = breeders.filter(assigned_csm=request.user)
        shown = "mine"
    page = Paginator(breeders, PORTFOLIO_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "health/portfolio.html", {"page": page, "shown": shown})
