"""Raw metrics for every breeder of a workspace, read set-based as of one day.

One query joins grouped reads of the daily activity rollups, subscriptions, tickets and
survey answers to the breeders, one row per breeder, and nothing here loops over
breeders with queries. Only data dated on or before the as-of day is read, so the same
code computes past scores for history backfills and backtests. The rows come back as
numpy columns (`WorkspaceInputs`), which `health.vectorised` scores without a Python
loop per breeder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.utils import timezone

from accounts.models import Breeder
from health.columns import fetch_columns
from health.measures import CORE_FEATURES
from lifecycle.models import DailyActivity, Subscription, SurveyAnswer, Ticket

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ACTIVE_STATUS_SCORES = {
    "active": 100,
    "trialing": 80,
    "paused": 40,
    "past_due": 30,
    "incomplete": 30,
    "unpaid": 10,
}

# The measures read from the daily activity rollups, and two figures for the usage
# anomaly alert: events in the last 7 days and the weekly average of the 28 days before.
ACTIVITY_MEASURES = (
    "login_frequency",
    "feature_adoption",
    "community_engagement",
    "growth",
    "marketplace_activity",
    "integration_depth",
    "advocacy",
)
ACTIVITY_FIGURES = (*ACTIVITY_MEASURES, "events_last_7", "weekly_baseline")

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


@dataclass
class BreederInputs:
    """Inputs of one breeder as of one day, in the shape the reference scorer reads."""

    signed_up_on: date
    profile_completeness: float
    profile_as_of: date
    has_activity: bool = False
    activity: dict[str, float] = field(default_factory=dict)
    subscription: tuple[float, float, date] | None = None
    tickets_in_window: int = 0
    survey_average: float | None = None
    survey_as_of: date | None = None


@dataclass
class WorkspaceInputs:
    """Inputs of every scored breeder as of one day, one numpy array per metric.

    Element i of every array belongs to `breeder_ids[i]`, in ascending id order. Days are
    whole days before `as_of` (a later day gives a negative number). Where a `has_*`
    flag is false, the arrays it covers hold zeros.
    """

    as_of: date
    activity_feed_day: date | None
    ticket_feed_day: date | None
    breeder_ids: IntArray
    days_since_signup: IntArray
    profile_completeness: FloatArray
    profile_age_days: IntArray
    has_activity: BoolArray
    # Keyed by ACTIVITY_FIGURES. Growth is already the ratio the measure scores.
    activity: dict[str, FloatArray]
    has_subscription: BoolArray
    subscription_status: FloatArray
    subscription_tenure: FloatArray
    subscription_age_days: IntArray
    tickets_in_window: FloatArray
    has_survey: BoolArray
    survey_average: FloatArray
    survey_age_days: IntArray

    def __len__(self) -> int:
        return len(self.breeder_ids)

    def day_before(self, days: int) -> date:
        return self.as_of - timedelta(days=days)

    def breeder(self, index: int) -> BreederInputs:
        """Return the inputs of the breeder at `index` for the reference scorer."""
        inputs = BreederInputs(
            signed_up_on=self.day_before(int(self.days_since_signup[index])),
            profile_completeness=float(self.profile_completeness[index]),
            profile_as_of=self.day_before(int(self.profile_age_days[index])),
            tickets_in_window=int(self.tickets_in_window[index]),
        )
        if self.has_activity[index]:
            inputs.has_activity = True
            inputs.activity = {key: float(self.activity[key][index]) for key in ACTIVITY_FIGURES}
        if self.has_subscription[index]:
            inputs.subscription = (
                float(self.subscription_status[index]),
                float(self.subscription_tenure[index]),
                self.day_before(int(self.subscription_age_days[index])),
            )
        if self.has_survey[index]:
            inputs.survey_average = float(self.survey_average[index])
            inputs.survey_as_of = self.day_before(int(self.survey_age_days[index]))
        return inputs

    @property
    def breeders(self) -> dict[int, BreederInputs]:
        """Every breeder's inputs by id, built one by one: for tests and small sets only."""
        return {int(breeder_id): self.breeder(i) for i, breeder_id in enumerate(self.breeder_ids)}


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _window(windows: dict[str, int], key: str) -> int:
    return max(1, windows.get(key, 30))


def _utc_day(column: str) -> str:
    """SQL for the UTC calendar day of a timestamptz column, as Python's .date() gives it."""
    return f"({column} AT TIME ZONE 'UTC')::date"


def _profile_filled_sql() -> str:
    """SQL counting the filled profile fields: not empty, not zero, not an empty list."""
    terms = []
    for name in PROFILE_FIELDS:
        model_field = Breeder._meta.get_field(name)
        assert isinstance(model_field, models.Field)
        column = connection.ops.quote_name(model_field.column or name)
        if isinstance(model_field, ArrayField):
            test = f"coalesce(cardinality({column}), 0) > 0"
        elif isinstance(model_field, models.IntegerField):
            test = f"coalesce({column}, 0) <> 0"
        else:
            test = f"coalesce({column}, '') <> ''"
        terms.append(f"({test})::int")
    return " + ".join(terms)


def _activity_sql(core_features: Sequence[str]) -> str:
    """SQL for the activity CTE: one pass over the rollups with FILTER aggregates.

    The unique constraint on (workspace, breeder, feature, day) makes count(*) of login
    rows the number of login days, and a core feature is used when it has any row in the
    window. Avoiding count(DISTINCT …) lets PostgreSQL hash-aggregate the whole table.
    """
    in_window = "day > %(day)s - %(w_{0})s"
    features_used = " + ".join(
        f"(count(*) FILTER (WHERE feature = %(core_{i})s "
        f"AND {in_window.format('feature_adoption')}) > 0)::int"
        for i in range(len(core_features))
    )
    return f"""
        SELECT breeder_id,
          count(*) FILTER (WHERE feature = 'login'
                           AND {in_window.format("login_frequency")}) AS login_days,
          {features_used or "0"} AS features_used,
          coalesce(sum(event_count) FILTER (WHERE feature = 'community'
                                            AND {in_window.format("community_engagement")}), 0)
            AS community,
          coalesce(sum(event_count) FILTER (WHERE feature IN ('records', 'pedigrees')
                                            AND {in_window.format("growth")}), 0)
            AS growth_recent,
          coalesce(sum(event_count) FILTER (WHERE feature IN ('records', 'pedigrees')
                                            AND day <= %(day)s - %(w_growth)s
                                            AND day > %(day)s - 2 * %(w_growth)s), 0)
            AS growth_previous,
          coalesce(sum(event_count) FILTER (WHERE feature = 'marketplace'
                                            AND {in_window.format("marketplace_activity")}), 0)
            AS marketplace,
          coalesce(sum(event_count) FILTER (WHERE feature = 'integrations'
                                            AND {in_window.format("integration_depth")}), 0)
            AS integrations,
          coalesce(sum(event_count) FILTER (WHERE feature = 'advocacy'
                                            AND {in_window.format("advocacy")}), 0) AS advocacy,
          coalesce(sum(event_count) FILTER (WHERE day > %(day)s - 7), 0) AS last_7,
          coalesce(sum(event_count) FILTER (WHERE day <= %(day)s - 7
                                            AND day > %(day)s - 35), 0) AS prior_28
        FROM {DailyActivity._meta.db_table}
        WHERE workspace_id = %(workspace_id)s AND day <= %(day)s {{breeder_filter}}
        GROUP BY breeder_id
    """  # noqa: S608 (table names come from model metadata; values are parameters)


def _subscription_sql() -> str:
    """SQL for each breeder's main subscription as it stood at the end of the as-of day.

    For today the stored status is used. For a past day the status is rebuilt from the
    start and end dates, because Stripe states in between are not kept. Tenure is in
    months of 30.4 days, and -1 when the subscription ended or is set to cancel.
    """
    status_case = " ".join(
        f"WHEN %(status_{i})s THEN {int(score)}"
        for i, score in enumerate(ACTIVE_STATUS_SCORES.values())
    )
    return f"""
        latest_subscription AS (
            SELECT DISTINCT ON (breeder_id) breeder_id, status, cancel_at_period_end,
                   {_utc_day("started_at")} AS started_on,
                   {_utc_day(ENDED_AT_SQL)} AS ended_on,
                   {_utc_day("updated_at")} AS updated_on
            FROM {Subscription._meta.db_table}
            WHERE workspace_id = %(workspace_id)s
              AND coalesce(started_at, created_at) < %(cutoff)s {{breeder_filter}}
            ORDER BY breeder_id, ({ENDED_AT_SQL} IS NULL OR {ENDED_AT_SQL} >= %(cutoff)s) DESC,
                     started_at DESC NULLS LAST
        ), subscription_state AS (
            SELECT breeder_id, started_on, ended_on, updated_on,
                   coalesce(ended_on <= %(day)s, false) AS ended,
                   CASE WHEN NOT %(is_today)s THEN
                            CASE WHEN ended_on <= %(day)s THEN 0 ELSE 100 END
                        WHEN cancel_at_period_end AND status = 'active' THEN 20
                        ELSE CASE status {status_case} ELSE 0 END
                   END AS status_score
            FROM latest_subscription
        ), subscription AS (
            SELECT breeder_id, status_score,
                   CASE WHEN ended OR status_score <= 20 THEN -1.0::float8
                        ELSE greatest(0.0::float8, (%(day)s - coalesce(started_on, updated_on))
                                                   ::float8 / 30.4::float8)
                   END AS tenure,
                   %(day)s - CASE WHEN %(is_today)s THEN least(updated_on, %(day)s)
                                  WHEN ended THEN ended_on
                                  ELSE coalesce(started_on, updated_on) END AS age
            FROM subscription_state
        )
    """  # noqa: S608


# When a subscription stopped. Stripe sets `canceled_at` when a cancellation is
# requested, which for cancel-at-period-end is before the subscription ends, so it
# counts only for a subscription that is canceled already.
ENDED_AT_SQL = "coalesce(ended_at, CASE WHEN status = 'canceled' THEN canceled_at END)"


def _tickets_and_surveys_sql() -> str:
    """SQL for tickets opened in the window, and the survey average per breeder.

    The survey average is of the latest NPS and the latest CSAT (survey or ticket
    rating), both put on a 0-100 scale: NPS × 10, and (CSAT − 1) × 25.
    """
    return f"""
        tickets AS (
            SELECT breeder_id,
                   count(*) FILTER (WHERE opened_at >= %(cutoff)s
                                                       - make_interval(days => %(w_tickets)s))
                     AS in_window
            FROM {Ticket._meta.db_table}
            WHERE workspace_id = %(workspace_id)s AND opened_at < %(cutoff)s {{breeder_filter}}
            GROUP BY breeder_id
        ), answers AS (
            SELECT breeder_id, kind, score::float AS score, answered_at AS at
            FROM {SurveyAnswer._meta.db_table}
            WHERE workspace_id = %(workspace_id)s AND answered_at < %(cutoff)s
              AND answered_at >= %(cutoff)s - make_interval(days => %(w_surveys)s)
              {{breeder_filter}}
            UNION ALL
            SELECT breeder_id, 'csat', satisfaction_rating::float, coalesce(solved_at, opened_at)
            FROM {Ticket._meta.db_table}
            WHERE workspace_id = %(workspace_id)s AND satisfaction_rating IS NOT NULL
              AND coalesce(solved_at, opened_at) < %(cutoff)s
              AND coalesce(solved_at, opened_at) >= %(cutoff)s
                                                    - make_interval(days => %(w_surveys)s)
              {{breeder_filter}}
        ), latest_answers AS (
            SELECT DISTINCT ON (breeder_id, kind) breeder_id, kind, score, at
            FROM answers ORDER BY breeder_id, kind, at DESC
        ), surveys AS (
            SELECT breeder_id,
                   avg(CASE WHEN kind = 'nps' THEN score * 10 ELSE (score - 1) * 25 END)
                     AS average,
                   %(day)s - {_utc_day("max(at)")} AS age
            FROM latest_answers GROUP BY breeder_id
        )
    """  # noqa: S608


def _inputs_sql(breeder_filter: str, id_filter: str) -> str:
    sql = f"""
        WITH breeders AS (
            SELECT id AS breeder_id,
                   %(day)s - {_utc_day("signed_up_at")} AS days_since_signup,
                   {_profile_filled_sql()} AS profile_filled,
                   %(day)s - least({_utc_day("updated_at")}, %(day)s) AS profile_age
            FROM {Breeder._meta.db_table}
            WHERE workspace_id = %(workspace_id)s AND signed_up_at < %(cutoff)s {id_filter}
        ), activity AS ({_activity_sql(CORE_FEATURES)}),
        {_subscription_sql()},
        {_tickets_and_surveys_sql()}
        SELECT b.breeder_id, b.days_since_signup, b.profile_filled, b.profile_age,
               a.breeder_id IS NOT NULL, coalesce(a.login_days, 0),
               coalesce(a.features_used, 0), coalesce(a.community, 0),
               coalesce(a.growth_recent, 0), coalesce(a.growth_previous, 0),
               coalesce(a.marketplace, 0), coalesce(a.integrations, 0),
               coalesce(a.advocacy, 0), coalesce(a.last_7, 0), coalesce(a.prior_28, 0),
               s.breeder_id IS NOT NULL, coalesce(s.status_score, 0),
               coalesce(s.tenure, 0), coalesce(s.age, 0),
               coalesce(t.in_window, 0),
               v.breeder_id IS NOT NULL, coalesce(v.average, 0), coalesce(v.age, 0)
        FROM breeders b
        LEFT JOIN activity a ON a.breeder_id = b.breeder_id
        LEFT JOIN subscription s ON s.breeder_id = b.breeder_id
        LEFT JOIN tickets t ON t.breeder_id = b.breeder_id
        LEFT JOIN surveys v ON v.breeder_id = b.breeder_id
    """  # noqa: S608
    return sql.replace("{breeder_filter}", breeder_filter)


def load_inputs(
    workspace_id: int,
    as_of: date,
    windows: dict[str, int],
    breeder_ids: Sequence[int] | None = None,
) -> WorkspaceInputs:
    """Read every metric for the workspace's breeders (or the given ones) as of a day."""
    params: dict[str, Any] = {
        "workspace_id": workspace_id,
        "day": as_of,
        "cutoff": _end_of_day(as_of),
        "breeder_ids": list(breeder_ids or []),
        "is_today": as_of >= timezone.now().date(),
        "w_tickets": _window(windows, "support_interactions"),
        "w_surveys": _window(windows, "survey_responses"),
        **{f"w_{key}": _window(windows, key) for key in ACTIVITY_MEASURES},
        **{f"core_{i}": feature for i, feature in enumerate(CORE_FEATURES)},
        **{f"status_{i}": status for i, status in enumerate(ACTIVE_STATUS_SCORES)},
    }
    if breeder_ids is None:
        breeder_filter = id_filter = ""
    else:
        breeder_filter = "AND breeder_id = ANY(%(breeder_ids)s::bigint[])"
        id_filter = "AND id = ANY(%(breeder_ids)s::bigint[])"
    kinds = "iiiib" + "i" * 10 + "bffi" + "i" + "bfi"
    dtypes = [{"i": np.int64, "f": np.float64, "b": np.bool_}[kind] for kind in kinds]
    columns = fetch_columns(_inputs_sql(breeder_filter, id_filter), params, dtypes)
    # Rows come in no particular order; the scorer and the snapshot lookups want them
    # by breeder id.
    order = np.argsort(columns[0], kind="stable")
    columns = [column[order] for column in columns]

    def ints(index: int) -> IntArray:
        return np.asarray(columns[index], dtype=np.int64)

    def floats(index: int) -> FloatArray:
        return np.asarray(columns[index], dtype=np.float64)

    def flags(index: int) -> BoolArray:
        return np.asarray(columns[index], dtype=np.bool_)

    recent, previous = floats(8), floats(9)
    # Growth is 0 without recent records, 2 (the curve's top) when there were none in
    # the window before, and the ratio otherwise.
    growth = np.divide(recent, previous, out=np.full_like(recent, 2.0), where=previous != 0)
    growth[recent == 0] = 0.0

    feeds = _fetch(
        f"SELECT (SELECT max(day) FROM {DailyActivity._meta.db_table} "  # noqa: S608
        "         WHERE workspace_id = %(workspace_id)s AND day <= %(day)s), "
        f"       (SELECT {_utc_day('max(opened_at)')} FROM {Ticket._meta.db_table} "
        "         WHERE workspace_id = %(workspace_id)s AND opened_at < %(cutoff)s)",
        params,
    )[0]
    return WorkspaceInputs(
        as_of=as_of,
        activity_feed_day=feeds[0],
        ticket_feed_day=feeds[1],
        breeder_ids=ints(0),
        days_since_signup=ints(1),
        profile_completeness=floats(2) / len(PROFILE_FIELDS),
        profile_age_days=ints(3),
        has_activity=flags(4),
        activity={
            "login_frequency": floats(5),
            "feature_adoption": floats(6),
            "community_engagement": floats(7),
            "growth": growth,
            "marketplace_activity": floats(10),
            "integration_depth": floats(11),
            "advocacy": floats(12),
            "events_last_7": floats(13),
            "weekly_baseline": floats(14) / 4,
        },
        has_subscription=flags(15),
        subscription_status=floats(16),
        subscription_tenure=floats(17),
        subscription_age_days=ints(18),
        tickets_in_window=floats(19),
        has_survey=flags(20),
        survey_average=floats(21),
        survey_age_days=ints(22),
    )


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
