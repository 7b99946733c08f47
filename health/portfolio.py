"""The CSM portfolio: one query for a page of breeders with everything the table shows.

Scores and phases are joined through their one-to-one rows; open alerts, the next
renewal and the last human touch are correlated subqueries that PostgreSQL runs only
for the rows of the page. The query count of the page does not grow with its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils import timezone

from accounts.models import Breeder, Tier
from health.models import Alert, AlertState, Band
from lifecycle.models import Phase, Subscription, TimelineEntry, TimelineKind

SORTS: dict[str, tuple[str, list[Any]]] = {
    "name": ("Name", ["name", "pk"]),
    "score": ("Lowest score first", [F("health_score__score").asc(nulls_last=True), "pk"]),
    "-score": ("Highest score first", [F("health_score__score").desc(nulls_last=True), "pk"]),
    "renewal": ("Next renewal first", [F("next_renewal").asc(nulls_last=True), "pk"]),
    "last_touch": ("Longest without a touch first", [F("last_touch").asc(nulls_first=True), "pk"]),
    "alerts": ("Most open alerts first", ["-open_alerts", "pk"]),
}
ALERT_FILTERS = {"any": "With open alerts", "none": "Without open alerts"}
HUMAN_TOUCHES = [TimelineKind.NOTE, TimelineKind.CALL, TimelineKind.MEETING]


@dataclass(frozen=True)
class PortfolioFilters:
    band: str = ""
    tier: str = ""
    phase: str = ""
    alert: str = ""
    q: str = ""
    sort: str = "name"

    @classmethod
    def from_query(cls, query: QueryDict) -> PortfolioFilters:
        """Read the filters from the URL, ignoring values that are not valid choices."""

        def choice(name: str, allowed: object) -> str:
            value = query.get(name, "")
            return value if value in allowed else ""  # type: ignore[operator]

        return cls(
            band=choice("band", [*Band.values, "none"]),
            tier=choice("tier", Tier.values),
            phase=choice("phase", Phase.values),
            alert=choice("alert", ALERT_FILTERS),
            q=query.get("q", "").strip()[:100],
            sort=choice("sort", SORTS) or "name",
        )

    def as_query(self, **overrides: Any) -> str:
        values = {**self.__dict__, **overrides}
        return urlencode(
            {
                key: value
                for key, value in values.items()
                if value and not (key == "sort" and value == "name")
            }
        )


def annotate_portfolio(breeders: QuerySet[Breeder]) -> QuerySet[Breeder]:
    now = timezone.now()
    open_alerts = (
        Alert.objects.filter(breeder=OuterRef("pk"))
        .exclude(state=AlertState.RESOLVED)
        .values("breeder")
        .annotate(total=Count("pk"))
        .values("total")
    )
    next_renewal = (
        Subscription.objects.filter(
            breeder=OuterRef("pk"), status__in=["active", "trialing"], current_period_end__gte=now
        )
        .order_by("current_period_end")
        .values("current_period_end")[:1]
    )
    last_touch = (
        TimelineEntry.objects.filter(breeder=OuterRef("pk"), kind__in=HUMAN_TOUCHES)
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    # The table shows neither the CSM nor the score's categories and explanation, so
    # they are not loaded.
    return (
        breeders.select_related("health_score", "lifecycle_phase")
        .defer("health_score__categories", "health_score__explanation")
        .annotate(
            open_alerts=Coalesce(Subquery(open_alerts), Value(0)),
            next_renewal=Subquery(next_renewal),
            last_touch=Subquery(last_touch),
        )
    )


def apply_filters(
    breeders: QuerySet[Breeder], filters: PortfolioFilters, *, include_band: bool = True
) -> QuerySet[Breeder]:
    if filters.q:
        breeders = breeders.filter(
            Q(name__icontains=filters.q)
            | Q(business_name__icontains=filters.q)
            | Q(email__icontains=filters.q)
        )
    if filters.tier:
        breeders = breeders.filter(tier=filters.tier)
    if filters.phase:
        breeders = breeders.filter(lifecycle_phase__phase=filters.phase)
    if filters.alert:
        with_alerts = Alert.objects.exclude(state=AlertState.RESOLVED).values("breeder_id")
        if filters.alert == "any":
            breeders = breeders.filter(pk__in=with_alerts)
        else:
            breeders = breeders.exclude(pk__in=with_alerts)
    if include_band and filters.band == "none":
        breeders = breeders.filter(Q(health_score__isnull=True) | Q(health_score__band=""))
    elif include_band and filters.band:
        breeders = breeders.filter(health_score__band=filters.band)
    return breeders


def band_counts(breeders: QuerySet[Breeder]) -> dict[str, int]:
    """Count the breeders per band (and unscored ones) in one grouped query."""
    counts = dict.fromkeys([*Band.values, "none"], 0)
    rows = breeders.order_by().values("health_score__band").annotate(total=Count("pk"))
    for row in rows:
        counts[row["health_score__band"] or "none"] += row["total"]
    return counts
