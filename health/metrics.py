"""Raw metrics for every breeder of a workspace, read set-based as of one day.

A handful of grouped queries over the daily activity rollups, subscriptions,
tickets and survey answers return one row per breeder each; nothing here loops over
breeders with queries. Only data dated on or before the as-of day is read, so the
same code computes past scores for history backfills and backtests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.models import Breeder
from health.measures import CORE_FEATURES
from lifecycle.models import DailyActivity, Subscription, SurveyAnswer, Ticket

ACTIVE_STATUS_SCORES = {
    "active": 100,
    "trialing": 80,
    "paused": 40,
    "past_due": 30,
    "incomplete": 30,
    "unpaid": 10,
}


@dataclass
class BreederInputs:
    """Inputs of one breeder as of one day, in the shape the scoring reads."""

    signed_up_on: date
    profile_completeness: float
    profile_as_of: date
    has_activity: bool = False
    last_activity_day: date | None = None
    activity: dict[str, float] = field(default_factory=dict)
    subscription: tuple[float, float, date] | None = None
    tickets_in_window: int = 0
    last_ticket_day: date | None = None
    survey_average: float | None = None
    survey_as_of: date | None = None


@dataclass
class WorkspaceInputs:
    as_of: date
    breeders: dict[int, BreederInputs]
    activity_feed_day: date | None
    ticket_feed_day: date | None


PROFILE_FIELDS = [
    "name",
    "email",
    "country",
    "species",
    "animal_count",
    "operation",
    "experience",
    "time_zone",
    "business_name",
]


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def load_inputs(
    workspace_id: int,
    as_of: date,
    windows: dict[str, int],
    breeder_ids: Sequence[int] | None = None,
) -> WorkspaceInputs:
    """Read every metric for the workspace's breeders (or the given ones) as of a day."""
    cutoff = _end_of_day(as_of)
    breeder_filter = "" if breeder_ids is None else "AND breeder_id = ANY(%(breeder_ids)s)"
    params: dict[str, Any] = {
        "workspace_id": workspace_id,
        "day": as_of,
        "cutoff": cutoff,
        "breeder_ids": list(breeder_ids or []),
    }

    breeders: dict[int, BreederInputs] = {}
    queryset = Breeder.objects.filter(workspace_id=workspace_id, signed_up_at__lt=cutoff)
    if breeder_ids is not None:
        queryset = queryset.filter(pk__in=breeder_ids)
    for row in queryset.values("pk", "signed_up_at", "updated_at", *PROFILE_FIELDS):
        filled = sum(1 for name in PROFILE_FIELDS if row[name] not in ("", None, 0, []))
        breeders[row["pk"]] = BreederInputs(
            signed_up_on=row["signed_up_at"].date(),
            profile_completeness=filled / len(PROFILE_FIELDS),
            profile_as_of=min(row["updated_at"].date(), as_of),
        )

    _load_activity(params, windows, breeder_filter, breeders)
    _load_subscriptions(params, breeder_filter, breeders, as_of)
    _load_tickets(params, windows, breeder_filter, breeders)
    _load_surveys(params, windows, breeder_filter, breeders)

    activity_feed = _fetch(
        f"SELECT max(day) FROM {DailyActivity._meta.db_table} "  # noqa: S608
        "WHERE workspace_id = %(workspace_id)s AND day <= %(day)s",
        params,
    )[0][0]
    ticket_feed = _fetch(
        f"SELECT max(opened_at) FROM {Ticket._meta.db_table} "  # noqa: S608
        "WHERE workspace_id = %(workspace_id)s AND opened_at < %(cutoff)s",
        params,
    )[0][0]
    return WorkspaceInputs(
        as_of=as_of,
        breeders=breeders,
        activity_feed_day=activity_feed,
        ticket_feed_day=ticket_feed.date() if ticket_feed else None,
    )


def _window(windows: dict[str, int], key: str) -> int:
    return max(1, windows.get(key, 30))


def _load_activity(
    params: dict[str, Any],
    windows: dict[str, int],
    breeder_filter: str,
    breeders: dict[int, BreederInputs],
) -> None:
    params = dict(
        params,
        core=CORE_FEATURES,
        **{
            f"w_{key}": _window(windows, key)
            for key in (
                "login_frequency",
                "feature_adoption",
                "community_engagement",
                "growth",
                "marketplace_activity",
                "integration_depth",
                "advocacy",
            )
        },
    )
    in_window = "day > %(day)s - %(w_{0})s"
    sql = f"""
        SELECT breeder_id, max(day),
          count(DISTINCT day) FILTER (WHERE feature = 'login'
                                      AND {in_window.format("login_frequency")}),
          count(DISTINCT feature) FILTER (WHERE feature = ANY(%(core)s)
                                          AND {in_window.format("feature_adoption")}),
          coalesce(sum(event_count) FILTER (WHERE feature = 'community'
                                            AND {in_window.format("community_engagement")}), 0),
          coalesce(sum(event_count) FILTER (WHERE feature IN ('records', 'pedigrees')
                                            AND {in_window.format("growth")}), 0),
          coalesce(sum(event_count) FILTER (WHERE feature IN ('records', 'pedigrees')
                                            AND day <= %(day)s - %(w_growth)s
                                            AND day > %(day)s - 2 * %(w_growth)s), 0),
          coalesce(sum(event_count) FILTER (WHERE feature = 'marketplace'
                                            AND {in_window.format("marketplace_activity")}), 0),
          coalesce(sum(event_count) FILTER (WHERE feature = 'integrations'
                                            AND {in_window.format("integration_depth")}), 0),
          coalesce(sum(event_count) FILTER (WHERE feature = 'advocacy'
                                            AND {in_window.format("advocacy")}), 0),
          coalesce(sum(event_count) FILTER (WHERE day > %(day)s - 7), 0),
          coalesce(sum(event_count) FILTER (WHERE day <= %(day)s - 7
                                            AND day > %(day)s - 35), 0)
        FROM {DailyActivity._meta.db_table}
        WHERE workspace_id = %(workspace_id)s AND day <= %(day)s {breeder_filter}
        GROUP BY breeder_id
    """  # noqa: S608 (table names come from model metadata; values are parameters)
    for row in _fetch(sql, params):
        inputs = breeders.get(row[0])
        if inputs is None:
            continue
        (
            _,
            last_day,
            login_days,
            features,
            community,
            recent,
            previous,
            marketplace,
            integrations,
            advocacy,
            last_7,
            prior_28,
        ) = row
        if recent == 0:
            growth = 0.0
        elif previous == 0:
            growth = 2.0
        else:
            growth = recent / previous
        inputs.has_activity = True
        inputs.last_activity_day = last_day
        inputs.activity = {
            "login_frequency": login_days,
            "feature_adoption": features,
            "community_engagement": community,
            "growth": growth,
            "marketplace_activity": marketplace,
            "integration_depth": integrations,
            "advocacy": advocacy,
            "events_last_7": last_7,
            "weekly_baseline": prior_28 / 4,
        }


def _load_subscriptions(
    params: dict[str, Any], breeder_filter: str, breeders: dict[int, BreederInputs], as_of: date
) -> None:
    """Read each breeder's main subscription as it stood at the end of the as-of day.

    For today the stored status is used. For a past day the status is rebuilt from the
    start and end dates, because Stripe states in between are not kept.
    """
    sql = f"""
        SELECT DISTINCT ON (breeder_id) breeder_id, status, cancel_at_period_end,
               started_at, coalesce(ended_at, canceled_at), updated_at
        FROM {Subscription._meta.db_table}
        WHERE workspace_id = %(workspace_id)s
          AND coalesce(started_at, created_at) < %(cutoff)s {breeder_filter}
        ORDER BY breeder_id, (coalesce(ended_at, canceled_at) IS NULL
                              OR coalesce(ended_at, canceled_at) >= %(cutoff)s) DESC,
                 started_at DESC NULLS LAST
    """  # noqa: S608
    is_today = as_of >= timezone.now().date()
    for breeder_id, status, cancelling, started_at, ended_at, updated_at in _fetch(sql, params):
        inputs = breeders.get(breeder_id)
        if inputs is None:
            continue
        ended = ended_at is not None and ended_at.date() <= as_of
        if is_today:
            status_score = (
                20 if cancelling and status == "active" else (ACTIVE_STATUS_SCORES.get(status, 0))
            )
            as_of_day = min(updated_at.date(), as_of)
        else:
            status_score = 0 if ended else 100
            as_of_day = ended_at.date() if ended else (started_at or updated_at).date()
        if ended or status_score <= 20:
            tenure = -1.0
        else:
            start = (started_at or updated_at).date()
            tenure = max(0.0, (as_of - start).days / 30.4)
        inputs.subscription = (float(status_score), tenure, as_of_day)


def _load_tickets(
    params: dict[str, Any],
    windows: dict[str, int],
    breeder_filter: str,
    breeders: dict[int, BreederInputs],
) -> None:
    params = dict(params, w=_window(windows, "support_interactions"))
    sql = f"""
        SELECT breeder_id,
               count(*) FILTER (WHERE opened_at >= %(cutoff)s - make_interval(days => %(w)s)),
               max(opened_at)
        FROM {Ticket._meta.db_table}
        WHERE workspace_id = %(workspace_id)s AND opened_at < %(cutoff)s {breeder_filter}
        GROUP BY breeder_id
    """  # noqa: S608
    for breeder_id, count, last_opened in _fetch(sql, params):
        if breeder_id in breeders:
            breeders[breeder_id].tickets_in_window = count
            breeders[breeder_id].last_ticket_day = last_opened.date()


def _load_surveys(
    params: dict[str, Any],
    windows: dict[str, int],
    breeder_filter: str,
    breeders: dict[int, BreederInputs],
) -> None:
    """Average the latest NPS and the latest CSAT (survey or ticket rating) per breeder.

    Both are put on a 0-100 scale: NPS × 10, and (CSAT − 1) × 25.
    """
    params = dict(params, w=_window(windows, "survey_responses"))
    sql = f"""
        WITH answers AS (
            SELECT breeder_id, kind, score::float AS score, answered_at AS at
            FROM {SurveyAnswer._meta.db_table}
            WHERE workspace_id = %(workspace_id)s AND answered_at < %(cutoff)s
              AND answered_at >= %(cutoff)s - make_interval(days => %(w)s) {breeder_filter}
            UNION ALL
            SELECT breeder_id, 'csat', satisfaction_rating::float, coalesce(solved_at, opened_at)
            FROM {Ticket._meta.db_table}
            WHERE workspace_id = %(workspace_id)s AND satisfaction_rating IS NOT NULL
              AND coalesce(solved_at, opened_at) < %(cutoff)s
              AND coalesce(solved_at, opened_at) >= %(cutoff)s - make_interval(days => %(w)s)
              {breeder_filter}
        ), latest AS (
            SELECT DISTINCT ON (breeder_id, kind) breeder_id, kind, score, at
            FROM answers ORDER BY breeder_id, kind, at DESC
        )
        SELECT breeder_id,
               avg(CASE WHEN kind = 'nps' THEN score * 10 ELSE (score - 1) * 25 END), max(at)
        FROM latest GROUP BY breeder_id
    """  # noqa: S608
    for breeder_id, average, latest in _fetch(sql, params):
        if breeder_id in breeders:
            breeders[breeder_id].survey_average = float(average)
            breeders[breeder_id].survey_as_of = latest.date()


def breeders_with_changed_inputs(workspace_id: int, since: datetime) -> set[int]:
    """Return the breeders whose inputs changed after `since` (for the incremental job)."""
    params = {"workspace_id": workspace_id, "since": since}
    sql = f"""
        SELECT breeder_id FROM {DailyActivity._meta.db_table}
         WHERE workspace_id = %(workspace_id)s AND last_event_at > %(since)s
        UNION SELECT breeder_id FROM {Subscription._meta.db_table}
         WHERE workspace_id = %(workspace_id)s AND updated_at > %(since)s
        UNION SELECT breeder_id FROM {Ticket._meta.db_table}
         WHERE workspace_id = %(workspace_id)s AND updated_at > %(since)s
        UNION SELECT breeder_id FROM {SurveyAnswer._meta.db_table}
         WHERE workspace_id = %(workspace_id)s AND answered_at > %(since)s
        UNION SELECT id FROM {Breeder._meta.db_table}
         WHERE workspace_id = %(workspace_id)s AND updated_at > %(since)s
    """  # noqa: S608
    return {row[0] for row in _fetch(sql, params)}
