"""Turn breeder plans into Segment calls (identify and track) dated inside a time window.

Daily activity is drawn from a generator seeded with the seed, the breeder's number and
the local date, so a day gives the same events whichever run produces it. Each call
has a messageId built from the same parts, which makes a repeated window harmless:
the event API stores each messageId once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from accounts.models import Tier
from lifecycle.simulation.population import (
    ACTIVE_DAY_SHARE,
    CHAMPION,
    GHOST,
    MILESTONES,
    SLOW_STARTER,
    STEADY,
    TIER_ACTIVITY,
    TIER_EVENTS_PER_DAY,
    BreederPlan,
    plan_rng,
)

LIBRARY_CONTEXT = {"library": {"name": "reptidex-demo-simulator", "version": "1"}}

# Track events of the default tracking plan that daily activity draws from, with the
# milestone that must be reached before the breeder uses them (None: from signup on)
# and their relative weight. "Profile Completed" and "Assessment Completed" are only
# sent when the milestone is reached.
DAILY_EVENTS: list[tuple[str, str | None, float]] = [
    ("Animal Created", "account_setup", 5.0),
    ("Photo Uploaded", "account_setup", 3.0),
    ("Pedigree Created", "first_pedigree", 2.0),
    ("Genetics Calculator Used", "first_pedigree", 1.5),
    ("Forum Post Created", "community", 1.0),
    ("Forum Reply Created", "community", 2.0),
    ("Connection Made", "community", 1.0),
    ("Marketplace Browsed", "marketplace", 2.5),
    ("Listing Published", "marketplace", 1.0),
    ("Sale Completed", "marketplace", 0.5),
    ("Tutorial Viewed", None, 1.5),
    ("Guide Downloaded", None, 0.8),
    ("Webinar Attended", None, 0.2),
    ("Integration Connected", "account_setup", 0.05),
    ("Referral Sent", "account_setup", 0.15),
    ("Review Posted", "account_setup", 0.1),
]
MAX_EVENTS_PER_DAY = 12


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _local_date(plan: BreederPlan, moment: datetime) -> date:
    return moment.astimezone(plan.zone).date()


def _event_weights(plan: BreederPlan, moment: datetime) -> tuple[list[str], list[float]]:
    """Return the events the breeder uses at `moment`, with their weights."""
    names, weights = [], []
    for name, milestone, weight in DAILY_EVENTS:
        reached = plan.milestones.get(milestone) if milestone else plan.signed_up_at
        if reached is None or reached > moment:
            continue
        if name in ("Tutorial Viewed", "Guide Downloaded") and plan.tier == Tier.NEW_BREEDER:
            weight *= 3
        if name in ("Listing Published", "Sale Completed") and plan.tier in (
            Tier.PROFESSIONAL,
            Tier.ENTERPRISE,
        ):
            weight *= 2
        if name == "Integration Connected" and plan.tier not in (
            Tier.PROFESSIONAL,
            Tier.ENTERPRISE,
        ):
            continue
        if name in ("Referral Sent", "Review Posted") and plan.archetype not in (
            CHAMPION,
            STEADY,
        ):
            continue
        names.append(name)
        weights.append(weight)
    return names, weights


def active_day_share(plan: BreederPlan, day: int) -> float:
    """Return the chance that the breeder uses the product on local day `day` after signup."""
    if day == 0:
        return 1.0
    share = ACTIVE_DAY_SHARE[plan.archetype] * TIER_ACTIVITY[plan.tier]
    if plan.archetype == SLOW_STARTER:
        # Picks up over the first month, to about twice the starting rate.
        share *= 1 + min(day, 30) / 30
    if plan.fade_after_days is not None and day > plan.fade_after_days:
        if plan.archetype == GHOST:
            share = 0.03 if day < 21 else 0.0
        else:
            share *= math.exp(-(day - plan.fade_after_days) / plan.fade_days)
    return min(share, 0.95)


def _properties(plan: BreederPlan, name: str, rng: Any) -> dict[str, Any]:
    if name == "Animal Created":
        return {"species": rng.choice(plan.species)}
    if name == "Photo Uploaded":
        return {"count": rng.randint(1, 6)}
    if name == "Listing Published":
        return {"species": rng.choice(plan.species), "price_usd": rng.randint(40, 2500)}
    if name == "Sale Completed":
        return {"amount_usd": rng.randint(40, 2500)}
    return {}


def track(
    plan: BreederPlan, message_id: str, name: str, moment: datetime, properties: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": plan.external_id,
        "messageId": message_id,
        "event": name,
        "timestamp": _iso(moment),
        "properties": properties,
        "context": LIBRARY_CONTEXT,
    }


def identify(
    plan: BreederPlan, message_id: str, moment: datetime, traits: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": plan.external_id,
        "messageId": message_id,
        "timestamp": _iso(moment),
        "traits": traits,
        "context": LIBRARY_CONTEXT,
    }


def _signup_traits(plan: BreederPlan) -> dict[str, Any]:
    traits: dict[str, Any] = {
        "email": plan.email,
        "name": plan.name,
        "country": plan.country,
        "timezone": plan.time_zone,
        "plan": "free",
        "createdAt": _iso(plan.signed_up_at),
    }
    # Ghosts often leave the profile half filled, which the data-quality measure reads.
    if plan.profile_complete:
        traits.update(
            {
                "species": plan.species,
                "animal_count": plan.animal_count,
                "operation": plan.operation,
                "experience": plan.experience,
            }
        )
        if plan.business_name:
            traits["business_name"] = plan.business_name
    return traits


def _identify_calls(plan: BreederPlan, seed: int) -> Iterator[dict[str, Any]]:
    prefix = f"sim{seed}-{plan.number:04d}-identify"
    yield identify(plan, f"{prefix}-signup", plan.signed_up_at, _signup_traits(plan))
    story = plan.subscription
    if story is not None:
        yield identify(plan, f"{prefix}-plan-1", story.started_at, {"plan": story.plan})
        if story.change_at is not None:
            yield identify(plan, f"{prefix}-plan-2", story.change_at, {"plan": story.change_to})
    if plan.profile_complete and plan.archetype in (CHAMPION, STEADY):
        grown = plan.animal_count + max(1, plan.animal_count // 5)
        yield identify(
            plan,
            f"{prefix}-growth",
            plan.signed_up_at + timedelta(days=60),
            {"animal_count": grown},
        )


def _milestone_calls(plan: BreederPlan, seed: int) -> Iterator[dict[str, Any]]:
    for key, _target_day, events in MILESTONES:
        moment = plan.milestones[key]
        if moment is None:
            continue
        # The first milestone needs both of its events; the others need any one of theirs.
        names = events if key == "account_setup" else (plan.milestone_events[key],)
        for offset, name in enumerate(names):
            message_id = f"sim{seed}-{plan.number:04d}-milestone-{key}-{offset}"
            properties = {"species": plan.species[0]} if name == "Animal Created" else {}
            yield track(plan, message_id, name, moment - timedelta(minutes=offset), properties)


def _day_calls(plan: BreederPlan, seed: int, day: date) -> Iterator[dict[str, Any]]:
    signup_day = _local_date(plan, plan.signed_up_at)
    rng = plan_rng(seed, plan.number, day.isoformat())
    if rng.random() >= active_day_share(plan, (day - signup_day).days):
        return
    local_start = datetime.combine(day, time(7), tzinfo=plan.zone) + timedelta(
        hours=rng.uniform(0, 13)
    )
    moment = max(local_start, plan.signed_up_at + timedelta(minutes=1))
    prefix = f"sim{seed}-{plan.number:04d}-{day:%Y%m%d}"
    yield track(plan, f"{prefix}-00", "Logged In", moment, {})
    extra = 1 + int(rng.expovariate(1 / TIER_EVENTS_PER_DAY[plan.tier]))
    for index in range(1, min(extra, MAX_EVENTS_PER_DAY) + 1):
        moment += timedelta(minutes=rng.uniform(1, 15))
        names, weights = _event_weights(plan, moment)
        name = rng.choices(names, weights)[0]
        yield track(plan, f"{prefix}-{index:02d}", name, moment, _properties(plan, name, rng))


def breeder_calls(
    plan: BreederPlan, seed: int, *, start: datetime, after: datetime | None, until: datetime
) -> list[dict[str, Any]]:
    """Return the breeder's calls dated after `after` (if given) and up to `until`.

    Daily activity starts at `start`, the beginning of the simulated period. Breeders
    who signed up before it have only their signup and milestone calls from before.
    """

    def in_window(call: dict[str, Any]) -> bool:
        moment = datetime.fromisoformat(call["timestamp"])
        return (after is None or moment > after) and moment <= until

    calls = [call for call in _identify_calls(plan, seed) if in_window(call)]
    calls += [call for call in _milestone_calls(plan, seed) if in_window(call)]
    first_day = max(_local_date(plan, plan.signed_up_at), _local_date(plan, start))
    if after is not None:
        first_day = max(first_day, _local_date(plan, after))
    day = first_day
    last_day = _local_date(plan, until)
    while day <= last_day:
        calls += [call for call in _day_calls(plan, seed, day) if in_window(call)]
        day += timedelta(days=1)
    return calls
