"""Lifecycle phases, milestones and the breeder timeline.

The jobs here work set-based on one workspace at a time: each statement covers every
breeder concerned, so their cost grows with the number of changes, not with a loop
of queries per breeder.

"Day N" is counted in the breeder's own time zone (the workspace's when the breeder
has none): day 0 is the local calendar day of signup, and a milestone with target
day N is on time until the end of local day N. PostgreSQL's `AT TIME ZONE` does the
conversion, so daylight-saving changes are handled by the server's IANA database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Breeder, Workspace
from accounts.roles import Permission
from accounts.services import record_audit
from lifecycle.models import (
    DEFAULT_MILESTONES,
    RULE_OPERATORS,
    AchievementStatus,
    BillingTimelineEntry,
    BreederPhase,
    DailyActivity,
    Event,
    LifecycleSettings,
    MilestoneAchievement,
    MilestoneDefinition,
    Phase,
    Ticket,
    TimelineEntry,
    TimelineKind,
)

logger = logging.getLogger(__name__)

# The breeder's IANA time zone, else the workspace's. Used inside the SQL below with
# the breeder table aliased `b` and the workspace table `w`.
BREEDER_TIME_ZONE_SQL = "COALESCE(NULLIF(b.time_zone, ''), w.time_zone)"


def due_at_sql(target_day_param: str) -> str:
    """SQL for the end of local day N after signup, as an aware timestamp."""
    return (
        f"((date_trunc('day', b.signed_up_at AT TIME ZONE {BREEDER_TIME_ZONE_SQL})"
        f" + make_interval(days => {target_day_param} + 1)) AT TIME ZONE {BREEDER_TIME_ZONE_SQL})"
    )


def settings_for(workspace_id: int) -> LifecycleSettings:
    """Return the workspace's phase boundaries, or the defaults when none are saved."""
    saved = LifecycleSettings.objects.filter(workspace_id=workspace_id).first()
    return saved or LifecycleSettings(workspace_id=workspace_id)


def ensure_default_milestones(workspace: Workspace) -> int:
    """Create the five default onboarding milestones the workspace does not have yet."""
    existing = set(
        MilestoneDefinition.unscoped_objects.filter(workspace=workspace).values_list(
            "key", flat=True
        )
    )
    missing = [
        MilestoneDefinition(workspace=workspace, order=index, **definition)
        for index, definition in enumerate(DEFAULT_MILESTONES)
        if definition["key"] not in existing
    ]
    MilestoneDefinition.unscoped_objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


def add_timeline_entries(entries: Sequence[TimelineEntry]) -> None:
    """Write timeline entries, skipping any whose `source_key` was written before."""
    if entries:
        TimelineEntry.objects.bulk_create(entries, ignore_conflicts=True)


# Milestones.


def _event_condition_times(
    workspace_id: int,
    milestone: MilestoneDefinition,
    condition: dict[str, Any],
    breeder_ids: Sequence[int] | None,
) -> dict[int, datetime]:
    """Return, per breeder meeting one condition, when the condition became true.

    That is the time of the `min`-th matching event. Breeders that already achieved
    the milestone are skipped.
    """
    minimum = int(condition.get("min", 1))
    params: dict[str, Any] = {
        "workspace_id": workspace_id,
        "names": list(condition["events"]),
        "minimum": minimum,
        "milestone_id": milestone.pk,
    }
    breeder_filter = ""
    if breeder_ids is not None:
        breeder_filter = "AND e.breeder_id = ANY(%(breeder_ids)s)"
        params["breeder_ids"] = list(breeder_ids)
    sql = f"""
        SELECT e.breeder_id, (array_agg(e.timestamp ORDER BY e.timestamp))[%(minimum)s]
        FROM {Event._meta.db_table} e
        WHERE e.workspace_id = %(workspace_id)s
          AND e.breeder_id IS NOT NULL
          AND e.event_name = ANY(%(names)s)
          {breeder_filter}
          AND NOT EXISTS (
              SELECT 1 FROM {MilestoneAchievement._meta.db_table} a
              WHERE a.breeder_id = e.breeder_id AND a.milestone_id = %(milestone_id)s
                AND a.achieved_at IS NOT NULL)
        GROUP BY e.breeder_id
        HAVING count(*) >= %(minimum)s
    """  # noqa: S608 (table names come from model metadata; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def _trait_achievers(
    milestone: MilestoneDefinition, breeder_ids: Sequence[int] | None, now: datetime
) -> dict[int, datetime]:
    rule = milestone.rule
    lookup = f"{rule['trait']}__{RULE_OPERATORS[rule['op']]}"
    breeders = Breeder.objects.filter(**{lookup: rule["value"]}).exclude(
        pk__in=MilestoneAchievement.objects.filter(
            milestone=milestone, achieved_at__isnull=False
        ).values("breeder_id")
    )
    if breeder_ids is not None:
        breeders = breeders.filter(pk__in=breeder_ids)
    return dict.fromkeys(breeders.values_list("pk", flat=True), now)


def _due_times(
    workspace_id: int, breeder_ids: Iterable[int], target_day: int
) -> dict[int, datetime]:
    sql = f"""
        SELECT b.id, {due_at_sql("%(target_day)s")}
        FROM {Breeder._meta.db_table} b
        JOIN {Workspace._meta.db_table} w ON w.id = b.workspace_id
        WHERE b.workspace_id = %(workspace_id)s AND b.id = ANY(%(breeder_ids)s)
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "workspace_id": workspace_id,
                "breeder_ids": list(breeder_ids),
                "target_day": target_day,
            },
        )
        return dict(cursor.fetchall())


@dataclass(frozen=True)
class AchievementCounts:
    on_time: int = 0
    late: int = 0


@transaction.atomic
def record_achievements(
    workspace_id: int, breeder_ids: Sequence[int] | None = None, now: datetime | None = None
) -> AchievementCounts:
    """Record the milestones these breeders (or all breeders) have newly achieved.

    Called by event processing for the breeders its batch touched, and by a beat job
    for the whole workspace. Running it twice records nothing twice.
    """
    now = now or timezone.now()
    on_time = late = 0
    for milestone in MilestoneDefinition.objects.filter(active=True):
        if "trait" in milestone.rule:
            achieved = _trait_achievers(milestone, breeder_ids, now)
        else:
            per_condition = [
                _event_condition_times(workspace_id, milestone, condition, breeder_ids)
                for condition in milestone.rule["all"]
            ]
            common = set.intersection(*(set(times) for times in per_condition))
            achieved = {b: max(times[b] for times in per_condition) for b in common}
        if not achieved:
            continue
        due = _due_times(workspace_id, achieved, milestone.target_day)
        existing = {
            row.breeder_id: row
            for row in MilestoneAchievement.objects.filter(
                milestone=milestone, breeder_id__in=list(achieved)
            )
        }
        created, updated, entries = [], [], []
        for breeder_id, achieved_at in achieved.items():
            status = (
                AchievementStatus.ON_TIME
                if achieved_at <= due[breeder_id]
                else (AchievementStatus.LATE)
            )
            row = existing.get(breeder_id)
            if row is None:
                created.append(
                    MilestoneAchievement(
                        workspace_id=workspace_id,
                        breeder_id=breeder_id,
                        milestone=milestone,
                        status=status,
                        due_at=due[breeder_id],
                        achieved_at=achieved_at,
                    )
                )
            else:
                row.status = AchievementStatus.LATE if row.missed_at else status
                row.achieved_at = achieved_at
                updated.append(row)
            on_time += status == AchievementStatus.ON_TIME
            late += status != AchievementStatus.ON_TIME
            label = "on time" if status == AchievementStatus.ON_TIME else "late"
            entries.append(
                TimelineEntry(
                    workspace_id=workspace_id,
                    breeder_id=breeder_id,
                    kind=TimelineKind.MILESTONE_ACHIEVED,
                    occurred_at=achieved_at,
                    title=f"Reached milestone: {milestone.name} ({label})",
                    source_key=f"milestone:{milestone.pk}:{breeder_id}:achieved",
                    data={"milestone": milestone.key, "status": str(status)},
                )
            )
        MilestoneAchievement.objects.bulk_create(created, ignore_conflicts=True)
        MilestoneAchievement.objects.bulk_update(updated, ["status", "achieved_at"])
        add_timeline_entries(entries)
    if on_time or late:
        logger.info(
            "Workspace %s: %s milestones achieved on time, %s late", workspace_id, on_time, late
        )
    return AchievementCounts(on_time=on_time, late=late)


@transaction.atomic
def mark_missed_milestones(workspace_id: int, now: datetime | None = None) -> int:
    """Mark milestones missed for breeders whose due time passed without achievement."""
    now = now or timezone.now()
    missed = 0
    for milestone in MilestoneDefinition.objects.filter(active=True):
        sql = f"""
            INSERT INTO {MilestoneAchievement._meta.db_table}
                (workspace_id, breeder_id, milestone_id, status, due_at, missed_at, recorded_at)
            SELECT b.workspace_id, b.id, %(milestone_id)s, %(missed)s, due.at, due.at, %(now)s
            FROM {Breeder._meta.db_table} b
            JOIN {Workspace._meta.db_table} w ON w.id = b.workspace_id
            CROSS JOIN LATERAL (SELECT {due_at_sql("%(target_day)s")} AS at) due
            WHERE b.workspace_id = %(workspace_id)s AND due.at <= %(now)s
              AND NOT EXISTS (
                  SELECT 1 FROM {MilestoneAchievement._meta.db_table} a
                  WHERE a.breeder_id = b.id AND a.milestone_id = %(milestone_id)s)
            ON CONFLICT (breeder_id, milestone_id) DO NOTHING
            RETURNING breeder_id, due_at
        """  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                {
                    "workspace_id": workspace_id,
                    "milestone_id": milestone.pk,
                    "now": now,
                    "target_day": milestone.target_day,
                    "missed": AchievementStatus.MISSED.value,
                },
            )
            rows = cursor.fetchall()
        add_timeline_entries(
            [
                TimelineEntry(
                    workspace_id=workspace_id,
                    breeder_id=breeder_id,
                    kind=TimelineKind.MILESTONE_MISSED,
                    occurred_at=due_at,
                    title=f"Missed milestone: {milestone.name} (due day {milestone.target_day})",
                    source_key=f"milestone:{milestone.pk}:{breeder_id}:missed",
                    data={"milestone": milestone.key},
                )
                for breeder_id, due_at in rows
            ]
        )
        missed += len(rows)
    if missed:
        logger.info("Workspace %s: %s milestones marked missed", workspace_id, missed)
    return missed


# Phases.


@transaction.atomic
def update_phases(workspace_id: int, now: datetime | None = None) -> int:
    """Move breeders whose days since signup crossed a phase boundary; return how many."""
    now = now or timezone.now()
    settings = settings_for(workspace_id)
    table = BreederPhase._meta.db_table
    sql = f"""
        WITH days AS (
            SELECT b.id AS breeder_id, b.workspace_id,
                   date_trunc('day', b.signed_up_at AT TIME ZONE {BREEDER_TIME_ZONE_SQL}) AS day0,
                   {BREEDER_TIME_ZONE_SQL} AS tz,
                   (date_trunc('day', %(now)s AT TIME ZONE {BREEDER_TIME_ZONE_SQL})::date
                    - date_trunc('day', b.signed_up_at AT TIME ZONE {BREEDER_TIME_ZONE_SQL})::date
                   ) AS day
            FROM {Breeder._meta.db_table} b
            JOIN {Workspace._meta.db_table} w ON w.id = b.workspace_id
            WHERE b.workspace_id = %(workspace_id)s
        ), computed AS (
            SELECT breeder_id, workspace_id, day0, tz,
                   CASE WHEN day >= %(advocacy)s THEN 'advocacy'
                        WHEN day >= %(growth)s THEN 'growth'
                        WHEN day >= %(adoption)s THEN 'adoption'
                        ELSE 'onboarding' END AS phase,
                   CASE WHEN day >= %(advocacy)s THEN %(advocacy)s
                        WHEN day >= %(growth)s THEN %(growth)s
                        WHEN day >= %(adoption)s THEN %(adoption)s
                        ELSE 0 END AS start_day
            FROM days
        )
        INSERT INTO {table} (workspace_id, breeder_id, phase, since)
        SELECT c.workspace_id, c.breeder_id, c.phase,
               (c.day0 + make_interval(days => c.start_day)) AT TIME ZONE c.tz
        FROM computed c
        LEFT JOIN {table} p ON p.breeder_id = c.breeder_id
        WHERE p.breeder_id IS NULL OR p.phase <> c.phase
        ON CONFLICT (breeder_id) DO UPDATE SET phase = EXCLUDED.phase, since = EXCLUDED.since
        RETURNING breeder_id, phase, since
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "workspace_id": workspace_id,
                "now": now,
                "adoption": settings.adoption_starts_day,
                "growth": settings.growth_starts_day,
                "advocacy": settings.advocacy_starts_day,
            },
        )
        rows = cursor.fetchall()
    add_timeline_entries(
        [
            TimelineEntry(
                workspace_id=workspace_id,
                breeder_id=breeder_id,
                kind=TimelineKind.PHASE_CHANGED,
                occurred_at=since,
                title=f"Entered the {Phase(phase).label.lower()} phase",
                source_key=f"phase:{breeder_id}:{phase}:{since.date().isoformat()}",
                data={"phase": phase},
            )
            for breeder_id, phase, since in rows
        ]
    )
    if rows:
        logger.info("Workspace %s: %s breeders changed phase", workspace_id, len(rows))
    return len(rows)


# Timeline.


@dataclass(frozen=True)
class TimelineItem:
    """One line of the timeline: a stored entry, or a day of product activity."""

    occurred_at: datetime
    kind: str
    title: str
    body: str = ""
    actor: str = ""


def breeder_timeline(breeder: Breeder, limit: int = 50) -> list[TimelineItem]:
    """Return the newest timeline items, merged from every source, newest first.

    The sources are the breeder's timeline entries (phases, milestones, notes, calls),
    billing entries (payments, failed payments, plan changes, cancellations), support
    tickets (opened and solved), and product activity summarised per local day from
    the rollups. Each source is one bounded query for its newest `limit` rows.
    """
    items = [
        TimelineItem(
            occurred_at=entry.occurred_at,
            kind=entry.kind,
            title=entry.title,
            body=entry.body,
            actor=entry.actor.display_name if entry.actor else "",
        )
        for entry in TimelineEntry.objects.filter(breeder=breeder)
        .select_related("actor")
        .order_by("-occurred_at")[:limit]
    ]
    items += [
        TimelineItem(occurred_at=occurred_at, kind="billing", title=summary)
        for occurred_at, summary in BillingTimelineEntry.objects.filter(breeder=breeder)
        .order_by("-occurred_at")
        .values_list("occurred_at", "summary")[:limit]
    ]
    for ticket in Ticket.objects.filter(breeder=breeder).order_by("-opened_at")[:limit]:
        details = f"{ticket.get_category_display()}, {ticket.get_priority_display()} priority"
        if ticket.escalation_path:
            details += f"; escalates to {' → '.join(ticket.escalation_path)}"
        items.append(
            TimelineItem(
                occurred_at=ticket.opened_at,
                kind="ticket",
                title=f"Ticket opened: {ticket.subject}",
                body=details,
            )
        )
        if ticket.solved_at:
            rating = (
                f"; rated {ticket.satisfaction_rating}/5"
                if ticket.satisfaction_rating is not None
                else ""
            )
            items.append(
                TimelineItem(
                    occurred_at=ticket.solved_at,
                    kind="ticket",
                    title=f"Ticket solved: {ticket.subject}{rating}",
                )
            )

    days: dict[date, list[tuple[str, int]]] = {}
    recent_days = (
        DailyActivity.objects.filter(breeder=breeder)
        .order_by("-day")
        .values_list("day", "feature", "event_count")[: limit * 10]
    )
    for day, feature, count in recent_days:
        days.setdefault(day, []).append((feature, count))
    zone = breeder.effective_time_zone()
    for day, features in days.items():
        total = sum(count for _, count in features)
        summary = ", ".join(f"{feature} {count}" for feature, count in sorted(features))
        items.append(
            TimelineItem(
                occurred_at=datetime.combine(day, datetime.max.time(), tzinfo=zone),
                kind="activity",
                title=f"{total} product event{'s' if total != 1 else ''}",
                body=summary,
            )
        )
    items.sort(key=lambda item: item.occurred_at, reverse=True)
    return items[:limit]


@transaction.atomic
def log_activity(
    breeder: Breeder,
    *,
    actor_membership: Any,
    kind: str,
    title: str,
    body: str = "",
    occurred_at: datetime | None = None,
) -> TimelineEntry:
    """Log a note, call or meeting on the breeder's timeline."""
    if not actor_membership.can(Permission.LOG_ACTIVITY):
        raise PermissionDenied("Your role cannot log activity on breeders.")
    if kind not in (TimelineKind.NOTE, TimelineKind.CALL, TimelineKind.MEETING):
        raise ValidationError({"kind": "Choose note, call or meeting."})
    entry = TimelineEntry.objects.create(
        workspace_id=breeder.workspace_id,
        breeder=breeder,
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        title=title.strip(),
        body=body.strip(),
        actor=actor_membership.user,
    )
    record_audit(
        breeder.workspace,
        actor=actor_membership.user,
        action=f"timeline.{kind}",
        target=breeder,
        entry=str(entry.public_id),
    )
    return entry
