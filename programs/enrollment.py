"""Enrolling breeders in programs and writing their scheduled sends.

Enrollment is set-based: the rule jobs find every breeder a program should take in one
query each, insert the enrollments with `ON CONFLICT DO NOTHING`, and insert every
step's send the same way. Running a job twice, or two jobs at once, changes nothing
the second time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import Breeder, Workspace
from lifecycle.models import AchievementStatus, MilestoneAchievement, SubscriptionStatus
from programs.models import (
    EmailPreference,
    Enrollment,
    EnrollmentRule,
    EnrollmentState,
    Program,
    ProgramStep,
    ScheduledSend,
    SendKind,
    SendState,
    StepKind,
)
from programs.windows import local_day_offset, place_in_window, settings_for

logger = logging.getLogger(__name__)

STEP_SEND_KIND = {
    StepKind.EMAIL: SendKind.EMAIL,
    StepKind.SURVEY: SendKind.SURVEY,
    StepKind.OUTREACH: SendKind.OUTREACH,
}

UTC = ZoneInfo("UTC")
# Spread a quarterly survey over the first two weeks of the quarter.
QUARTERLY_SPREAD_DAYS = 14
# Quarterly surveys start after onboarding and its day-30 survey, with two weeks' gap.
QUARTERLY_MIN_AGE_DAYS = 45


def _bucket(*parts: object) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 10_000


@dataclass(frozen=True)
class Assignment:
    holdout: bool
    variant_id: int | None


def assign(
    program: Program, variants: Sequence[tuple[int, int]], breeder_public_id: str
) -> Assignment:
    """Holdout or variant for a breeder: stable, so running it again gives the same result.

    `variants` contains (id, weight) pairs of the program's variants.
    """
    if _bucket(program.public_id, breeder_public_id, "holdout") < program.holdout_percent * 100:
        return Assignment(True, None)
    if not variants:
        return Assignment(False, None)
    total = sum(weight for _, weight in variants)
    point = _bucket(program.public_id, breeder_public_id, "variant") % total
    for variant_id, weight in variants:
        if point < weight:
            return Assignment(False, variant_id)
        point -= weight
    return Assignment(False, variants[-1][0])  # pragma: no cover


def cycle_for(program: Program, now: datetime) -> str:
    """Return the enrollment cycle a rule enrolls into now: the UTC quarter for the
    quarterly rule, none for the others."""
    if program.enrollment_rule != EnrollmentRule.QUARTERLY:
        return ""
    return quarter_of(now.astimezone(UTC))


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def enroll_breeders(
    program: Program,
    breeders: Iterable[Breeder],
    *,
    now: datetime | None = None,
    cycle: str = "",
    enrolled_by_id: int | None = None,
) -> list[Enrollment]:
    """Enroll breeders not yet in this program (for this cycle) and schedule their steps.

    Returns the enrollments this call created.
    """
    now = now or timezone.now()
    breeders = list(breeders)
    if not breeders or not program.active:
        return []
    variants = list(program.variants.order_by("key").values_list("id", "weight"))
    rows = []
    for breeder in breeders:
        assignment = assign(program, variants, str(breeder.public_id))
        rows.append(
            Enrollment(
                workspace_id=program.workspace_id,
                breeder=breeder,
                program=program,
                cycle=cycle,
                variant_id=assignment.variant_id,
                holdout=assignment.holdout,
                enrolled_at=now,
                enrolled_by_id=enrolled_by_id,
                state=EnrollmentState.ACTIVE,
            )
        )
    with transaction.atomic():
        Enrollment.objects.bulk_create(rows, ignore_conflicts=True)
        created = list(
            Enrollment.objects.filter(
                program=program,
                cycle=cycle,
                breeder__in=[b.pk for b in breeders],
                enrolled_at=now,
            ).select_related("breeder")
        )
        schedule_steps(program, created)
    if created:
        logger.info("Enrolled %d breeders in program %s", len(created), program.key)
    return created


def schedule_steps(program: Program, enrollments: Sequence[Enrollment]) -> int:
    """Write one pending send per (enrollment, step); holdouts get none."""
    steps = list(program.steps.all())
    if not steps:
        return 0
    send_settings = settings_for(program.workspace_id)
    workspace_tz = ZoneInfo(Workspace.objects.get(pk=program.workspace_id).time_zone)
    sends = []
    for enrollment in enrollments:
        if enrollment.holdout:
            continue
        breeder = enrollment.breeder
        tz = ZoneInfo(breeder.time_zone) if breeder.time_zone else workspace_tz
        for step in steps:
            if step.variant_id is not None and step.variant_id != enrollment.variant_id:
                continue
            due = local_day_offset(enrollment.enrolled_at, step.day_offset, tz)
            kind = STEP_SEND_KIND[StepKind(step.kind)]
            send_after = (
                due if kind == SendKind.OUTREACH else place_in_window(due, send_settings, tz)
            )
            sends.append(
                ScheduledSend(
                    workspace_id=program.workspace_id,
                    key=f"enrollment:{enrollment.pk}:step:{step.pk}",
                    breeder_id=breeder.pk,
                    enrollment=enrollment,
                    step=step,
                    template_id=step.template_id,
                    kind=kind,
                    category=program.category,
                    priority=program.priority,
                    survey_kind=step.survey_kind,
                    context={"program": program.name, "step": step.title, "day": step.day_offset},
                    due_at=due,
                    send_after=send_after,
                )
            )
    ScheduledSend.objects.bulk_create(sends, ignore_conflicts=True, batch_size=2000)
    return len(sends)


def _candidates(program: Program, now: datetime) -> list[Breeder]:
    """Breeders the program's rule takes in now and who are not enrolled yet."""
    base = Breeder.objects.exclude(email="")
    already = Enrollment.objects.filter(program=program)
    rule = program.enrollment_rule
    if rule == EnrollmentRule.SIGNUP:
        since = now - timedelta(days=program.enroll_signups_within_days)
        picked = base.filter(signed_up_at__gte=since, signed_up_at__lte=now)
        already = already.filter(cycle="")
    elif rule == EnrollmentRule.TIER:
        picked = base.filter(tier=program.enrollment_value)
        already = already.filter(cycle="")
    elif rule == EnrollmentRule.BAND:
        picked = base.filter(health_score__band=program.enrollment_value)
        already = already.filter(cycle="")
    elif rule == EnrollmentRule.QUARTERLY:
        now_utc = now.astimezone(UTC)
        quarter_start = datetime(now_utc.year, (now_utc.month - 1) // 3 * 3 + 1, 1, tzinfo=UTC)
        reached = RawSQL(
            "%s >= %s + (abs(hashtext(accounts_breeder.public_id::text)) %% %s) * interval '1 day'",
            [now, quarter_start, QUARTERLY_SPREAD_DAYS],
            output_field=BooleanField(),
        )
        picked = (
            base.filter(signed_up_at__lt=now - timedelta(days=QUARTERLY_MIN_AGE_DAYS))
            .alias(reached=reached)
            .filter(reached=True)
        )
        already = already.filter(cycle=cycle_for(program, now))
    else:
        return []
    return list(picked.exclude(pk__in=already.values("breeder_id")).order_by("pk")[:5000])


def enroll_by_rules(workspace_id: int, now: datetime | None = None) -> int:
    """Run every active program's enrollment rule in one workspace."""
    now = now or timezone.now()
    total = 0
    programs = Program.objects.filter(active=True).exclude(enrollment_rule=EnrollmentRule.MANUAL)
    for program in programs:
        breeders = _candidates(program, now)
        total += len(enroll_breeders(program, breeders, now=now, cycle=cycle_for(program, now)))
    return total


LIVE_SUBSCRIPTION = [
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.INCOMPLETE,
    SubscriptionStatus.PAUSED,
]


def _churned_breeder_ids(breeder_ids: Sequence[int]) -> set[int]:
    """Breeders who had subscriptions and have none left."""
    if not breeder_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT breeder_id FROM lifecycle_subscription
            WHERE breeder_id = ANY(%s)
            GROUP BY breeder_id
            HAVING count(*) FILTER (WHERE status = ANY(%s)) = 0
            """,
            [list(breeder_ids), [str(s) for s in LIVE_SUBSCRIPTION]],
        )
        return {row[0] for row in cursor.fetchall()}


def _outcome(enrollment: Enrollment, churned: bool) -> dict[str, object]:
    results = MilestoneAchievement.objects.filter(
        breeder_id=enrollment.breeder_id, recorded_at__gte=enrollment.enrolled_at
    ).values_list("status", flat=True)
    statuses = list(results)
    band = getattr(getattr(enrollment.breeder, "health_score", None), "band", "")
    return {
        "milestones_on_time": statuses.count(AchievementStatus.ON_TIME),
        "milestones_late": statuses.count(AchievementStatus.LATE),
        "milestones_missed": statuses.count(AchievementStatus.MISSED),
        "band": band,
        "churned": churned,
    }


def close_enrollments(workspace_id: int, now: datetime | None = None) -> dict[str, int]:
    """End enrollments that are finished, or whose breeder churned or opted out."""
    now = now or timezone.now()
    active = list(
        Enrollment.objects.filter(state=EnrollmentState.ACTIVE)
        .select_related("program", "breeder", "breeder__health_score")
        .order_by("pk")[:10_000]
    )
    if not active:
        return {}
    ids = [e.pk for e in active]
    pending = set(
        ScheduledSend.objects.filter(enrollment_id__in=ids, state=SendState.PENDING).values_list(
            "enrollment_id", flat=True
        )
    )
    churned = _churned_breeder_ids([e.breeder_id for e in active])
    prefs = {
        p.breeder_id: p
        for p in EmailPreference.objects.filter(breeder_id__in=[e.breeder_id for e in active])
    }
    last_day = {
        program_id: max(s.day_offset for s in steps)
        for program_id, steps in steps_for({e.program_id for e in active}).items()
    }
    counts: dict[str, int] = {}
    for enrollment in active:
        pref = prefs.get(enrollment.breeder_id)
        if enrollment.breeder_id in churned:
            state, reason = EnrollmentState.EXITED, "churned"
        elif pref is not None and not pref.allows(enrollment.program.category):
            state, reason = EnrollmentState.EXITED, "unsubscribed"
        elif enrollment.pk not in pending and (
            enrollment.holdout
            or now
            >= enrollment.enrolled_at + timedelta(days=last_day.get(enrollment.program_id, 0))
        ):
            state, reason = EnrollmentState.COMPLETED, "finished"
        else:
            continue
        with transaction.atomic():
            enrollment.state = state
            enrollment.exit_reason = reason
            enrollment.ended_at = now
            enrollment.outcome = _outcome(enrollment, enrollment.breeder_id in churned)
            enrollment.save(update_fields=["state", "exit_reason", "ended_at", "outcome"])
            if state == EnrollmentState.EXITED:
                ScheduledSend.objects.filter(enrollment=enrollment, state=SendState.PENDING).update(
                    state=SendState.CANCELED, reason=reason
                )
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def enroll_by_hand(program: Program, breeder: Breeder, *, by_user_id: int) -> Enrollment | None:
    cycle = cycle_for(program, timezone.now())
    created = enroll_breeders(program, [breeder], cycle=cycle, enrolled_by_id=by_user_id)
    return created[0] if created else None


def steps_for(program_ids: Iterable[int]) -> dict[int, list[ProgramStep]]:
    grouped: dict[int, list[ProgramStep]] = {}
    for step in ProgramStep.objects.filter(program_id__in=program_ids).order_by("day_offset"):
        grouped.setdefault(step.program_id, []).append(step)
    return grouped
