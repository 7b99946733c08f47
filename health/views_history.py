"""The breeder's score-history chart, loaded into the health panel by htmx."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Case, IntegerField, Q, Subquery, Value, When
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import WorkspaceRequest, get_breeder_for_request, require_permission
from accounts.models import Breeder
from accounts.roles import Permission
from health import charts
from health.models import HealthModel, HealthScore, HealthSnapshot, ModelStatus
from health.services import ensure_active_model

DEFAULT_DAYS = 90
MIN_DAYS = 30
MAX_DAYS = 365
WINDOW_CHOICES = [30, 90, 180, 365]


def window_days(value: str | None) -> int:
    """Return the `?days=` value clamped to 30-365, or 90 when it is missing or not a number."""
    try:
        days = int(value or DEFAULT_DAYS)
    except ValueError:
        return DEFAULT_DAYS
    return min(max(days, MIN_DAYS), MAX_DAYS)


def threshold_model(breeder: Breeder, workspace_id: int) -> HealthModel:
    """Return the model whose band limits the chart draws.

    That is the model of the breeder's current score, else the workspace's active
    model. One query reads both candidates and orders the score's model first. The
    fallback to `ensure_active_model` adds queries only in a workspace that has no
    active model yet, where it creates the default one.
    """
    score_model_ids = HealthScore.objects.filter(breeder=breeder).values("model_id")
    model = (
        HealthModel.objects.filter(Q(pk__in=score_model_ids) | Q(status=ModelStatus.ACTIVE))
        .annotate(
            # The day of the breeder's current score, read in the same query.
            scored_on=Subquery(HealthScore.objects.filter(breeder=breeder).values("as_of")[:1]),
            is_score_model=Case(
                When(pk__in=score_model_ids, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
        )
        .order_by("is_score_model")
        .first()
    )
    return model or ensure_active_model(workspace_id)


@require_GET
def score_history(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    """Render the breeder's daily scores of the last `?days=` days as an SVG chart.

    The window ends on the day of the breeder's current score (today, unless the data
    stopped earlier, as in a replay of old history) and is clamped to 30-365 days (90 by
    default). The health
    panel loads this partial with htmx. Without JavaScript, the panel's plain link
    opens the same partial on its own.
    """
    require_permission(request, Permission.VIEW_WORKSPACE)
    breeder = get_breeder_for_request(request, public_id)
    days = window_days(request.GET.get("days"))
    model = threshold_model(breeder, request.workspace.pk)
    end = timezone.localdate()
    scored_on = getattr(model, "scored_on", None)
    if scored_on is not None and scored_on < end:
        end = scored_on
    start = end - timedelta(days=days - 1)

    snapshots = HealthSnapshot.objects.filter(breeder=breeder, day__range=(start, end)).values_list(
        "day", "score", "band"
    )
    chart = charts.build_score_history(
        snapshots,
        start=start,
        end=end,
        green_from=model.green_from,
        yellow_from=model.yellow_from,
    )
    return render(
        request,
        "health/_score_history.html",
        {
            "breeder": breeder,
            "chart": chart,
            "model": model,
            "days": days,
            "window_choices": WINDOW_CHOICES,
        },
    )
