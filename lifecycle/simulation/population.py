"""Draw breeder profiles and their stories: signup, engagement, milestones, billing.

Nothing here touches the database. A `BreederPlan` contains every random choice about
one breeder, made once from `random.Random(f"{seed}:{number}")`. Later steps only read
it, so the same seed always gives the same plan.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from accounts.models import Experience, Operation, Tier

# Raise this when a change draws different stories from the same seed: a demo seeded by
# another version is then seeded again instead of being extended.
SIMULATION_VERSION = 1

FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "Dmitri",
    "Emeka",
    "Farah",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kaia",
    "Luis",
    "Mina",
    "Noah",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Søren",
    "Tomás",
    "Uma",
    "Vera",
    "Wen",
    "Yusuf",
    "Zoë",
]
LAST_NAMES = [
    "Adeyemi",
    "Becker",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hughes",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "O'Brien",
]
BUSINESS_SUFFIXES = ["Reptiles", "Exotics", "Morphs", "Herps", "Scales", "Geckos", "Pythons"]
SPECIES = [
    "Ball python",
    "Crested gecko",
    "Leopard gecko",
    "Bearded dragon",
    "Corn snake",
    "Blue-tongued skink",
    "Gargoyle gecko",
    "Boa constrictor",
    "Hognose snake",
]
COUNTRY_BY_TIME_ZONE = {
    "Europe/Berlin": "DE",
    "America/New_York": "US",
    "America/Chicago": "US",
    "America/Los_Angeles": "US",
    "Europe/London": "GB",
    "Australia/Sydney": "AU",
    "Asia/Tokyo": "JP",
    "America/Sao_Paulo": "BR",
    "Europe/Madrid": "ES",
}
TIME_ZONES = list(COUNTRY_BY_TIME_ZONE)

# The population's tier mix, in percent: mostly hobbyists and new breeders.
TIER_WEIGHTS: dict[str, int] = {
    Tier.NEW_BREEDER: 32,
    Tier.HOBBYIST: 40,
    Tier.PROFESSIONAL: 20,
    Tier.ENTERPRISE: 8,
}

# How a breeder's journey goes:
# - champion: active often from the start, reaches nearly every milestone on time;
# - steady: active a few days a week, mostly on time;
# - slow_starter: late milestones, activity that picks up after the first month;
# - drifter: starts well, then activity tapers off, which the health score catches;
# - ghost: tries the product in the first days and does not come back.
CHAMPION, STEADY, SLOW_STARTER, DRIFTER, GHOST = (
    "champion",
    "steady",
    "slow_starter",
    "drifter",
    "ghost",
)
ARCHETYPE_WEIGHTS: dict[str, dict[str, int]] = {
    Tier.ENTERPRISE: {CHAMPION: 45, STEADY: 35, SLOW_STARTER: 5, DRIFTER: 15, GHOST: 0},
    Tier.PROFESSIONAL: {CHAMPION: 30, STEADY: 35, SLOW_STARTER: 10, DRIFTER: 20, GHOST: 5},
    Tier.HOBBYIST: {CHAMPION: 20, STEADY: 35, SLOW_STARTER: 15, DRIFTER: 18, GHOST: 12},
    Tier.NEW_BREEDER: {CHAMPION: 15, STEADY: 25, SLOW_STARTER: 25, DRIFTER: 15, GHOST: 20},
}
# Share of each tier that signed up before the simulated period (long-standing customers).
ESTABLISHED_SHARE: dict[str, float] = {
    Tier.ENTERPRISE: 0.6,
    Tier.PROFESSIONAL: 0.3,
    Tier.HOBBYIST: 0.1,
    Tier.NEW_BREEDER: 0.0,
}

# Share of each tier that pays for a plan (ghosts never do).
SUBSCRIBER_SHARE: dict[str, float] = {
    Tier.ENTERPRISE: 1.0,
    Tier.PROFESSIONAL: 0.8,
    Tier.HOBBYIST: 0.35,
    Tier.NEW_BREEDER: 0.2,
}

# The default onboarding milestones: key, target day and the events that complete them.
MILESTONES: list[tuple[str, int, tuple[str, ...]]] = [
    ("account_setup", 1, ("Profile Completed", "Animal Created")),
    ("first_pedigree", 3, ("Pedigree Created",)),
    ("community", 7, ("Forum Post Created", "Forum Reply Created", "Connection Made")),
    ("marketplace", 14, ("Marketplace Browsed", "Listing Published")),
    ("assessment", 30, ("Assessment Completed",)),
]
# (on time, late, never) in percent, per archetype.
MILESTONE_ODDS = {
    CHAMPION: (92, 8, 0),
    STEADY: (70, 25, 5),
    SLOW_STARTER: (30, 50, 20),
    DRIFTER: (65, 20, 15),
    GHOST: (10, 5, 85),
}
GHOST_SETUP_ODDS = (50, 10, 40)

# Share of active days at full engagement, per archetype.
ACTIVE_DAY_SHARE = {CHAMPION: 0.65, STEADY: 0.42, SLOW_STARTER: 0.22, DRIFTER: 0.55, GHOST: 0.7}
TIER_ACTIVITY: dict[str, float] = {
    Tier.ENTERPRISE: 1.15,
    Tier.PROFESSIONAL: 1.05,
    Tier.HOBBYIST: 0.9,
    Tier.NEW_BREEDER: 0.9,
}
# Mean number of events besides the login on an active day.
TIER_EVENTS_PER_DAY: dict[str, float] = {
    Tier.ENTERPRISE: 4.0,
    Tier.PROFESSIONAL: 3.0,
    Tier.HOBBYIST: 1.6,
    Tier.NEW_BREEDER: 1.8,
}


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    # Price per billing period in US cents, by interval.
    prices: dict[str, int]


PLANS = {
    "keeper": Plan("keeper", "Keeper", {"month": 900, "year": 9000}),
    "breeder_pro": Plan("breeder_pro", "Breeder Pro", {"month": 2900, "year": 29000}),
    "enterprise": Plan("enterprise", "Enterprise", {"month": 9900, "year": 99000}),
}
# Stripe's cancellation_details.feedback values, with a comment a breeder might leave.
CANCELLATION_FEEDBACK = [
    ("too_expensive", "Money is tight after a slow breeding season."),
    ("unused", "I have not had time to keep my records up to date."),
    ("switched_service", "Moved my collection to a spreadsheet."),
    ("missing_features", "I need clutch tracking for more species."),
    ("too_complex", "Too many screens for a small collection."),
    ("other", ""),
]


@dataclass(frozen=True)
class SubscriptionStory:
    """Every dated step of one breeder's subscription, decided up front."""

    plan: str
    interval: str
    started_at: datetime
    trial_end: datetime | None
    change_at: datetime | None = None
    change_to: str = ""
    # The renewal (counted from 1) whose first payment attempt fails, if any.
    failed_renewal: int | None = None
    recovers_after_days: int | None = None
    cancel_requested_at: datetime | None = None
    feedback: str = ""
    comment: str = ""


@dataclass(frozen=True)
class TicketStory:
    number: int
    opened_at: datetime
    category: str
    subject: str
    priority: str
    first_response_minutes: int
    solved_at: datetime | None
    rating: int | None
    escalation_level: int


@dataclass(frozen=True)
class SurveyStory:
    kind: str
    score: int
    answered_at: datetime
    comment: str
    key: str


@dataclass
class BreederPlan:
    number: int
    external_id: str
    name: str
    email: str
    business_name: str
    time_zone: str
    country: str
    species: list[str]
    animal_count: int
    operation: str
    experience: str
    tier: str
    archetype: str
    signed_up_at: datetime
    # Days after signup at which activity starts to taper off (drifters), or after which
    # it stops (ghosts).
    fade_after_days: float | None
    fade_days: float
    # Each milestone's achievement time, or None when the breeder never reaches it.
    milestones: dict[str, datetime | None]
    milestone_events: dict[str, str]
    profile_complete: bool
    subscription: SubscriptionStory | None
    tickets: list[TicketStory] = field(default_factory=list)
    surveys: list[SurveyStory] = field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def weighted_choice(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def plan_rng(seed: int, number: int, *parts: object) -> random.Random:
    """Return the random generator of one breeder (and one day or topic, when given).

    String seeds are hashed with SHA-512 by `random.Random`, so they give the same
    sequence in every process, whatever PYTHONHASHSEED is.
    """
    return random.Random(":".join(str(part) for part in (seed, number, *parts)))  # noqa: S311


def _profile(rng: random.Random, tier: str) -> tuple[str, str, int, list[str]]:
    """Return operation, experience, animal count and species consistent with the tier."""
    if tier == Tier.ENTERPRISE:
        return (
            Operation.FULL_TIME,
            Experience.EXPERIENCED,
            rng.randint(100, 320),
            rng.sample(SPECIES, k=rng.randint(2, 5)),
        )
    if tier == Tier.PROFESSIONAL:
        operation = rng.choice([Operation.PART_TIME, Operation.PART_TIME, Operation.FULL_TIME])
        return operation, Experience.EXPERIENCED, rng.randint(25, 99), rng.sample(SPECIES, k=2)
    if tier == Tier.HOBBYIST:
        return Operation.HOBBY, Experience.EXPERIENCED, rng.randint(3, 24), [rng.choice(SPECIES)]
    return Operation.HOBBY, Experience.NEW, rng.randint(1, 8), [rng.choice(SPECIES)]


def _signup_time(rng: random.Random, tier: str, start: datetime, seeded_at: datetime) -> datetime:
    """Return a signup time: before the period for established breeders, else inside it.

    Inside the period, recent days get more signups, as for a growing product.
    """
    if rng.random() < ESTABLISHED_SHARE[tier]:
        return start - timedelta(days=rng.uniform(60, 700))
    span = (seeded_at - start).total_seconds() - 3600
    return start + timedelta(seconds=span * rng.random() ** (1 / 1.5))


def _milestone_times(
    rng: random.Random, archetype: str, signed_up_at: datetime
) -> dict[str, datetime | None]:
    times: dict[str, datetime | None] = {}
    previous = signed_up_at
    for key, target_day, _events in MILESTONES:
        odds = GHOST_SETUP_ODDS if archetype == GHOST and key == "account_setup" else None
        on_time, late, never = odds or MILESTONE_ODDS[archetype]
        outcome = rng.choices(["on_time", "late", "never"], [on_time, late, never])[0]
        if outcome == "never":
            times[key] = None
            continue
        # The end of local day N is at least N days after signup, so "within N days" is
        # on time. A day and a half past N is always after the end of local day N.
        days = (
            rng.uniform(0.02, target_day)
            if outcome == "on_time"
            else rng.uniform(target_day + 1.5, target_day + 21)
        )
        moment = signed_up_at + timedelta(days=days)
        if moment <= previous:
            # Milestones come in order: one drawn before the previous milestone follows
            # it a few hours to two days later.
            moment = previous + timedelta(days=rng.uniform(0.1, 2.0))
        times[key] = moment
        previous = moment
    return times


def _subscription(
    rng: random.Random,
    tier: str,
    archetype: str,
    signed_up_at: datetime,
    fade_after_days: float | None,
    seeded_at: datetime,
) -> SubscriptionStory | None:
    if archetype == GHOST or rng.random() >= SUBSCRIBER_SHARE[tier]:
        return None
    if tier == Tier.ENTERPRISE:
        plan, annual_share, delay = "enterprise", 0.5, rng.uniform(0, 10)
    elif tier == Tier.PROFESSIONAL:
        plan = "breeder_pro" if rng.random() < 0.65 else "keeper"
        annual_share, delay = 0.25, rng.uniform(0, 20)
    else:
        plan, annual_share, delay = "keeper", 0.1, rng.uniform(3, 60)
    interval = "year" if rng.random() < annual_share else "month"
    started_at = signed_up_at + timedelta(days=delay)
    trial_end = started_at + timedelta(days=14) if rng.random() < 0.5 else None

    change_at, change_to = None, ""
    if plan == "keeper" and archetype in (CHAMPION, STEADY) and rng.random() < 0.35:
        change_at, change_to = started_at + timedelta(days=rng.uniform(20, 90)), "breeder_pro"
    elif plan == "breeder_pro" and archetype == DRIFTER and rng.random() < 0.3:
        change_at, change_to = started_at + timedelta(days=rng.uniform(30, 90)), "keeper"

    # Renewals that fall due before seeding, so failures show up in the simulated period.
    renewals_before_seeding = max(1, int((seeded_at - started_at).days / 30.4))
    failed_renewal = recovers = None
    if interval == "month" and rng.random() < 0.2:
        failed_renewal = rng.randint(1, renewals_before_seeding)
        recovers = rng.randint(2, 7) if rng.random() < 0.7 else None

    # Drifters often cancel a few weeks after their activity starts to fade. A few others
    # cancel at some point anyway (a move, a pause in breeding).
    cancel_at = None
    feedback = comment = ""
    if archetype == DRIFTER and rng.random() < 0.6:
        assert fade_after_days is not None
        cancel_at = signed_up_at + timedelta(days=fade_after_days + rng.uniform(5, 25))
    elif rng.random() < 0.06:
        last = max(15.0, (seeded_at - started_at).total_seconds() / 86400 + 30)
        cancel_at = started_at + timedelta(days=rng.uniform(14, last))
    if cancel_at is not None:
        cancel_at = max(cancel_at, started_at + timedelta(days=1))
        feedback, comment = rng.choice(CANCELLATION_FEEDBACK)
    return SubscriptionStory(
        plan=plan,
        interval=interval,
        started_at=started_at,
        trial_end=trial_end,
        change_at=change_at,
        change_to=change_to,
        failed_renewal=failed_renewal,
        recovers_after_days=recovers,
        cancel_requested_at=cancel_at,
        feedback=feedback,
        comment=comment,
    )


TICKET_SUBJECTS = {
    "technical": [
        "Pedigree chart will not print",
        "Photo upload stalls at 90%",
        "Genetics calculator shows the wrong odds",
        "Cannot import my spreadsheet of animals",
    ],
    "account": [
        "How do I add a second keeper to my account?",
        "Change the email on my account",
        "Merge two accounts",
    ],
    "feature_request": [
        "Please add clutch tracking for geckos",
        "Export pedigrees as PDF",
        "Bulk edit of animal records",
    ],
    "billing": [
        "Charged twice this month",
        "Update my card",
        "Question about the annual price",
    ],
}
TICKETS_PER_90_DAYS = {CHAMPION: 0.3, STEADY: 0.5, SLOW_STARTER: 0.9, DRIFTER: 0.8, GHOST: 0.2}
RATING_WEIGHTS = {
    CHAMPION: [0, 0, 5, 35, 60],
    STEADY: [2, 5, 18, 40, 35],
    SLOW_STARTER: [8, 15, 30, 30, 17],
    DRIFTER: [20, 25, 25, 20, 10],
    GHOST: [15, 20, 30, 20, 15],
}
NPS_WEIGHTS = {
    # Scores 0 to 10.
    CHAMPION: [0, 0, 0, 0, 0, 0, 1, 3, 10, 36, 50],
    STEADY: [0, 0, 0, 1, 1, 3, 6, 20, 35, 22, 12],
    SLOW_STARTER: [1, 1, 2, 3, 5, 10, 15, 25, 20, 12, 6],
    DRIFTER: [4, 5, 8, 12, 14, 16, 15, 12, 8, 4, 2],
    GHOST: [5, 5, 10, 10, 15, 20, 15, 10, 5, 3, 2],
}
NPS_COMMENTS = {
    "promoter": ["The pedigree tools save me hours.", "Great community.", ""],
    "passive": ["Does the job.", "Would like more species in the calculator.", ""],
    "detractor": ["I barely use it any more.", "Too expensive for what I use.", ""],
}


def _tickets(
    rng: random.Random, archetype: str, tier: str, signed_up_at: datetime
) -> list[TicketStory]:
    """Draw tickets as a Poisson process over the first three years after signup."""
    per_day = TICKETS_PER_90_DAYS[archetype] * (1.5 if tier == Tier.ENTERPRISE else 1.0) / 90
    tickets: list[TicketStory] = []
    opened_at = signed_up_at
    horizon = signed_up_at + timedelta(days=3 * 365)
    while True:
        opened_at += timedelta(days=rng.expovariate(per_day))
        if opened_at > horizon:
            return tickets
        category = weighted_choice(
            rng, {"technical": 45, "account": 20, "feature_request": 20, "billing": 15}
        )
        rating = None
        if rng.random() < 0.65:
            rating = rng.choices(range(1, 6), RATING_WEIGHTS[archetype])[0]
        tickets.append(
            TicketStory(
                number=len(tickets) + 1,
                opened_at=opened_at,
                category=category,
                subject=rng.choice(TICKET_SUBJECTS[category]),
                priority=weighted_choice(rng, {"low": 20, "normal": 55, "high": 20, "urgent": 5}),
                first_response_minutes=rng.randint(10, 600),
                solved_at=opened_at + timedelta(hours=rng.uniform(2, 120)),
                rating=rating,
                escalation_level=rng.choices([0, 1, 2], [80, 15, 5])[0],
            )
        )


def _surveys(rng: random.Random, archetype: str, signed_up_at: datetime) -> list[SurveyStory]:
    """Draw the breeder's replies to the day-30 onboarding CSAT and the quarterly NPS."""
    surveys = []
    if archetype != GHOST and rng.random() < 0.6:
        csat = rng.choices(range(1, 6), RATING_WEIGHTS[archetype])[0]
        surveys.append(
            SurveyStory(
                kind="csat",
                score=csat,
                answered_at=signed_up_at + timedelta(days=30 + rng.uniform(0, 4)),
                comment="",
                key="onboarding-csat",
            )
        )
    for quarter in range(1, 9):
        if rng.random() >= 0.45:
            continue
        score = rng.choices(range(11), NPS_WEIGHTS[archetype])[0]
        if score >= 9:
            group = "promoter"
        elif score >= 7:
            group = "passive"
        else:
            group = "detractor"
        surveys.append(
            SurveyStory(
                kind="nps",
                score=score,
                answered_at=signed_up_at + timedelta(days=90 * quarter + rng.uniform(0, 6)),
                comment=rng.choice(NPS_COMMENTS[group]),
                key=f"nps-q{quarter}",
            )
        )
    return surveys


def _fade(
    rng: random.Random, archetype: str, signed_up_at: datetime, seeded_at: datetime
) -> float | None:
    """Return the day after signup when activity starts to fade, for drifters and ghosts."""
    if archetype == GHOST:
        return rng.uniform(1, 4)
    if archetype != DRIFTER:
        return None
    # Most drifters start fading within the last three months, so the demo shows breeders
    # slipping at the time of seeding as well as some who went quiet earlier.
    age_days = (seeded_at - signed_up_at).total_seconds() / 86400
    return max(7.0, age_days - rng.uniform(3, 90))


def build_breeder(seed: int, number: int, start: datetime, seeded_at: datetime) -> BreederPlan:
    """Draw one breeder's plan.

    `start` is when the simulated period begins and `seeded_at` when the demo was first
    seeded. Both stay fixed for a workspace, so later runs draw the same plans.
    """
    rng = plan_rng(seed, number)
    tier = weighted_choice(rng, TIER_WEIGHTS)
    archetype = weighted_choice(rng, ARCHETYPE_WEIGHTS[tier])
    operation, experience, animal_count, species = _profile(rng, tier)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    time_zone = rng.choice(TIME_ZONES)
    business_name = ""
    if operation != Operation.HOBBY:
        business_name = f"{last} {rng.choice(BUSINESS_SUFFIXES)}"
    signed_up_at = _signup_time(rng, tier, start, seeded_at)
    fade_after = _fade(rng, archetype, signed_up_at, seeded_at)
    milestones = _milestone_times(rng, archetype, signed_up_at)
    milestone_events = {key: rng.choice(events) for key, _day, events in MILESTONES}
    return BreederPlan(
        number=number,
        external_id=f"demo-user-{number:04d}",
        name=f"{first} {last}",
        email=f"breeder{number:04d}@demo.example",
        business_name=business_name,
        time_zone=time_zone,
        country=COUNTRY_BY_TIME_ZONE[time_zone],
        species=species,
        animal_count=animal_count,
        operation=operation,
        experience=experience,
        tier=tier,
        archetype=archetype,
        signed_up_at=signed_up_at,
        fade_after_days=fade_after,
        fade_days=rng.uniform(6, 15),
        milestones=milestones,
        milestone_events=milestone_events,
        profile_complete=archetype != GHOST or rng.random() < 0.3,
        subscription=_subscription(rng, tier, archetype, signed_up_at, fade_after, seeded_at),
        tickets=_tickets(rng, archetype, tier, signed_up_at),
        surveys=_surveys(rng, archetype, signed_up_at),
    )


def build_population(
    seed: int, count: int, start: datetime, seeded_at: datetime
) -> list[BreederPlan]:
    """Draw `count` breeders, numbered from 1 (see `build_breeder`)."""
    return [build_breeder(seed, number, start, seeded_at) for number in range(1, count + 1)]
