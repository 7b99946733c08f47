"""Write a simulated population into a workspace through the product's own services.

- Segment calls go through the event API's message parser and its deduplicating
  insert (the code behind /v1/batch), then the event-processing step that the Celery
  task runs, which creates the breeders, the daily rollups and milestone achievements.
- Stripe events go through `lifecycle.billing.parse_event` and `store_event`, which
  the webhook view calls once a signature is verified, then `process_stored_event`,
  which the Celery task runs.
- Tickets go through the ticket webhook's checks and upsert (`lifecycle.tickets`).
- Survey answers are inserted, skipping any whose `source_key` is stored already.

Processing is driven here, in order, instead of being left to the tasks that the
services queue after each commit: the stories depend on it (Stripe events need their
breeders) and the demo must be complete when the command ends. A task that still runs
later finds nothing left to do.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Breeder, User, Workspace
from lifecycle import billing, journey
from lifecycle.billing_processing import process_stored_event
from lifecycle.ingestion.messages import InvalidMessage, parse_message
from lifecycle.ingestion.storage import insert_events
from lifecycle.models import SurveyAnswer
from lifecycle.models.billing import RecordSource, StripeEndpoint, StripeEvent, StripeEventStatus
from lifecycle.processing import process_pending_events
from lifecycle.simulation.calls import breeder_calls
from lifecycle.simulation.population import BreederPlan, build_population
from lifecycle.simulation.stripe import subscription_events
from lifecycle.tasks import request_processing
from lifecycle.tickets import BreederLookup, TicketValues, build_ticket_values, write_tickets

logger = logging.getLogger(__name__)

# Calls per insert, as in a /v1/batch request of 500 KB.
CALLS_PER_BATCH = 1000

Progress = Callable[[str], None]


@dataclass
class SimulationResult:
    breeders: int = 0
    events_stored: int = 0
    stripe_events_stored: int = 0
    tickets_written: int = 0
    survey_answers_stored: int = 0
    milestones_missed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class _Timer:
    def __init__(self, result: SimulationResult, progress: Progress | None) -> None:
        self.result = result
        self.progress = progress

    def step(self, name: str, work: Callable[[], Any]) -> Any:
        started = time.monotonic()
        value = work()
        self.result.seconds[name] = round(time.monotonic() - started, 2)
        if self.progress:
            self.progress(f"{name}: {self.result.seconds[name]:.1f} s")
        return value


def write_calls(workspace_id: int, calls: list[dict[str, Any]]) -> int:
    """Store Segment calls as /v1/batch does and return how many were new.

    Raises ValueError for a call the event API would reject, which would be a bug in
    the simulation.
    """
    received_at = timezone.now()
    rows = []
    for call in calls:
        try:
            rows.append(
                parse_message(
                    dict(call),
                    endpoint_type=None,
                    batch_sent_at=None,
                    batch_context=None,
                    received_at=received_at,
                    warnings=[],
                )
            )
        except InvalidMessage as error:
            raise ValueError(f"simulated call {call.get('messageId')}: {error.message}") from None
    with transaction.atomic():
        inserted = insert_events(workspace_id, rows, received_at)
        if inserted:
            transaction.on_commit(partial(request_processing, workspace_id))
    return inserted


def process_all_events(workspace_id: int) -> int:
    """Run event processing until no event of the workspace is pending."""
    processed = 0
    while True:
        result = process_pending_events(workspace_id)
        processed += result.processed
        if result.finished:
            return processed


def ensure_stripe_endpoint(workspace: Workspace) -> StripeEndpoint:
    """Return the workspace's Stripe endpoint, giving it a random signing secret if it has none."""
    endpoint = StripeEndpoint.objects.filter(workspace=workspace).first()
    if endpoint is not None and endpoint.signing_secret_encrypted:
        return endpoint
    return billing.set_stripe_signing_secret(
        workspace, secret=f"whsec_{secrets.token_urlsafe(24)}", actor=None
    )


def deliver_stripe_events(workspace: Workspace, events: Iterable[dict[str, Any]]) -> int:
    """Store verified Stripe events as the webhook view does, then apply the pending ones.

    Returns how many were new. Events are applied oldest first, as Stripe sent them.
    """
    endpoint = ensure_stripe_endpoint(workspace)
    stored = 0
    # One transaction for all of them: a commit per event and per application would
    # spend most of the time waiting for the disk.
    with transaction.atomic():
        for event in sorted(events, key=lambda event: event["created"]):
            parsed = billing.parse_event(json.dumps(event).encode())
            stored += not billing.store_event(endpoint, parsed).duplicate
        pending = StripeEvent.objects.filter(status=StripeEventStatus.PENDING).order_by(
            "stripe_created", "pk"
        )
        for stripe_id in pending.values_list("stripe_id", flat=True):
            process_stored_event(stripe_id)
    return stored


def write_tickets_until(workspace: Workspace, plans: list[BreederPlan], until: datetime) -> int:
    """Upsert every ticket opened by `until`, as the help desk would show it then."""
    lookup = BreederLookup()
    lookup.preload()
    rows: list[tuple[TicketValues, int]] = []
    for plan in plans:
        for ticket in plan.tickets:
            if ticket.opened_at > until:
                break
            solved = ticket.solved_at is not None and ticket.solved_at <= until
            raw = {
                "external_id": f"DEMO-{plan.number:04d}-{ticket.number:02d}",
                "breeder_external_id": plan.external_id,
                "subject": ticket.subject,
                "category": ticket.category,
                "priority": ticket.priority,
                "status": "solved" if solved else "open",
                "opened_at": ticket.opened_at.isoformat(),
                "first_response_minutes": ticket.first_response_minutes,
                "escalation_level": ticket.escalation_level,
            }
            if solved:
                assert ticket.solved_at is not None
                raw["solved_at"] = ticket.solved_at.isoformat()
                if ticket.rating is not None:
                    raw["satisfaction_rating"] = ticket.rating
            values = build_ticket_values(raw, workspace=workspace)
            rows.append((values, lookup.find(external_id=plan.external_id, email="")))
    if not rows:
        return 0
    with transaction.atomic():
        write_tickets(workspace, rows, source=RecordSource.WEBHOOK)
    return len(rows)


def store_survey_answers(
    workspace: Workspace, plans: list[BreederPlan], seed: int, until: datetime
) -> int:
    """Insert the survey answers given by `until`; an answer already stored is skipped."""
    breeder_ids = dict(Breeder.objects.values_list("external_id", "pk"))
    answers = [
        SurveyAnswer(
            workspace=workspace,
            breeder_id=breeder_ids[plan.external_id],
            kind=survey.kind,
            score=survey.score,
            comment=survey.comment,
            answered_at=survey.answered_at,
            source_key=f"demo:{seed}:{plan.number}:{survey.key}",
        )
        for plan in plans
        for survey in plan.surveys
        if survey.answered_at <= until and plan.external_id in breeder_ids
    ]
    before = SurveyAnswer.objects.count()
    SurveyAnswer.objects.bulk_create(answers, ignore_conflicts=True)
    return SurveyAnswer.objects.count() - before


def assign_breeders(plans: list[BreederPlan], csms: list[User]) -> int:
    """Set each breeder's tier, and give enterprise and professional breeders a CSM.

    Hobbyists and new breeders stay in the digital-success pool. The tier comes from
    the plan, as the segments app's tier rules would give it from the profile.
    """
    tiers = {plan.external_id: plan.tier for plan in plans}
    owners = {
        plan.external_id: csms[plan.number % len(csms)].pk
        for plan in plans
        if csms and plan.tier in ("enterprise", "professional")
    }
    changed = []
    for breeder in Breeder.objects.filter(external_id__in=list(tiers)):
        tier, owner = tiers[breeder.external_id], owners.get(breeder.external_id)
        if breeder.tier != tier or breeder.assigned_csm_id != owner:
            breeder.tier, breeder.assigned_csm_id = tier, owner
            breeder.updated_at = timezone.now()
            changed.append(breeder)
    Breeder.objects.bulk_update(changed, ["tier", "assigned_csm", "updated_at"])
    return len(changed)


def refresh_journey(workspace: Workspace, now: datetime) -> int:
    """Bring phases and milestones up to `now`, as the journey beat job does."""
    journey.ensure_default_milestones(workspace)
    journey.update_phases(workspace.pk, now)
    journey.record_achievements(workspace.pk, now=now)
    return journey.mark_missed_milestones(workspace.pk, now)


def simulate(
    workspace: Workspace,
    *,
    count: int,
    seed: int,
    start: datetime,
    seeded_at: datetime,
    after: datetime | None,
    until: datetime,
    csms: list[User],
    progress: Progress | None = None,
) -> SimulationResult:
    """Write what `count` simulated breeders did after `after` (None: ever) up to `until`.

    Must run inside the workspace's scope. `start` and `seeded_at` fix the population
    (see `build_breeder`); a later call with the same values and a later window extends
    the same story.
    """
    result = SimulationResult(breeders=count)
    timer = _Timer(result, progress)
    plans = timer.step(
        "draw the population", lambda: build_population(seed, count, start, seeded_at)
    )

    def store_calls() -> int:
        calls = [
            call
            for plan in plans
            for call in breeder_calls(plan, seed, start=start, after=after, until=until)
        ]
        # Identify calls first, so each breeder exists before its other events are read.
        calls.sort(key=lambda call: (call["type"] != "identify", call["timestamp"]))
        return sum(
            write_calls(workspace.pk, calls[index : index + CALLS_PER_BATCH])
            for index in range(0, len(calls), CALLS_PER_BATCH)
        )

    result.events_stored = timer.step("store Segment calls", store_calls)
    timer.step("process events", lambda: process_all_events(workspace.pk))
    timer.step("assign tiers and CSMs", lambda: assign_breeders(plans, csms))

    def stripe_events() -> int:
        events = [event for plan in plans for event in subscription_events(plan, seed, until)]
        if after is not None:
            events = [event for event in events if event["created"] > after.timestamp()]
        return deliver_stripe_events(workspace, events)

    result.stripe_events_stored = timer.step("deliver Stripe events", stripe_events)
    result.tickets_written = timer.step(
        "write tickets", lambda: write_tickets_until(workspace, plans, until)
    )
    result.survey_answers_stored = timer.step(
        "store survey answers", lambda: store_survey_answers(workspace, plans, seed, until)
    )
    result.milestones_missed = timer.step(
        "update phases and milestones", lambda: refresh_journey(workspace, until)
    )
    logger.info(
        "Simulated %s breeders in workspace %s up to %s: %s events, %s Stripe events, "
        "%s tickets, %s survey answers",
        count,
        workspace.pk,
        until.isoformat(),
        result.events_stored,
        result.stripe_events_stored,
        result.tickets_written,
        result.survey_answers_stored,
    )
    return result
