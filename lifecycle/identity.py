"""Who sent an event: breeders from identify calls, anonymous links and group calls.

Rules (docs/ingestion.md explains them for senders):

- An identify call with a userId creates the breeder whose `external_id` is that
  userId, or updates it with the call's valid traits.
- The first identify that carries both a userId and an anonymousId links that
  anonymousId to the breeder for good. Later identifies cannot move the link.
- An event with a userId belongs to that userId's breeder only. An event with only
  an anonymousId belongs to the breeder its anonymousId is linked to.
- An event whose breeder does not exist yet is kept with no breeder and attached when
  the breeder appears, at which point it is counted like any other.

Every function here runs inside the processing transaction, in the workspace's scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.models import Breeder
from lifecycle.models import AnonymousIdentity, BreederGroup, Event, EventType
from lifecycle.traits import check_group_name, clean_traits

_EVENTS = Event._meta.db_table


@dataclass(frozen=True)
class PendingEvent:
    id: int
    type: str
    user_id: str
    anonymous_id: str
    timestamp: datetime


def apply_identifies(
    workspace_id: int, identifies: list[PendingEvent], traits_by_event: dict[int, Any]
) -> None:
    """Create or update the breeders named by identify calls and link anonymousIds.

    Calls are applied in event-time order, so within one processing chunk the latest
    value of each trait wins.
    """
    ordered = sorted((event for event in identifies if event.user_id), key=_by_time)
    if not ordered:
        return
    fields_by_user: dict[str, dict[str, Any]] = {}
    first_seen: dict[str, datetime] = {}
    for event in ordered:
        traits = traits_by_event.get(event.id)
        fields, _problems = clean_traits(traits if isinstance(traits, dict) else {})
        fields_by_user.setdefault(event.user_id, {}).update(fields)
        first_seen.setdefault(event.user_id, event.timestamp)

    breeders = _ensure_breeders(workspace_id, fields_by_user, first_seen)
    _update_breeders(breeders, fields_by_user)

    links: dict[str, AnonymousIdentity] = {}
    for event in ordered:
        if event.anonymous_id and event.anonymous_id not in links:
            links[event.anonymous_id] = AnonymousIdentity(
                workspace_id=workspace_id,
                anonymous_id=event.anonymous_id,
                breeder_id=breeders[event.user_id].pk,
                user_id=event.user_id,
            )
    # The first link of an anonymousId wins: a later one conflicts and is skipped.
    AnonymousIdentity.objects.bulk_create(links.values(), ignore_conflicts=True)


def _by_time(event: PendingEvent) -> tuple[datetime, int]:
    return (event.timestamp, event.id)


def _ensure_breeders(
    workspace_id: int,
    fields_by_user: dict[str, dict[str, Any]],
    first_seen: dict[str, datetime],
) -> dict[str, Breeder]:
    user_ids = list(fields_by_user)
    breeders = {b.external_id: b for b in Breeder.objects.filter(external_id__in=user_ids)}
    missing = [user_id for user_id in user_ids if user_id not in breeders]
    if missing:
        new_breeders = []
        for user_id in missing:
            fields = dict(fields_by_user[user_id])
            # Without a createdAt trait, the first identify is the best signup time known.
            fields.setdefault("signed_up_at", first_seen[user_id])
            new_breeders.append(Breeder(workspace_id=workspace_id, external_id=user_id, **fields))
        # A breeder created meanwhile elsewhere (the admin, say) wins the conflict and
        # is updated below like any other existing breeder.
        Breeder.objects.bulk_create(new_breeders, ignore_conflicts=True)
        breeders.update((b.external_id, b) for b in Breeder.objects.filter(external_id__in=missing))
    return breeders


def _update_breeders(
    breeders: dict[str, Breeder], fields_by_user: dict[str, dict[str, Any]]
) -> None:
    changed: list[Breeder] = []
    changed_fields: set[str] = set()
    for user_id, breeder in breeders.items():
        differences = {
            field: value
            for field, value in fields_by_user[user_id].items()
            if getattr(breeder, field) != value
        }
        if differences:
            for field, value in differences.items():
                setattr(breeder, field, value)
            breeder.updated_at = timezone.now()
            changed.append(breeder)
            changed_fields.update(differences)
    if changed:
        Breeder.objects.bulk_update(changed, sorted(changed_fields | {"updated_at"}))


def find_breeders(
    user_ids: Iterable[str], anonymous_ids: Iterable[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Return breeder ids by userId and by linked anonymousId."""
    by_user = dict(
        Breeder.objects.filter(external_id__in=set(user_ids)).values_list("external_id", "pk")
    )
    by_anonymous = dict(
        AnonymousIdentity.objects.filter(anonymous_id__in=set(anonymous_ids)).values_list(
            "anonymous_id", "breeder_id"
        )
    )
    return by_user, by_anonymous


# Each statement matches the condition of a partial index on waiting events
# (event_orphan_user_idx, event_orphan_anonymous_idx), so it reads only those rows.
ATTACH_BY_USER_SQL = f"""
    UPDATE {_EVENTS} AS event SET breeder_id = breeder.id
    FROM {Breeder._meta.db_table} AS breeder
    WHERE event.workspace_id = %(workspace_id)s
        AND breeder.workspace_id = %(workspace_id)s
        AND breeder.external_id = event.user_id
        AND event.breeder_id IS NULL
        AND event.user_id <> ''
        AND event.processed_at IS NOT NULL
        AND (%(all)s OR event.user_id = ANY(%(user_ids)s::text[]))
    RETURNING event.id
"""  # noqa: S608 (only table names are formatted in; values are bound)

ATTACH_BY_ANONYMOUS_ID_SQL = f"""
    UPDATE {_EVENTS} AS event SET breeder_id = link.breeder_id
    FROM {AnonymousIdentity._meta.db_table} AS link
    WHERE event.workspace_id = %(workspace_id)s
        AND link.workspace_id = %(workspace_id)s
        AND link.anonymous_id = event.anonymous_id
        AND event.breeder_id IS NULL
        AND event.user_id = ''
        AND event.anonymous_id <> ''
        AND event.processed_at IS NOT NULL
        AND (%(all)s OR event.anonymous_id = ANY(%(anonymous_ids)s::text[]))
    RETURNING event.id
"""  # noqa: S608 (only table names are formatted in; values are bound)


def attach_waiting_events(
    workspace_id: int, user_ids: list[str] | None, anonymous_ids: list[str] | None
) -> list[int]:
    """Give processed events without a breeder the breeder they now resolve to.

    With None for both lists, every waiting event of the workspace is tried. Returns
    the ids of the events attached now, which the caller must count exactly once.
    """
    params: dict[str, Any] = {
        "workspace_id": workspace_id,
        "all": user_ids is None and anonymous_ids is None,
        "user_ids": user_ids or [],
        "anonymous_ids": anonymous_ids or [],
    }
    attached: list[int] = []
    with connection.cursor() as cursor:
        cursor.execute(ATTACH_BY_USER_SQL, params)
        attached.extend(row[0] for row in cursor.fetchall())
        cursor.execute(ATTACH_BY_ANONYMOUS_ID_SQL, params)
        attached.extend(row[0] for row in cursor.fetchall())
    return attached


def apply_groups(workspace_id: int, event_ids: list[int]) -> None:
    """Record the business of each group call among these events on its breeder.

    The group's `name` trait becomes the breeder's business_name; the latest call by
    event time wins.
    """
    if not event_ids:
        return
    calls = (
        Event.objects.filter(pk__in=event_ids, type=EventType.GROUP, breeder__isnull=False)
        .order_by("timestamp", "pk")
        .values_list("breeder_id", "group_id", "payload__traits")
    )
    groups: dict[tuple[int, str], BreederGroup] = {}
    business_names: dict[int, str] = {}
    for breeder_id, group_id, traits in calls:
        traits = traits if isinstance(traits, dict) else {}
        name = traits.get("name")
        name = name.strip() if check_group_name(name) is None and name else ""
        groups[(breeder_id, group_id)] = BreederGroup(
            workspace_id=workspace_id,
            breeder_id=breeder_id,
            group_id=group_id,
            name=name,
            traits=traits,
        )
        if name:
            business_names[breeder_id] = name
    BreederGroup.objects.bulk_create(
        groups.values(),
        update_conflicts=True,
        unique_fields=["workspace", "breeder", "group_id"],
        update_fields=["name", "traits", "updated_at"],
    )
    if business_names:
        breeders = list(Breeder.objects.filter(pk__in=business_names))
        now = timezone.now()
        for breeder in breeders:
            breeder.business_name = business_names[breeder.pk]
            breeder.updated_at = now
        Breeder.objects.bulk_update(breeders, ["business_name", "updated_at"])
