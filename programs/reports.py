"""Counts of a workspace's email backlog, for reports and the walkthrough."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.utils import timezone

from programs.models import ScheduledSend, SendKind, SendState


def email_backlog(now: datetime | None = None) -> dict[str, Counter[str]]:
    """Count the pending emails of the workspace in scope: due now and later, per program.

    Milestone messages count under "milestone messages"; outreach tasks are not emails
    and are left out.
    """
    now = now or timezone.now()
    rows = (
        ScheduledSend.objects.filter(state=SendState.PENDING)
        .exclude(kind=SendKind.OUTREACH)
        .values_list("send_after", "enrollment__program__name")
    )
    backlog: dict[str, Counter[str]] = {"due": Counter(), "later": Counter()}
    for send_after, program in rows.iterator():
        bucket = "due" if send_after <= now else "later"
        backlog[bucket][program or "milestone messages"] += 1
    return backlog
