"""KPI reports: onboarding targets per signup cohort, bands over time and monthly churn.

Each report is one or two grouped queries whatever the number of breeders, cohorts or
weeks, so the page's query count depends only on the number of reports.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q
from django.db.models.functions import TruncMonth

from accounts.models import Breeder, Workspace
from health.models import HealthSnapshot
from lifecycle.models import Cancellation, MilestoneAchievement, Subscription, SubscriptionStatus
from segments.capacity import BAND_KEYS, BAND_LABELS
from segments.models import OnboardingTarget

COHORT_MONTHS = 12
BAND_WEEKS = 12


def month_start(day: date, months_back: int = 0) -> date:
    """Return the first day of the month `months_back` months before `day`'s month."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def local_midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


# Onboarding cohorts ------------------------------------------------------------------


@dataclass(frozen=True)
class CohortCell:
    """One target in one cohort: of the breeders whose window has ended, how many made it.

    Breeders still inside the window are `pending` and left out of the rate, so a young
    cohort is not shown as failing a target its breeders still have time to reach.
    """

    target: OnboardingTarget
    due: int
    reached: int
    pending: int

    @property
    def percent(self) -> float | None:
        return 100 * self.reached / self.due if self.due else None

    @property
    def met(self) -> bool | None:
        percent = self.percent
        return None if percent is None else percent >= self.target.target_percent


@dataclass(frozen=True)
class CohortRow:
    month: date
    size: int
    cells: list[CohortCell]


def onboarding_cohorts(
    workspace: Workspace,
    targets: list[OnboardingTarget],
    *,
    now: datetime,
    months: int = COHORT_MONTHS,
) -> list[CohortRow]:
    """Return one row per signup month, newest first, over the last `months` months.

    Months are calendar months in the workspace's time zone. A breeder reaches a target
    when the milestone's achievement time is at most `within_hours` after signup. A
    late achievement counts if it still falls inside that window. One query.
    """
    zone = zoneinfo.ZoneInfo(workspace.time_zone)
    first_month = month_start(now.astimezone(zone).date(), months - 1)
    aggregates: dict[str, Count] = {"size": Count("pk")}
    for target in targets:
        window = timedelta(hours=target.within_hours)
        window_ended = Q(signed_up_at__lte=now - window)
        reached_in_time = Exists(
            MilestoneAchievement.objects.filter(
                breeder=OuterRef("pk"),
                milestone_id=target.milestone_id,
                achieved_at__isnull=False,
                achieved_at__lte=OuterRef("signed_up_at") + window,
            )
        )
        aggregates[f"due_{target.pk}"] = Count("pk", filter=window_ended)
        aggregates[f"reached_{target.pk}"] = Count("pk", filter=window_ended & Q(reached_in_time))
    rows = (
        Breeder.objects.filter(signed_up_at__gte=local_midnight(first_month, zone))
        .annotate(cohort=TruncMonth("signed_up_at", tzinfo=zone))
        .order_by()
        .values("cohort")
        .annotate(**aggregates)
    )
    by_month: dict[date, dict[str, Any]] = {row["cohort"].date(): dict(row) for row in rows}
    result = []
    for back in range(months):
        month = month_start(now.astimezone(zone).date(), back)
        row = by_month.get(month)
        size = row["size"] if row else 0
        cells = []
        for target in targets:
            due = row[f"due_{target.pk}"] if row else 0
            reached = row[f"reached_{target.pk}"] if row else 0
            cells.append(CohortCell(target, due=due, reached=reached, pending=size - due))
        result.append(CohortRow(month, size, cells))
    return result


# Bands over time ---------------------------------------------------------------------


@dataclass(frozen=True)
class BandSample:
    """The breeders per band on one day, from that day's health snapshots."""

    day: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def percent(self, band: str) -> float:
        return 100 * self.counts[band] / self.total if self.total else 0.0

    def bands(self) -> list[tuple[str, str, int, float]]:
        return [
            (band, BAND_LABELS[band], self.counts[band], self.percent(band)) for band in BAND_KEYS
        ]


def band_history(weeks: int = BAND_WEEKS) -> list[BandSample]:
    """Return the band counts on the newest snapshot day and each week before it, oldest first.

    Anchoring on the newest snapshot day, not today, keeps the last column full before
    the day's recompute has run. Two queries, both on the (workspace, day) index.
    """
    newest = HealthSnapshot.objects.aggregate(newest=Max("day"))["newest"]
    if newest is None:
        return []
    days = [newest - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]
    counts = {day: dict.fromkeys(BAND_KEYS, 0) for day in days}
    rows = (
        HealthSnapshot.objects.filter(day__in=days)
        .order_by()
        .values("day", "band")
        .annotate(total=Count("pk"))
    )
    for row in rows:
        counts[row["day"]][row["band"] or "none"] += row["total"]
    return [BandSample(day, counts[day]) for day in days]


# Churn -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnPeriod:
    """Logo churn of one period: breeders subscribed at its start who cancelled in it."""

    label: str
    start: datetime
    end: datetime
    subscribed_at_start: int
    churned: int
    cancelling_breeders: int
    target_percent: Decimal

    @property
    def percent(self) -> float | None:
        return 100 * self.churned / self.subscribed_at_start if self.subscribed_at_start else None

    @property
    def met(self) -> bool | None:
        percent = self.percent
        return None if percent is None else percent < self.target_percent


def subscribed_at(moment: datetime) -> Q:
    """Match subscriptions that were running, out of any trial, at `moment`.

    A subscription counts when it had started and had not ended by then and is not
    incomplete now. Statuses are current, not historical, so one that is incomplete
    today is left out of every past moment too. A cancelled subscription without an
    end time ended when it was cancelled.
    """
    ended_before = Q(ended_at__lte=moment) | Q(
        ended_at__isnull=True, status=SubscriptionStatus.CANCELED, canceled_at__lte=moment
    )
    in_trial = Q(trial_end__gt=moment, started_at__lte=moment)
    never_paid = Q(
        status__in=[SubscriptionStatus.INCOMPLETE, SubscriptionStatus.INCOMPLETE_EXPIRED]
    )
    return Q(started_at__lte=moment) & ~ended_before & ~in_trial & ~never_paid


def churn(label: str, start: datetime, end: datetime, *, target_percent: Decimal) -> ChurnPeriod:
    """Measure churn from `start` (included) to `end` (excluded). One query.

    churn = breeders subscribed at the start with a cancellation in the period
            ÷ breeders subscribed at the start.
    """
    running = Subscription.objects.filter(subscribed_at(start), breeder=OuterRef("pk"))
    cancelled = Cancellation.objects.filter(
        breeder=OuterRef("pk"), canceled_at__gte=start, canceled_at__lt=end
    )
    counts = Breeder.objects.aggregate(
        subscribed=Count("pk", filter=Q(Exists(running))),
        churned=Count("pk", filter=Q(Exists(running)) & Q(Exists(cancelled))),
        cancelling=Count("pk", filter=Q(Exists(cancelled))),
    )
    return ChurnPeriod(
        label=label,
        start=start,
        end=end,
        subscribed_at_start=counts["subscribed"],
        churned=counts["churned"],
        cancelling_breeders=counts["cancelling"],
        target_percent=target_percent,
    )


def recent_churn(
    workspace: Workspace, *, now: datetime, target_percent: Decimal
) -> list[ChurnPeriod]:
    """Return the churn of the last full calendar month and of this month so far."""
    zone = zoneinfo.ZoneInfo(workspace.time_zone)
    this_month = month_start(now.astimezone(zone).date())
    last_month = month_start(this_month, 1)
    this_start = local_midnight(this_month, zone)
    last_start = local_midnight(last_month, zone)
    return [
        churn(f"{last_month:%B %Y}", last_start, this_start, target_percent=target_percent),
        churn(f"{this_month:%B %Y} so far", this_start, now, target_percent=target_percent),
    ]
