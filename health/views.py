import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import (
    WorkspaceRequest,
    get_breeder_for_request,
    get_in_workspace,
    require_permission,
)
from accounts.models import Breeder, Tier
from accounts.roles import Permission
from health import alerts
from health.measures import MEASURES_BY_KEY
from health.models import (
    Alert,
    AlertState,
    Band,
    HealthScore,
    HealthSnapshot,
)
from health.portfolio import (
    ALERT_FILTERS,
    SORTS,
    PortfolioFilters,
    annotate_portfolio,
    apply_filters,
    band_counts,
    portfolio_rows,
)
from lifecycle.models import Phase

PORTFOLIO_PAGE_SIZE = 50
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@require_GET
def portfolio(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    """List a portfolio of breeders with their health, filtered and sorted from the URL.

    CSMs see their own breeders. Roles that may see the team choose any CSM's
    portfolio with `?csm=<public id>`, `?csm=all` for every breeder or `?csm=mine`
    for their own. Without `csm`, a member who may see the team but has no breeders
    of their own, as is usual for managers, is redirected to `?csm=all`. An htmx
    request gets only the results partial; a direct load, or htmx restoring a page
    from history, gets the full page.
    """
    membership = require_permission(request, Permission.VIEW_WORKSPACE)
    breeders = Breeder.objects.all()
    can_view_team = membership.can(Permission.VIEW_TEAM)
    csm_filter = request.GET.get("csm", "") if can_view_team else ""
    if can_view_team and not csm_filter and not breeders.filter(assigned_csm=request.user).exists():
        query = request.GET.copy()
        query["csm"] = "all"
        return redirect(f"{request.path}?{query.urlencode()}")
    if csm_filter == "all":
        shown = "all"
    elif csm_filter and csm_filter != "mine":
        csm_id = _uuid_or_none(csm_filter)
        breeders = breeders.filter(assigned_csm__public_id=csm_id) if csm_id else breeders.none()
        shown = csm_filter
    else:
        breeders = breeders.filter(assigned_csm=request.user)
        shown = "mine"
    filters = PortfolioFilters.from_query(request.GET)
    counts = band_counts(apply_filters(breeders, filters, include_band=False))
    results = annotate_portfolio(apply_filters(breeders, filters)).order_by(*SORTS[filters.sort][1])
    page = Paginator(results, PORTFOLIO_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = portfolio_rows(list(page.object_list), workspace_slug=workspace_slug)
    # Links and the filter form keep an explicit `csm`, so that `csm=mine` does not
    # turn back into the redirect above.
    csm_query = f"{urlencode({'csm': csm_filter})}&" if csm_filter else ""
    band_links = [
        (value, label, counts[value], f"?{csm_query}{filters.as_query(band=value)}")
        for value, label in [*Band.choices, ("none", "Not scored")]
    ]
    context = {
        "page": page,
        "rows": rows,
        "shown": shown,
        "csm_filter": csm_filter,
        "filters": filters,
        "band_links": band_links,
        "csm_query": csm_query,
        "sorts": {key: label for key, (label, _) in SORTS.items()},
        "alert_filters": ALERT_FILTERS,
        "tiers": Tier.choices,
        "phases": Phase.choices,
        "bands": Band.choices,
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "health/_portfolio_results.html" if partial else "health/portfolio.html"
    response = render(request, template, context)
    # The same URL returns a partial or a full page depending on this header, so
    # caches must keep them apart.
    response["Vary"] = "HX-Request"
    return response


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _inbox(request: WorkspaceRequest) -> list[Alert]:
    inbox = list(
        Alert.objects.filter(
            alerts.inbox_filter(request.membership),
            state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.SNOOZED],
        ).select_related("breeder", "owner")
    )
    inbox.sort(
        key=lambda alert: (
            alert.state == AlertState.SNOOZED,
            SEVERITY_ORDER[alert.severity],
            alert.opened_at,
        )
    )
    return inbox


@require_GET
def alert_inbox(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    require_permission(request, Permission.VIEW_WORKSPACE)
    return render(
        request,
        "health/alerts.html",
        {
            "alerts": _inbox(request),
            "now": timezone.now(),
            "default_snooze": (timezone.localdate() + timedelta(days=7)).isoformat(),
        },
    )


@require_GET
def alert_count(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    """Render the header's open-alert count, which htmx refreshes without a page load."""
    require_permission(request, Permission.VIEW_WORKSPACE)
    return render(
        request,
        "health/_alert_count.html",
        {"open_alert_count": alerts.open_alert_count(request.membership)},
    )


@require_POST
def alert_action(
    request: WorkspaceRequest, workspace_slug: str, public_id: str, action: str
) -> HttpResponse:
    actor = require_permission(request, Permission.LOG_ACTIVITY)
    alert = get_in_workspace(Alert.objects.select_related("breeder"), public_id)
    error = ""
    notice = ""
    try:
        if action == "acknowledge":
            alerts.acknowledge(alert, actor=actor)
        elif action == "task":
            task = alerts.create_follow_up_task(alert, actor=actor)
            notice = f"Follow-up task for you, due {task.due_on.day} {task.due_on:%b}."
        elif action == "snooze":
            until = _parse_snooze_day(request.POST.get("until", ""))
            alerts.snooze(alert, actor=actor, until=until)
        elif action == "resolve":
            alerts.resolve(alert, actor=actor, note=request.POST.get("note", ""))
        else:
            raise Http404("Unknown alert action.")
    except ValidationError as problem:
        error = " ".join(problem.messages)
    if not request.htmx:
        return redirect("health:alerts", workspace_slug=workspace_slug)
    response = render(
        request,
        "health/_alert_row.html",
        {
            "alert": alert,
            "error": error,
            "notice": notice,
            "default_snooze": (timezone.localdate() + timedelta(days=7)).isoformat(),
        },
        status=400 if error else 200,
    )
    response["HX-Trigger"] = "alerts-changed"
    return response


def _parse_snooze_day(value: str) -> datetime:
    """Snooze until the start of the chosen day in the workspace's time zone."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()  # noqa: DTZ007 (a date, made aware below)
    except ValueError:
        raise ValidationError({"until": "Give the date to snooze until as YYYY-MM-DD."}) from None
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _day_text(iso_value: str | None) -> str:
    """Format the day of an ISO date or datetime from a snapshot as "3 Dec 2026"."""
    if not iso_value:
        return ""
    try:
        day = date.fromisoformat(iso_value[:10])
    except ValueError:
        return iso_value
    return f"{day.day} {day:%b %Y}"


@require_GET
def breeder_health(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    """Render the breeder's score, per-measure breakdown, coverage and latest explanation."""
    require_permission(request, Permission.VIEW_WORKSPACE)
    breeder = get_breeder_for_request(request, public_id)
    score = HealthScore.objects.filter(breeder=breeder).select_related("model").first()
    snapshot = (
        HealthSnapshot.objects.filter(breeder=breeder).order_by("-day").first() if score else None
    )
    breakdown: list[dict[str, Any]] = []
    if snapshot is not None:
        for key, values in snapshot.measures.items():
            spec = MEASURES_BY_KEY.get(key)
            breakdown.append(
                {
                    "label": spec.label if spec else key,
                    "category": spec.category if spec else "",
                    **values,
                    "as_of": _day_text(values.get("as_of")),
                }
            )
        breakdown.sort(key=lambda row: (row["category"], row["label"]))
    return render(
        request,
        "health/_breeder_health.html",
        {
            "breeder": breeder,
            "score": score,
            "breakdown": breakdown,
            "coverage_percent": round(float(score.coverage) * 100) if score else None,
        },
    )
