"""Handlers for each kind of CSV row: check every row, then write all rows at once.

Every handler has two steps. `validate` turns one mapped row (field → text) into a
typed record or raises FieldError. It runs for every row before anything is written, so
the import can report every bad row. `write` then upserts all records in bulk inside the
import's transaction and returns (created, updated).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Breeder, Experience, Operation, Workspace
from lifecycle.billing_signals import schedule_unmatched_retry
from lifecycle.import_mapping import PROPERTY_PREFIX, Mapping
from lifecycle.input_fields import (
    FieldError,
    parse_bool,
    parse_choice,
    parse_decimal,
    parse_email,
    parse_formatted_datetime,
    parse_int,
    parse_text,
)
from lifecycle.models.billing import (
    BillingInterval,
    BillingTimelineEntry,
    Cancellation,
    RecordSource,
    Subscription,
    SubscriptionStatus,
    TimelineKind,
)
from lifecycle.money import format_minor, to_minor
from lifecycle.stripe_objects import monthly_amount, round_minor
from lifecycle.tickets import BreederLookup, TicketValues, build_ticket_values, write_tickets

BATCH_SIZE = 1000

# Words other tools use for billing intervals, accepted besides Stripe's own.
INTERVAL_SYNONYMS = {
    "monthly": "month",
    "annual": "year",
    "annually": "year",
    "yearly": "year",
    "weekly": "week",
    "daily": "day",
}


# Writes Segment-shaped event rows for a workspace and returns how many were new.
EventWriter = Callable[[Workspace, list[dict[str, Any]]], int]


@dataclass
class ImportContext:
    workspace: Workspace
    mapping: Mapping
    time_zone: zoneinfo.ZoneInfo
    event_writer: EventWriter
    dry_run: bool = False
    breeders: BreederLookup = field(default_factory=BreederLookup)

    def time(self, field_name: str, value: Any, required: bool = False) -> datetime | None:
        return parse_formatted_datetime(
            field_name,
            value,
            formats=self.mapping.formats_for(field_name),
            time_zone=self.time_zone,
            required=required,
        )

    def required_time(self, field_name: str, value: Any) -> datetime:
        moment = self.time(field_name, value, True)
        if moment is None:  # parse_formatted_datetime raises first; this is for the type checker
            raise FieldError(field_name, "is missing; give a date or date-time.")
        return moment


class KindHandler:
    kind = ""
    # Which row wins when an id repeats in one file: the later one (an update), except
    # for events, which keep the first, as the event API's deduplication does.
    keep_first_duplicate = False

    def prepare(self, ctx: ImportContext) -> None:
        ctx.breeders.preload()

    def validate(self, fields: dict[str, str], ctx: ImportContext) -> Any:
        raise NotImplementedError

    def key(self, record: Any) -> str:
        return str(record.external_id)

    def write(self, records: list[Any], ctx: ImportContext) -> tuple[int, int]:
        raise NotImplementedError


def _money_minor(fields: dict[str, str], *, major: str, minor: str, currency: str) -> int | None:
    """Read an amount given in minor units (`minor`) or in major units (`major`)."""
    amount_minor = parse_int(minor, fields.get(minor))
    if amount_minor is not None:
        return amount_minor
    amount = parse_decimal(major, fields.get(major))
    if amount is None:
        return None
    if not currency:
        raise FieldError(
            "currency",
            f"is missing, but {major} needs it; give an ISO 4217 code such as usd, "
            "or set currency under [constants] in the mapping.",
        )
    return to_minor(amount, currency)


def _currency(fields: dict[str, str]) -> str:
    code = parse_text("currency", fields.get("currency"), max_length=3).lower()
    if code and (len(code) != 3 or not code.isalpha()):
        raise FieldError("currency", f"{code!r} is not an ISO 4217 code such as usd or eur.")
    return code


def _entry(
    ctx: ImportContext,
    *,
    source_key: str,
    breeder_id: int,
    subscription_id: int | None,
    kind: str,
    occurred_at: datetime,
    summary: str,
    amount_minor: int | None = None,
    currency: str = "",
    data: dict[str, Any] | None = None,
) -> BillingTimelineEntry:
    return BillingTimelineEntry(
        workspace=ctx.workspace,
        breeder_id=breeder_id,
        subscription_id=subscription_id,
        kind=kind,
        occurred_at=occurred_at,
        summary=summary[:300],
        amount_minor=amount_minor,
        currency=currency,
        data={"imported_from": ctx.mapping.name, **(data or {})},
        source_key=source_key,
    )


def _existing_external_ids(
    model: type[Subscription] | type[Cancellation], records: list[Any]
) -> set[str]:
    external_ids = [record.external_id for record in records]
    return set(
        model.objects.filter(external_id__in=external_ids).values_list("external_id", flat=True)
    )


def _upsert(
    model: type[Subscription] | type[Cancellation], rows: list[Any], update_fields: list[str]
) -> None:
    """Insert rows, or update those whose (workspace, external id) exists already.

    INSERT … ON CONFLICT DO UPDATE is far faster than bulk_update's CASE expressions for
    thousands of rows. An updated row keeps its public id, source and creation time.
    """
    model.objects.bulk_create(
        rows,
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["workspace", "external_id"],
        update_fields=update_fields,
    )


def _upsert_entries(entries: list[BillingTimelineEntry]) -> None:
    """Insert timeline entries, or update those an earlier import of the same rows wrote."""
    BillingTimelineEntry.objects.bulk_create(
        entries,
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["workspace", "source_key"],
        update_fields=[
            "breeder",
            "subscription",
            "kind",
            "occurred_at",
            "summary",
            "amount_minor",
            "currency",
            "data",
        ],
    )


# Breeders ------------------------------------------------------------------------


@dataclass(frozen=True)
class BreederRecord:
    external_id: str
    email: str
    values: dict[str, Any]


class BreedersHandler(KindHandler):
    """Breeders, matched by external id, else by email. An empty cell changes nothing."""

    kind = "breeders"

    def key(self, record: BreederRecord) -> str:
        return record.external_id or record.email.lower()

    def validate(self, fields: dict[str, str], ctx: ImportContext) -> BreederRecord:
        parsers: dict[str, Callable[[str, str], Any]] = {
            "external_id": lambda name, raw: parse_text(name, raw, max_length=200),
            "email": parse_email,
            "name": lambda name, raw: parse_text(name, raw, max_length=200),
            "business_name": lambda name, raw: parse_text(name, raw, max_length=200),
            "plan": lambda name, raw: parse_text(name, raw, max_length=100),
            "country": _parse_country,
            "time_zone": _parse_time_zone,
            "signed_up_at": lambda name, raw: ctx.time(name, raw),
            "species": _parse_species,
            "animal_count": lambda name, raw: parse_int(name, raw, minimum=0),
            "operation": lambda name, raw: parse_choice(name, raw, Operation.values),
            "experience": lambda name, raw: parse_choice(name, raw, Experience.values),
        }
        values: dict[str, Any] = {}
        for name, raw in fields.items():
            value = parsers[name](name, raw)
            if value not in (None, "", []):
                values[name] = value
        external_id = values.get("external_id", "")
        email = values.get("email", "")
        if not external_id and not email:
            raise FieldError("external_id", "is missing; give the breeder's user id or email.")
        if not external_id and ctx.breeders.by_email(email) is None and _email_taken(email):
            raise FieldError(
                "email", f"{email!r} belongs to several breeders; give an external_id column."
            )
        return BreederRecord(external_id=external_id, email=email, values=values)

    def write(self, records: list[BreederRecord], ctx: ImportContext) -> tuple[int, int]:
        external_ids = [record.external_id for record in records if record.external_id]
        emails = [record.email.lower() for record in records if record.email]
        by_external_id: dict[str, Breeder] = {
            found.external_id: found
            for found in Breeder.objects.filter(external_id__in=external_ids)
        }
        by_email: dict[str, Breeder | None] = {}
        for found in Breeder.objects.alias(email_lower=Lower("email")).filter(
            email_lower__in=emails
        ):
            # An email shared by several breeders identifies none of them.
            key = found.email.lower()
            by_email[key] = None if key in by_email else found

        to_create: list[Breeder] = []
        to_update: dict[int, Breeder] = {}
        changed_fields: set[str] = set()
        for record in records:
            breeder: Breeder | None = (
                by_external_id.get(record.external_id) if record.external_id else None
            )
            if breeder is None and record.email:
                candidate = by_email.get(record.email.lower())
                # A breeder found by email is taken only if it has no other external id.
                if candidate is not None and (not record.external_id or not candidate.external_id):
                    breeder = candidate
            if breeder is None:
                breeder = Breeder(workspace=ctx.workspace)
                to_create.append(breeder)
            elif breeder.pk is not None:
                to_update[breeder.pk] = breeder
            for name, value in record.values.items():
                setattr(breeder, name, value)
            changed_fields.update(record.values)
            if record.external_id:
                by_external_id[record.external_id] = breeder

        Breeder.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
        if to_update and changed_fields:
            now = timezone.now()
            for breeder in to_update.values():
                breeder.updated_at = now
            Breeder.objects.bulk_update(
                list(to_update.values()),
                fields=[*sorted(changed_fields), "updated_at"],
                batch_size=BATCH_SIZE,
            )
        # Bulk writes send no post_save signal, so Stripe events waiting for these
        # breeders are retried here, once, after the commit.
        schedule_unmatched_retry(ctx.workspace.pk)
        return len(to_create), len(to_update)


def _email_taken(email: str) -> bool:
    return (
        Breeder.objects.alias(email_lower=Lower("email")).filter(email_lower=email.lower()).exists()
    )


def _parse_country(name: str, raw: str) -> str:
    code = parse_text(name, raw, max_length=2).upper()
    if code and (len(code) != 2 or not code.isalpha()):
        raise FieldError(name, f"{raw!r} is not an ISO 3166-1 alpha-2 code such as US or DE.")
    return code


def _parse_time_zone(name: str, raw: str) -> str:
    zone = parse_text(name, raw, max_length=64)
    if zone and zone not in zoneinfo.available_timezones():
        raise FieldError(name, f"{zone!r} is not an IANA time zone such as Europe/Berlin.")
    return zone


def _parse_species(name: str, raw: str) -> list[str]:
    text = parse_text(name, raw, max_length=2000)
    return [item.strip() for item in text.replace(",", ";").split(";") if item.strip()]


# Subscriptions -------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionRecord:
    external_id: str
    breeder_id: int
    customer_id: str
    status: str
    plan: str
    mrr_minor: int
    currency: str
    interval: str
    interval_count: int
    quantity: int
    started_at: datetime
    current_period_end: datetime | None
    trial_end: datetime | None
    ended_at: datetime | None
    canceled_at: datetime | None
    cancel_at_period_end: bool
    cancellation_reason: str
    upgraded: bool
    downgraded: bool


class SubscriptionsHandler(KindHandler):
    kind = "subscriptions"

    def validate(self, fields: dict[str, str], ctx: ImportContext) -> SubscriptionRecord:
        external_id = parse_text(
            "external_id", fields.get("external_id"), required=True, max_length=255
        )
        breeder_id = ctx.breeders.find(
            external_id=parse_text("breeder_external_id", fields.get("breeder_external_id")),
            email=parse_email("breeder_email", fields.get("breeder_email")),
        )

        currency = _currency(fields)
        interval_text = parse_text("interval", fields.get("interval")).lower()
        interval = parse_choice(
            "interval",
            INTERVAL_SYNONYMS.get(interval_text, interval_text),
            BillingInterval.values,
            default=BillingInterval.MONTH,
        )
        interval_count = parse_int("interval_count", fields.get("interval_count"), minimum=1) or 1
        quantity = parse_int("quantity", fields.get("quantity"), minimum=0)
        quantity = 1 if quantity is None else quantity

        # MRR as given, else from the price per unit and interval, else zero.
        mrr_minor = _money_minor(fields, major="mrr", minor="mrr_minor", currency=currency)
        price_minor = _money_minor(fields, major="price", minor="price_minor", currency=currency)
        if mrr_minor is None and price_minor is not None:
            mrr_minor = round_minor(
                monthly_amount(
                    Decimal(price_minor),
                    quantity=quantity,
                    interval=interval,
                    interval_count=interval_count,
                )
            )

        started_at = ctx.required_time("started_at", fields.get("started_at"))
        ended_at = ctx.time("ended_at", fields.get("ended_at"))
        if ended_at is not None and ended_at < started_at:
            raise FieldError("ended_at", "is before started_at; check both dates.")

        trial = parse_bool("trial", fields.get("trial"))
        status = parse_choice("status", fields.get("status"), SubscriptionStatus.values)
        if not status:
            # No status column: a subscription that has ended is canceled, one on trial
            # is trialing, and any other is active.
            if ended_at is not None and ended_at <= timezone.now():
                status = SubscriptionStatus.CANCELED
            elif trial:
                status = SubscriptionStatus.TRIALING
            else:
                status = SubscriptionStatus.ACTIVE
        canceled_at = ctx.time("canceled_at", fields.get("canceled_at"))
        if canceled_at is None and status == SubscriptionStatus.CANCELED:
            canceled_at = ended_at
        return SubscriptionRecord(
            external_id=external_id,
            breeder_id=breeder_id,
            customer_id=parse_text("customer_id", fields.get("customer_id"), max_length=255),
            status=status,
            plan=parse_text("plan", fields.get("plan"), max_length=200),
            mrr_minor=mrr_minor or 0,
            currency=currency,
            interval=interval,
            interval_count=interval_count,
            quantity=quantity,
            started_at=started_at,
            current_period_end=ctx.time("current_period_end", fields.get("current_period_end")),
            trial_end=ctx.time("trial_end", fields.get("trial_end")),
            ended_at=ended_at,
            canceled_at=canceled_at,
            cancel_at_period_end=parse_bool(
                "cancel_at_period_end", fields.get("cancel_at_period_end")
            ),
            cancellation_reason=parse_text(
                "cancellation_reason", fields.get("cancellation_reason"), max_length=100
            ),
            upgraded=parse_bool("upgraded", fields.get("upgraded")),
            downgraded=parse_bool("downgraded", fields.get("downgraded")),
        )

    def write(self, records: list[SubscriptionRecord], ctx: ImportContext) -> tuple[int, int]:
        existing = _existing_external_ids(Subscription, records)
        now = timezone.now()
        subscriptions = [
            Subscription(
                workspace=ctx.workspace,
                external_id=record.external_id,
                source=RecordSource.IMPORT,
                breeder_id=record.breeder_id,
                updated_at=now,
                **{name: getattr(record, name) for name in SUBSCRIPTION_FIELDS},
            )
            for record in records
        ]
        _upsert(Subscription, subscriptions, [*SUBSCRIPTION_FIELDS, "breeder", "updated_at"])
        by_external_id = {subscription.external_id: subscription for subscription in subscriptions}
        _upsert_entries(
            [
                entry
                for record in records
                for entry in self._entries(record, by_external_id[record.external_id], ctx)
            ]
        )
        return len(records) - len(existing), len(existing)

    def _entries(
        self, record: SubscriptionRecord, subscription: Subscription, ctx: ImportContext
    ) -> list[BillingTimelineEntry]:
        """Return the timeline entries one imported subscription row stands for."""
        price = (
            f"{record.plan or 'a plan'} at {format_minor(record.mrr_minor, record.currency)}/month"
        )
        moments: list[tuple[str, str, datetime, str]] = [
            (
                "created",
                TimelineKind.SUBSCRIPTION_CREATED,
                record.started_at,
                f"Subscribed to {price} ({record.status})",
            ),
        ]
        if record.upgraded:
            moments.append(
                ("upgraded", TimelineKind.PLAN_UPGRADED, record.started_at, f"Upgraded to {price}")
            )
        if record.downgraded:
            moments.append(
                (
                    "downgraded",
                    TimelineKind.PLAN_DOWNGRADED,
                    record.started_at,
                    f"Downgraded to {price}",
                )
            )
        if record.ended_at is not None:
            moments.append(
                (
                    "ended",
                    TimelineKind.SUBSCRIPTION_CANCELED,
                    record.ended_at,
                    f"Subscription to {record.plan or 'a plan'} ended",
                )
            )
        return [
            _entry(
                ctx,
                source_key=f"import:subscription:{record.external_id}:{suffix}",
                breeder_id=record.breeder_id,
                subscription_id=subscription.pk,
                kind=kind,
                occurred_at=occurred_at,
                summary=summary,
                amount_minor=record.mrr_minor,
                currency=record.currency,
            )
            for suffix, kind, occurred_at, summary in moments
        ]


SUBSCRIPTION_FIELDS = [
    "customer_id",
    "status",
    "plan",
    "mrr_minor",
    "currency",
    "interval",
    "interval_count",
    "quantity",
    "started_at",
    "current_period_end",
    "trial_end",
    "ended_at",
    "canceled_at",
    "cancel_at_period_end",
    "cancellation_reason",
]


# Tickets -------------------------------------------------------------------------


class TicketsHandler(KindHandler):
    kind = "tickets"

    def key(self, record: tuple[TicketValues, int]) -> str:
        return record[0].external_id

    def validate(self, fields: dict[str, str], ctx: ImportContext) -> tuple[TicketValues, int]:
        values = build_ticket_values(fields, workspace=ctx.workspace, parse_time=ctx.time)
        breeder_id = ctx.breeders.find(
            external_id=values.breeder_external_id, email=values.breeder_email
        )
        return values, breeder_id

    def write(self, records: list[tuple[TicketValues, int]], ctx: ImportContext) -> tuple[int, int]:
        result = write_tickets(ctx.workspace, records, source=RecordSource.IMPORT)
        return result.created, result.updated


# Cancellations -------------------------------------------------------------------


@dataclass(frozen=True)
class CancellationRecord:
    external_id: str
    breeder_id: int
    subscription_external_id: str
    canceled_at: datetime
    reason: str
    feedback: str
    comment: str
    refund_minor: int | None
    currency: str
    preceded_by_upgrade: bool
    preceded_by_downgrade: bool
    is_reactivation: bool


class CancellationsHandler(KindHandler):
    kind = "cancellations"

    def prepare(self, ctx: ImportContext) -> None:
        super().prepare(ctx)
        self.subscriptions = dict(Subscription.objects.values_list("external_id", "pk"))

    def validate(self, fields: dict[str, str], ctx: ImportContext) -> CancellationRecord:
        currency = _currency(fields)
        subscription_external_id = parse_text(
            "subscription_external_id", fields.get("subscription_external_id"), max_length=255
        )
        if subscription_external_id and subscription_external_id not in self.subscriptions:
            raise FieldError(
                "subscription_external_id",
                f"no subscription has the id {subscription_external_id!r} in this workspace; "
                "import the subscriptions first or leave the column out.",
            )
        return CancellationRecord(
            external_id=parse_text(
                "external_id", fields.get("external_id"), required=True, max_length=255
            ),
            breeder_id=ctx.breeders.find(
                external_id=parse_text("breeder_external_id", fields.get("breeder_external_id")),
                email=parse_email("breeder_email", fields.get("breeder_email")),
            ),
            subscription_external_id=subscription_external_id,
            canceled_at=ctx.required_time("canceled_at", fields.get("canceled_at")),
            reason=parse_text("reason", fields.get("reason"), max_length=100),
            feedback=parse_text("feedback", fields.get("feedback"), max_length=100),
            comment=parse_text("comment", fields.get("comment"), max_length=5000),
            refund_minor=_money_minor(
                fields, major="refund", minor="refund_minor", currency=currency
            ),
            currency=currency,
            preceded_by_upgrade=parse_bool(
                "preceded_by_upgrade", fields.get("preceded_by_upgrade")
            ),
            preceded_by_downgrade=parse_bool(
                "preceded_by_downgrade", fields.get("preceded_by_downgrade")
            ),
            is_reactivation=parse_bool("is_reactivation", fields.get("is_reactivation")),
        )

    def write(self, records: list[CancellationRecord], ctx: ImportContext) -> tuple[int, int]:
        existing = _existing_external_ids(Cancellation, records)
        now = timezone.now()
        cancellations = [
            Cancellation(
                workspace=ctx.workspace,
                external_id=record.external_id,
                source=RecordSource.IMPORT,
                breeder_id=record.breeder_id,
                subscription_id=self.subscriptions.get(record.subscription_external_id),
                updated_at=now,
                **{name: getattr(record, name) for name in CANCELLATION_FIELDS},
            )
            for record in records
        ]
        _upsert(
            Cancellation,
            cancellations,
            [*CANCELLATION_FIELDS, "breeder", "subscription", "updated_at"],
        )
        _upsert_entries([self._entry(record, ctx) for record in records])
        return len(records) - len(existing), len(existing)

    def _entry(self, record: CancellationRecord, ctx: ImportContext) -> BillingTimelineEntry:
        details = [
            f"{label}: {value}"
            for label, value in (("reason", record.reason), ("feedback", record.feedback))
            if value
        ]
        if record.refund_minor:
            details.append(f"refund {format_minor(record.refund_minor, record.currency)}")
        summary = "Canceled" + (f" ({'; '.join(details)})" if details else "")
        if record.is_reactivation:
            summary += ", marked as a reactivation"
        return _entry(
            ctx,
            source_key=f"import:cancellation:{record.external_id}",
            breeder_id=record.breeder_id,
            subscription_id=self.subscriptions.get(record.subscription_external_id),
            kind=TimelineKind.SUBSCRIPTION_CANCELED,
            occurred_at=record.canceled_at,
            summary=summary,
            amount_minor=record.refund_minor,
            currency=record.currency,
            data={"is_reactivation": record.is_reactivation},
        )


CANCELLATION_FIELDS = [
    "canceled_at",
    "reason",
    "feedback",
    "comment",
    "refund_minor",
    "currency",
    "preceded_by_upgrade",
    "preceded_by_downgrade",
    "is_reactivation",
]


# Usage events --------------------------------------------------------------------


@dataclass(frozen=True)
class EventRecord:
    message_id: str
    row: dict[str, Any]

    @property
    def external_id(self) -> str:
        return self.message_id


class EventsHandler(KindHandler):
    """Usage events, shaped as Segment `track` calls for lifecycle.imports.write_events."""

    kind = "events"
    keep_first_duplicate = True

    def prepare(self, ctx: ImportContext) -> None:
        super().prepare(ctx)
        self.breeder_user_ids = dict(Breeder.objects.values_list("pk", "external_id"))
        self.subscription_breeders = dict(
            Subscription.objects.values_list("external_id", "breeder_id")
        )
        self.property_types = {
            rule.field: rule.value_type
            for rule in ctx.mapping.columns
            if rule.field.startswith(PROPERTY_PREFIX)
        }

    def validate(self, fields: dict[str, str], ctx: ImportContext) -> EventRecord:
        message_id = parse_text(
            "message_id", fields.get("message_id"), required=True, max_length=255
        )
        subscription_external_id = parse_text(
            "subscription_external_id", fields.get("subscription_external_id")
        )
        if subscription_external_id:
            breeder_id = self.subscription_breeders.get(subscription_external_id)
            if breeder_id is None:
                raise FieldError(
                    "subscription_external_id",
                    f"no subscription has the id {subscription_external_id!r} in this "
                    "workspace; import the subscriptions file first.",
                )
        else:
            breeder_id = ctx.breeders.find(
                external_id=parse_text("breeder_external_id", fields.get("breeder_external_id")),
                email=parse_email("breeder_email", fields.get("breeder_email")),
            )
        user_id = self.breeder_user_ids.get(breeder_id, "")
        if not user_id:
            raise FieldError(
                "breeder_external_id",
                "the breeder has no external id, which an event needs as its userId; "
                "import the breeder with an external_id first.",
            )
        event = parse_text("event", fields.get("event"), required=True, max_length=200)
        timestamp = ctx.required_time("timestamp", fields.get("timestamp"))
        properties = {
            name[len(PROPERTY_PREFIX) :]: _property_value(
                name, value, self.property_types.get(name, "text")
            )
            for name, value in fields.items()
            if name.startswith(PROPERTY_PREFIX)
        }
        return EventRecord(
            message_id=message_id,
            row={
                "type": "track",
                "messageId": message_id,
                "userId": user_id,
                "event": event,
                "timestamp": timestamp.isoformat(),
                "properties": properties,
                "context": {"library": {"name": "reptidex-csv-import"}},
            },
        )

    def write(self, records: list[EventRecord], ctx: ImportContext) -> tuple[int, int]:
        if ctx.dry_run:
            # A dry run never calls the event writer, so the count is of valid events,
            # some of which the event store may hold already.
            return len(records), 0
        inserted = ctx.event_writer(ctx.workspace, [record.row for record in records])
        return inserted, 0


def _property_value(name: str, raw: str, value_type: str) -> Any:
    if value_type == "integer":
        return parse_int(name, raw)
    if value_type == "number":
        number = parse_decimal(name, raw)
        return float(number) if number is not None else None
    if value_type == "boolean":
        return parse_bool(name, raw) if raw.strip() else None
    return raw


HANDLERS: dict[str, type[KindHandler]] = {
    handler.kind: handler
    for handler in (
        BreedersHandler,
        SubscriptionsHandler,
        TicketsHandler,
        CancellationsHandler,
        EventsHandler,
    )
}
