"""Milestone messages: a celebration after an achievement, a nudge after a miss.

A beat job turns recent achievements into scheduled sends keyed by the achievement, so
each achievement gets at most one celebration and each miss at most one nudge, however
often the job runs. Achievements older than `LOOKBACK` are left alone, so turning the
feature on does not congratulate breeders on last year's records.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from accounts.models import Workspace
from lifecycle.models import AchievementStatus, MilestoneAchievement, MilestoneDefinition
from programs.models import EmailCategory, EmailTemplate, ScheduledSend, SendKind
from programs.windows import place_in_window, settings_for

LOOKBACK = timedelta(days=3)
CELEBRATION_TEMPLATE = "milestone-celebration"
NUDGE_TEMPLATE = "milestone-nudge"
CELEBRATION_PRIORITY = 80
NUDGE_PRIORITY = 55


def queue_milestone_messages(workspace_id: int, now: datetime | None = None) -> int:
    now = now or timezone.now()
    templates = {
        t.key: t
        for t in EmailTemplate.objects.filter(key__in=[CELEBRATION_TEMPLATE, NUDGE_TEMPLATE])
    }
    milestones = list(
        MilestoneDefinition.objects.filter(active=True).order_by("target_day", "order")
    )
    if not milestones:
        return 0
    recent = (
        MilestoneAchievement.objects.filter(
            Q(
                status__in=[AchievementStatus.ON_TIME, AchievementStatus.LATE],
                achieved_at__gte=now - LOOKBACK,
            )
            | Q(status=AchievementStatus.MISSED, missed_at__gte=now - LOOKBACK),
            milestone__active=True,
        )
        .select_related("breeder", "milestone")
        .order_by("pk")
    )
    reached: dict[int, set[int]] = {}
    rows = list(recent)
    breeder_ids = {a.breeder_id for a in rows}
    for breeder_id, milestone_id in MilestoneAchievement.objects.filter(
        breeder_id__in=breeder_ids, status__in=[AchievementStatus.ON_TIME, AchievementStatus.LATE]
    ).values_list("breeder_id", "milestone_id"):
        reached.setdefault(breeder_id, set()).add(milestone_id)
    send_settings = settings_for(workspace_id)
    workspace_tz = ZoneInfo(Workspace.objects.get(pk=workspace_id).time_zone)
    sends = []
    for achievement in rows:
        celebrate = achievement.status != AchievementStatus.MISSED
        if not celebrate and not achievement.milestone.send_nudge_when_missed:
            continue
        template = templates.get(CELEBRATION_TEMPLATE if celebrate else NUDGE_TEMPLATE)
        if template is None:
            continue
        done = reached.get(achievement.breeder_id, set())
        following = next(
            (m for m in milestones if m.pk not in done and m.pk != achievement.milestone_id),
            None,
        )
        breeder = achievement.breeder
        if not breeder.email:
            continue
        tz = ZoneInfo(breeder.time_zone) if breeder.time_zone else workspace_tz
        happened = (achievement.achieved_at if celebrate else achievement.missed_at) or now
        sends.append(
            ScheduledSend(
                workspace_id=workspace_id,
                key=f"milestone:{achievement.pk}:{'celebration' if celebrate else 'nudge'}",
                breeder_id=breeder.pk,
                template=template,
                kind=SendKind.CELEBRATION if celebrate else SendKind.NUDGE,
                category=EmailCategory.ONBOARDING,
                priority=CELEBRATION_PRIORITY if celebrate else NUDGE_PRIORITY,
                context={
                    "milestone": achievement.milestone.name,
                    "milestone_info": {
                        "name": achievement.milestone.name,
                        "status": achievement.status,
                    },
                    "next_milestone": {
                        "name": following.name if following else "",
                        "target_day": following.target_day if following else "",
                    },
                },
                due_at=happened,
                send_after=place_in_window(max(happened, now), send_settings, tz),
            )
        )
    # Only the keys not queued before count; bulk_create would report every row given.
    known = set(
        ScheduledSend.objects.filter(key__in=[s.key for s in sends]).values_list("key", flat=True)
    )
    fresh = [s for s in sends if s.key not in known]
    ScheduledSend.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)
