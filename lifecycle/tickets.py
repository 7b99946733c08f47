"""Support tickets: validation of incoming ticket data, escalation paths and upserts.

The ticket webhook and the CSV import both go through `build_ticket_values` and
`write_tickets`, so a ticket is checked the same way whichever way it came in. Tickets
are upserted on (workspace, external id): sending a ticket again updates it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Breeder, Workspace
from lifecycle.input_fields import (
    FieldError,
    parse_choice,
    parse_email,
    parse_int,
    parse_iso_datetime,
    parse_text,
)
from lifecycle.models.billing import RecordSource
from lifecycle.models.tickets import Ticket, TicketCategory, TicketPriority, TicketStatus

logger = logging.getLogger(__name__)

# Escalation path per category: the teams above first-line support, in order. A
# workspace can replace a path in its settings under "ticket_escalation_paths", e.g.
# {"billing": ["operations", "finance", "cfo"]}.
DEFAULT_ESCALATION_PATHS: dict[str, list[str]] = {
    TicketCategory.TECHNICAL: ["product", "engineering"],
    TicketCategory.ACCOUNT: ["csm", "leadership"],
    TicketCategory.FEATURE_REQUEST: ["product", "roadmap"],
    TicketCategory.BILLING: ["operations", "finance"],
}
ESCALATION_SETTINGS_KEY = "ticket_escalation_paths"

# The fields a ticket may carry, in the webhook's JSON and as targets of a CSV mapping.
TICKET_FIELDS = (
    "external_id",
    "breeder_external_id",
    "breeder_email",
    "subject",
    "category",
    "priority",
    "status",
    "satisfaction_rating",
    "opened_at",
    "first_responded_at",
    "first_response_minutes",
    "solved_at",
    "escalation_level",
)
TIME_FIELDS = ("opened_at", "first_responded_at", "solved_at")

TimeParser = Callable[[str, Any, bool], datetime | None]


def escalation_path(workspace: Workspace, category: str) -> list[str]:
    configured = (workspace.settings or {}).get(ESCALATION_SETTINGS_KEY, {})
    path = configured.get(category) if isinstance(configured, dict) else None
    if isinstance(path, list) and all(isinstance(step, str) for step in path):
        return list(path)
    return list(DEFAULT_ESCALATION_PATHS.get(category, []))


@dataclass(frozen=True)
class TicketValues:
    external_id: str
    breeder_external_id: str
    breeder_email: str
    subject: str
    category: str
    priority: str
    status: str
    satisfaction_rating: int | None
    opened_at: datetime
    first_responded_at: datetime | None
    solved_at: datetime | None
    escalation_level: int


def _iso_time(field: str, value: Any, required: bool) -> datetime | None:
    return parse_iso_datetime(field, value, required=required)


def build_ticket_values(
    raw: dict[str, Any], *, workspace: Workspace, parse_time: TimeParser = _iso_time
) -> TicketValues:
    """Check one ticket's fields and return them typed; raises FieldError on the first bad one.

    `parse_time` reads the time fields: ISO 8601 for JSON, the mapping's formats for CSV.
    """
    unknown = sorted(set(raw) - set(TICKET_FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"is not a ticket field; use only {', '.join(TICKET_FIELDS)}.")
    external_id = parse_text("external_id", raw.get("external_id"), required=True, max_length=255)
    breeder_external_id = parse_text(
        "breeder_external_id", raw.get("breeder_external_id"), max_length=200
    )
    breeder_email = parse_email("breeder_email", raw.get("breeder_email"))
    if not breeder_external_id and not breeder_email:
        raise FieldError(
            "breeder_external_id",
            "is missing; give the breeder's user id (breeder_external_id) or email "
            "(breeder_email).",
        )
    subject = parse_text("subject", raw.get("subject"), required=True, max_length=300)
    category = parse_choice("category", raw.get("category"), TicketCategory.values, required=True)
    priority = parse_choice(
        "priority", raw.get("priority"), TicketPriority.values, default=TicketPriority.NORMAL
    )
    rating = parse_int("satisfaction_rating", raw.get("satisfaction_rating"), minimum=1, maximum=5)
    opened_at = parse_time("opened_at", raw.get("opened_at"), True)
    assert opened_at is not None  # required=True above
    solved_at = parse_time("solved_at", raw.get("solved_at"), False)
    if solved_at is not None and solved_at < opened_at:
        raise FieldError("solved_at", "is before opened_at; check both times.")
    first_responded_at = parse_time("first_responded_at", raw.get("first_responded_at"), False)
    minutes = parse_int("first_response_minutes", raw.get("first_response_minutes"), minimum=0)
    if first_responded_at is None and minutes is not None:
        first_responded_at = opened_at + timedelta(minutes=minutes)
    if first_responded_at is not None and first_responded_at < opened_at:
        raise FieldError("first_responded_at", "is before opened_at; check both times.")
    default_status = TicketStatus.SOLVED if solved_at else TicketStatus.OPEN
    status = parse_choice("status", raw.get("status"), TicketStatus.values, default=default_status)
    level = parse_int(
        "escalation_level",
        raw.get("escalation_level"),
        minimum=0,
        maximum=len(escalation_path(workspace, category)),
    )
    return TicketValues(
        external_id=external_id,
        breeder_external_id=breeder_external_id,
        breeder_email=breeder_email,
        subject=subject,
        category=category,
        priority=priority,
        status=status,
        satisfaction_rating=rating,
        opened_at=opened_at,
        first_responded_at=first_responded_at,
        solved_at=solved_at,
        escalation_level=level or 0,
    )


class BreederLookup:
    """Finds breeders of the workspace in scope by external id or email, with a cache.

    A CSV import looks up the same breeders many times, so each key is looked up once.
    """

    def __init__(self) -> None:
        self._by_external_id: dict[str, int | None] = {}
        self._by_email: dict[str, int | None] = {}

    def preload(self) -> None:
        """Load every breeder's keys in one query; worth it before a large import."""
        for pk, external_id, email in Breeder.objects.values_list("pk", "external_id", "email"):
            if external_id:
                self._by_external_id[external_id] = pk
            if email:
                key = email.lower()
                # An email shared by two breeders cannot identify either of them.
                self._by_email[key] = None if key in self._by_email else pk

    def by_external_id(self, external_id: str) -> int | None:
        if external_id not in self._by_external_id:
            self._by_external_id[external_id] = (
                Breeder.objects.filter(external_id=external_id).values_list("pk", flat=True).first()
            )
        return self._by_external_id[external_id]

    def by_email(self, email: str) -> int | None:
        key = email.lower()
        if key not in self._by_email:
            matches = list(
                Breeder.objects.alias(email_lower=Lower("email"))
                .filter(email_lower=key)
                .values_list("pk", flat=True)[:2]
            )
            self._by_email[key] = matches[0] if len(matches) == 1 else None
        return self._by_email[key]

    def remember(self, pk: int, *, external_id: str, email: str) -> None:
        if external_id:
            self._by_external_id[external_id] = pk
        if email:
            self._by_email[email.lower()] = pk

    def find(self, *, external_id: str, email: str, field_prefix: str = "breeder") -> int:
        """Return the breeder's id, or raise FieldError naming the field that failed."""
        if external_id:
            pk = self.by_external_id(external_id)
            if pk is not None:
                return pk
            if not email:
                raise FieldError(
                    f"{field_prefix}_external_id",
                    f"no breeder has the external id {external_id!r} in this workspace; "
                    "send the ReptiDex user id, or import the breeder first.",
                )
        pk = self.by_email(email)
        if pk is None:
            raise FieldError(
                f"{field_prefix}_email",
                f"no single breeder has the email {email!r} in this workspace; send the "
                "breeder's user id instead, or import the breeder first.",
            )
        return pk


UPDATED_FIELDS = [
    "breeder",
    "subject",
    "category",
    "priority",
    "status",
    "satisfaction_rating",
    "opened_at",
    "first_responded_at",
    "solved_at",
    "escalation_path",
    "escalation_level",
    "updated_at",
]


@dataclass(frozen=True)
class WriteResult:
    created: int
    updated: int
    external_ids: list[str]


def write_tickets(
    workspace: Workspace,
    rows: Iterable[tuple[TicketValues, int]],
    *,
    source: str = RecordSource.IMPORT,
) -> WriteResult:
    """Upsert tickets given as (values, breeder id) pairs in the workspace in scope.

    The caller opens the transaction. A later row with the same external id wins. An
    updated ticket keeps its public id, source and creation time.
    """
    by_external_id: dict[str, tuple[TicketValues, int]] = {}
    for values, breeder_id in rows:
        by_external_id[values.external_id] = (values, breeder_id)
    existing = set(
        Ticket.objects.filter(external_id__in=list(by_external_id)).values_list(
            "external_id", flat=True
        )
    )
    now = timezone.now()
    tickets = []
    for external_id, (values, breeder_id) in by_external_id.items():
        path = escalation_path(workspace, values.category)
        tickets.append(
            Ticket(
                workspace=workspace,
                external_id=external_id,
                source=source,
                breeder_id=breeder_id,
                subject=values.subject,
                category=values.category,
                priority=values.priority,
                status=values.status,
                satisfaction_rating=values.satisfaction_rating,
                opened_at=values.opened_at,
                first_responded_at=values.first_responded_at,
                solved_at=values.solved_at,
                escalation_path=path,
                escalation_level=min(values.escalation_level, len(path)),
                updated_at=now,
            )
        )
    # INSERT … ON CONFLICT DO UPDATE: far faster than bulk_update's CASE expressions
    # for thousands of rows, and safe against a concurrent insert of the same ticket.
    Ticket.objects.bulk_create(
        tickets,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["workspace", "external_id"],
        update_fields=UPDATED_FIELDS,
    )
    created = len(by_external_id) - len(existing)
    logger.info(
        "Wrote tickets in workspace %s: %s created, %s updated",
        workspace.pk,
        created,
        len(existing),
    )
    return WriteResult(created=created, updated=len(existing), external_ids=list(by_external_id))
