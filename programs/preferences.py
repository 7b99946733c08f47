"""Changing a breeder's email preferences and cancelling what they no longer want."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from accounts.models import Breeder
from lifecycle.models import TimelineEntry, TimelineKind
from programs.models import EmailCategory, EmailPreference, ScheduledSend, SendKind, SendState


def preference_for(breeder: Breeder) -> EmailPreference:
    found = EmailPreference.objects.filter(breeder=breeder).first()
    return found or EmailPreference(workspace_id=breeder.workspace_id, breeder=breeder)


@transaction.atomic
def set_preferences(
    breeder: Breeder, *, opted_out: Iterable[str], all_off: bool, source: str
) -> EmailPreference:
    """Save the breeder's choice and cancel pending emails it rules out, at once."""
    chosen = sorted({EmailCategory(c).value for c in opted_out})
    preference, _ = EmailPreference.objects.select_for_update().get_or_create(
        workspace_id=breeder.workspace_id, breeder=breeder
    )
    before = (set(preference.opted_out), preference.all_off)
    preference.opted_out = chosen
    preference.all_off = all_off
    preference.save()
    pending = ScheduledSend.objects.filter(breeder=breeder, state=SendState.PENDING).exclude(
        kind=SendKind.OUTREACH
    )
    if not all_off:
        pending = pending.filter(category__in=chosen)
    canceled = pending.update(state=SendState.CANCELED, reason="breeder opted out")
    if before != (set(chosen), all_off):
        if all_off:
            summary = "Turned off all emails"
        elif chosen:
            labels = ", ".join(EmailCategory(c).label.lower() for c in chosen)
            summary = f"Turned off: {labels}"
        else:
            summary = "Turned every email category back on"
        now = timezone.now()
        TimelineEntry.objects.create(
            workspace_id=breeder.workspace_id,
            breeder=breeder,
            kind=TimelineKind.EMAIL,
            occurred_at=now,
            title=f"Email preferences changed: {summary}",
            body=f"{source}; {canceled} pending emails canceled.",
            source_key=f"preferences:{breeder.public_id}:{now.isoformat()}",
        )
    return preference


def unsubscribe(breeder: Breeder, category: str, *, source: str) -> EmailPreference:
    current = preference_for(breeder)
    return set_preferences(
        breeder,
        opted_out=[*current.opted_out, category],
        all_off=current.all_off,
        source=source,
    )
