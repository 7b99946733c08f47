"""Delivering due sends exactly once.

Each send is handled in its own transaction:

1. claim the most urgent due row with `SELECT … FOR UPDATE SKIP LOCKED`, so two
   workers never hold the same row;
2. check it is still wanted (preferences, enrollment, skip condition), still inside
   the breeder's send window and within the weekly budget, else move or close it;
3. hand the message to the SMTP server, then mark the row sent and write the timeline
   entry; the commit releases the row.

A worker that dies before the commit leaves the row pending and unlocked (PostgreSQL
drops a dead connection's locks), so the next run sends it. A row marked sent is never
claimed again. The one gap SMTP itself leaves (RFC 1047) is a crash after the server
accepted the message and before our commit, a window estimated at a few hundred
microseconds. The resend then carries the same Message-ID, which many mail systems
use to drop the duplicate.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formataddr
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Breeder, Membership, Role, Workspace
from lifecycle.models import (
    AchievementStatus,
    MilestoneAchievement,
    TaskSource,
    TimelineEntry,
    TimelineKind,
)
from lifecycle.tasks_service import create_system_task
from programs.links import link, make_token
from programs.models import (
    EmailTemplate,
    EnrollmentState,
    ScheduledSend,
    SendKind,
    SendSettings,
    SendState,
)
from programs.rendering import RenderedMessage, TemplateProblem, render_parts
from programs.windows import in_window, place_in_window, settings_for

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=5)
BUDGET_PERIOD = timedelta(days=7)
# Key space of the transaction-level advisory locks that serialise one breeder's sends.
BREEDER_LOCK_SPACE = 7301

TRANSIENT_SMTP_ERRORS: tuple[type[BaseException], ...] = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    ConnectionError,
    TimeoutError,
)


@dataclass
class Mailer:
    """One SMTP connection reused across a run, reopened after a transient failure."""

    backend: Any = None

    def send(self, message: EmailMultiAlternatives) -> None:
        if self.backend is None:
            self.backend = get_connection(fail_silently=False)
            self.backend.open()
        message.connection = self.backend
        try:
            sent = message.send()
        except BaseException:
            self.close()
            raise
        if sent != 1:
            raise smtplib.SMTPServerDisconnected("The mail backend did not accept the message.")

    def close(self) -> None:
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception:  # noqa: BLE001 (closing a broken connection)
                logger.debug("Closing the mail connection failed", exc_info=True)
            self.backend = None


@dataclass
class RunCache:
    """Rows one run reads again and again: the workspace, its settings and templates."""

    workspace: Workspace
    send_settings: SendSettings
    templates: dict[int, EmailTemplate] = field(default_factory=dict)

    def template(self, template_id: int) -> EmailTemplate | None:
        if template_id not in self.templates:
            found = EmailTemplate.objects.filter(pk=template_id).first()
            if found is None:
                return None
            self.templates[template_id] = found
        return self.templates[template_id]


def deliver_due(
    workspace_id: int,
    *,
    limit: int | None = None,
    seconds: float | None = None,
    now: datetime | None = None,
) -> Counter[str]:
    """Handle one workspace's due sends until none is left, `limit` sends were handled
    or `seconds` passed; return counts per outcome."""
    cache = RunCache(Workspace.objects.get(pk=workspace_id), settings_for(workspace_id))
    mailer = Mailer()
    outcomes: Counter[str] = Counter()
    started = time.monotonic()
    handled = 0
    try:
        while limit is None or handled < limit:
            if seconds is not None and time.monotonic() - started > seconds:
                break
            moment = now or timezone.now()
            with transaction.atomic():
                send = claim_next(workspace_id, moment)
                if send is None:
                    break
                outcomes[handle(send, cache, mailer, moment)] += 1
            handled += 1
    finally:
        mailer.close()
    if outcomes:
        logger.info("Workspace %s deliveries: %s", workspace_id, dict(outcomes))
    return outcomes


# The claim is plain SQL: it runs once per send, and building it through the ORM cost
# more than running it. After the row, the claim takes a transaction-level advisory
# lock on its breeder, so one breeder's sends never go out in parallel and two workers
# cannot overrun the weekly budget; a second worker with a send to the same breeder
# waits a few milliseconds. (A lock test inside the WHERE clause would run on every
# row the planner reads before sorting.) The two-key lock function takes int4 keys;
# ids past 2^31 share a lock, which only serialises two breeders' sends.
CLAIM_SQL = """
    SELECT * FROM programs_scheduledsend
    WHERE workspace_id = %(ws)s AND state = 'pending' AND send_after <= %(now)s
    ORDER BY priority DESC, send_after, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
"""
BREEDER_SQL = """
    SELECT b.*, p.phase AS current_phase,
           pg_advisory_xact_lock(%(space)s, (b.id %% 2147483647)::int) IS NULL AS locked
    FROM accounts_breeder b LEFT JOIN lifecycle_breederphase p ON p.breeder_id = b.id
    WHERE b.id = %(breeder)s AND b.workspace_id = %(ws)s
"""


def claim_next(workspace_id: int, now: datetime) -> ScheduledSend | None:
    """Lock and return the workspace's most urgent due send, with its breeder loaded
    and locked."""
    send = next(
        iter(ScheduledSend.unscoped_objects.raw(CLAIM_SQL, {"ws": workspace_id, "now": now})), None
    )
    if send is not None:
        params = {"breeder": send.breeder_id, "ws": workspace_id, "space": BREEDER_LOCK_SPACE}
        send.breeder = next(iter(Breeder.unscoped_objects.raw(BREEDER_SQL, params)))
    return send


def _close(send: ScheduledSend, state: str, reason: str) -> str:
    send.state = state
    send.reason = reason
    send.save(update_fields=["state", "reason"])
    return f"{state}:{reason}"


def handle(send: ScheduledSend, cache: RunCache, mailer: Mailer, now: datetime) -> str:
    """Decide what to do with one claimed send and do it. Runs inside the claim's
    transaction."""
    breeder = send.breeder
    if send.enrollment is not None and send.enrollment.state != EnrollmentState.ACTIVE:
        return _close(send, SendState.CANCELED, "enrollment ended")
    step = send.step
    if step is not None and step.skip_if_milestone_id is not None:
        reached = MilestoneAchievement.objects.filter(
            breeder_id=breeder.pk,
            milestone_id=step.skip_if_milestone_id,
            status__in=[AchievementStatus.ON_TIME, AchievementStatus.LATE],
        ).exists()
        if reached:
            return _close(send, SendState.SKIPPED, "milestone already achieved")
    if send.kind == SendKind.OUTREACH:
        return _create_outreach_task(send, breeder, cache)

    if not breeder.email:
        return _close(send, SendState.FAILED, "breeder has no email address")
    tz = ZoneInfo(breeder.time_zone or cache.workspace.time_zone)
    if not in_window(now, cache.send_settings, tz):
        send.send_after = place_in_window(now, cache.send_settings, tz)
        send.save(update_fields=["send_after"])
        return "moved:outside window"
    opted_out, all_off, spent, oldest = _preference_and_budget(send, now)
    if all_off or send.category in opted_out:
        return _close(send, SendState.CANCELED, "breeder opted out")
    if spent >= cache.send_settings.weekly_budget:
        frees_at = oldest + BUDGET_PERIOD
        send.send_after = place_in_window(frees_at, cache.send_settings, tz)
        send.deferrals += 1
        send.reason = "weekly email budget spent"
        send.save(update_fields=["send_after", "deferrals", "reason"])
        return "deferred:budget"

    template = cache.template(send.template_id) if send.template_id else None
    if template is None:
        return _fail(send, "Its template was deleted.", now)
    context = message_context(send, breeder, cache.workspace, cache.send_settings)
    try:
        rendered = render_parts(template.subject, template.text_body, template.html_body, context)
    except TemplateProblem as problem:
        return _fail(send, f"Template {template.key}, {problem.field}: {problem}", now)
    message = build_message(
        send, breeder, cache.workspace, rendered, unsubscribe_url=context["links"]["unsubscribe"]
    )
    send.attempts += 1
    try:
        mailer.send(message)
    except smtplib.SMTPResponseException as error:
        if 400 <= error.smtp_code < 500:
            return _retry(send, f"{error.smtp_code} {error.smtp_error!r}", now)
        return _fail(send, f"The mail server refused it: {error.smtp_code}.", now)
    except smtplib.SMTPRecipientsRefused:
        return _fail(send, "The mail server refused the breeder's address.", now)
    except TRANSIENT_SMTP_ERRORS as error:
        return _retry(send, f"{type(error).__name__}: {error}", now)

    with connection.cursor() as cursor:
        # Plain SQL for the same reason as the claim: it runs once per message.
        cursor.execute(
            "UPDATE programs_scheduledsend SET state = 'sent', sent_at = %s, subject = %s,"
            " message_id = %s, attempts = %s, reason = '' WHERE id = %s",
            [
                now,
                rendered.subject[:300],
                message.extra_headers["Message-ID"],
                send.attempts,
                send.pk,
            ],
        )
    TimelineEntry.objects.create(
        workspace_id=send.workspace_id,
        breeder_id=breeder.pk,
        kind=TimelineKind.EMAIL,
        occurred_at=now,
        title=f"Email sent: {rendered.subject}"[:300],
        body=_describe(send),
        source_key=f"send:{send.public_id}",
    )
    return "sent"


def _preference_and_budget(
    send: ScheduledSend, now: datetime
) -> tuple[list[str], bool, int, datetime]:
    """Read the breeder's opt-outs and the emails sent in the budget period, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(p.opted_out, '{}'), coalesce(p.all_off, false), b.spent, b.oldest
            FROM (
                SELECT count(*) AS spent, min(sent_at) AS oldest
                FROM programs_scheduledsend
                WHERE workspace_id = %(ws)s AND breeder_id = %(breeder)s AND state = 'sent'
                  AND sent_at > %(since)s AND kind <> 'outreach'
            ) b
            LEFT JOIN programs_emailpreference p
                ON p.workspace_id = %(ws)s AND p.breeder_id = %(breeder)s
            """,
            {"ws": send.workspace_id, "breeder": send.breeder_id, "since": now - BUDGET_PERIOD},
        )
        opted_out, all_off, spent, oldest = cursor.fetchone()
    return list(opted_out), bool(all_off), int(spent), oldest


def _describe(send: ScheduledSend) -> str:
    context = send.context or {}
    if send.kind in (SendKind.CELEBRATION, SendKind.NUDGE):
        return f"{SendKind(send.kind).label}: {context.get('milestone', '')}"
    if context.get("program"):
        return f"{context['program']}, day {context.get('day', 0)}: {context.get('step', '')}"
    return SendKind(send.kind).label


def _retry(send: ScheduledSend, error: str, now: datetime) -> str:
    if send.attempts >= MAX_ATTEMPTS:
        return _fail(send, f"Gave up after {send.attempts} attempts: {error}", now)
    send.error = error
    send.send_after = now + RETRY_BASE * (2 ** (send.attempts - 1))
    send.save(update_fields=["error", "send_after", "attempts"])
    return "retry"


def _fail(send: ScheduledSend, error: str, now: datetime) -> str:
    send.state = SendState.FAILED
    send.error = error
    send.save(update_fields=["state", "error", "attempts"])
    TimelineEntry.objects.create(
        workspace_id=send.workspace_id,
        breeder_id=send.breeder_id,
        kind=TimelineKind.EMAIL,
        occurred_at=now,
        title="Email failed",
        body=f"{_describe(send)}. {error}",
        source_key=f"send:{send.public_id}:failed",
    )
    logger.warning("Send %s failed: %s", send.pk, error)
    return "failed"


def _create_outreach_task(send: ScheduledSend, breeder: Breeder, cache: RunCache) -> str:
    step = send.step
    if step is None:
        return _close(send, SendState.CANCELED, "step deleted")
    assignee = step.outreach_user
    if assignee is None:
        if step.outreach_role == "csm" and breeder.assigned_csm_id is not None:
            assignee = breeder.assigned_csm
        else:
            # The breeder's CSM when there is one; else the first member with the role,
            # and the owner when nobody has it.
            role = Role.OWNER if step.outreach_role in ("csm", "") else step.outreach_role
            members = Membership.objects.select_related("user").order_by("pk")
            membership = (
                members.filter(role=role).first() or members.filter(role=Role.OWNER).first()
            )
            assignee = membership.user if membership else None
    tz = ZoneInfo(breeder.time_zone or cache.workspace.time_zone)
    due_on = (send.due_at + timedelta(hours=step.due_within_hours)).astimezone(tz).date()
    task, created = create_system_task(
        breeder,
        source=TaskSource.PROGRAM,
        source_key=f"send:{send.key}",
        title=f"{step.title}: {breeder.display_name}",
        due_on=due_on,
        assignee=assignee,
        details=f"{step.program.name}, day {step.day_offset}. {step.program.description}".strip(),
    )
    if created:
        TimelineEntry.objects.create(
            workspace_id=send.workspace_id,
            breeder_id=breeder.pk,
            kind=TimelineKind.TASK,
            occurred_at=send.due_at,
            title=f"Outreach task: {step.title}",
            body=f"For {assignee.display_name if assignee else 'the team'}, due {due_on}.",
            source_key=f"send:{send.public_id}",
        )
    send.state = SendState.SENT
    send.sent_at = timezone.now()
    send.subject = task.title
    send.save(update_fields=["state", "sent_at", "subject"])
    return "task"


def message_context(
    send: ScheduledSend, breeder: Breeder, workspace: Workspace, send_settings: SendSettings
) -> dict[str, Any]:
    """The plain values a template may use; see `programs.rendering`."""
    if hasattr(breeder, "current_phase"):  # read by the claim's breeder query
        phase = breeder.current_phase or ""
    else:
        record = getattr(breeder, "lifecycle_phase", None)
        phase = record.phase if record else ""
    days = (timezone.now() - breeder.signed_up_at).days
    unsubscribe = make_token("unsubscribe", breeder, workspace, c=send.category)
    preferences = make_token("preferences", breeder, workspace)
    context = send.context or {}
    links: dict[str, Any] = {
        "unsubscribe": link("unsubscribe", unsubscribe),
        "preferences": link("preferences", preferences),
        "scores": [],
    }
    if send.kind == SendKind.SURVEY:
        survey = make_token("survey", breeder, workspace, s=str(send.public_id), k=send.survey_kind)
        low, high = (0, 10) if send.survey_kind == "nps" else (1, 5)
        links["scores"] = [
            {"score": n, "url": link("survey", survey, score=n)} for n in range(low, high + 1)
        ]
    name = breeder.name or breeder.business_name or ""
    return {
        "breeder": {
            "name": name,
            "first_name": name.split()[0] if name else "there",
            "business_name": breeder.business_name,
            "email": breeder.email,
            "tier": breeder.tier,
            "phase": phase or "",
            "species": list(breeder.species),
            "animal_count": breeder.animal_count,
            "country": breeder.country,
            "days_since_signup": days,
        },
        "program": {
            "name": context.get("program", ""),
            "step_title": context.get("step", ""),
            "day": context.get("day", 0),
        },
        "workspace": {
            "name": workspace.name,
            "sender_name": workspace.sender_name or workspace.name,
        },
        "milestone": context.get("milestone_info", {"name": "", "status": ""}),
        "next_milestone": context.get("next_milestone", {"name": "", "target_day": ""}),
        "links": links,
    }


def build_message(
    send: ScheduledSend,
    breeder: Breeder,
    workspace: Workspace,
    rendered: RenderedMessage,
    *,
    unsubscribe_url: str | None,
) -> EmailMultiAlternatives:
    """Build the email. Without `unsubscribe_url` (test sends) it has no unsubscribe
    headers, so a staff mail client cannot opt a real breeder out."""
    domain = settings.SITE_URL.split("://", 1)[-1].split("/")[0].split(":")[0] or "localhost"
    recipient = formataddr((breeder.name or breeder.business_name, breeder.email))
    headers = {"Message-ID": f"<send-{send.public_id}@{domain}>", "X-ReptiDex-Send": send.key}
    if unsubscribe_url:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=workspace.from_address,
        to=[recipient],
        headers=headers,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
