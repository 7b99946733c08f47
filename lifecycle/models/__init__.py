"""Models of the lifecycle app, one module per sub-domain."""

from lifecycle.models.activity import DailyActivity
from lifecycle.models.billing import (
    BillingTimelineEntry,
    Cancellation,
    StripeCustomer,
    StripeEndpoint,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)
from lifecycle.models.events import AnonymousIdentity, BreederGroup, Event, EventType
from lifecycle.models.imports import ImportRun
from lifecycle.models.journey import (
    DEFAULT_MILESTONES,
    RULE_OPERATORS,
    AchievementStatus,
    BreederPhase,
    LifecycleSettings,
    MilestoneAchievement,
    MilestoneDefinition,
    Phase,
    TimelineEntry,
    TimelineKind,
)
from lifecycle.models.surveys import SurveyAnswer, SurveyKind
from lifecycle.models.tasks import Task, TaskSource, TaskStatus
from lifecycle.models.tickets import Ticket
from lifecycle.models.tracking import DEFAULT_EVENT_FEATURES, EventMapping, Feature

__all__ = [
    "DEFAULT_EVENT_FEATURES",
    "DEFAULT_MILESTONES",
    "RULE_OPERATORS",
    "AchievementStatus",
    "AnonymousIdentity",
    "BillingTimelineEntry",
    "BreederGroup",
    "BreederPhase",
    "Cancellation",
    "DailyActivity",
    "Event",
    "EventMapping",
    "EventType",
    "Feature",
    "ImportRun",
    "LifecycleSettings",
    "MilestoneAchievement",
    "MilestoneDefinition",
    "Phase",
    "StripeCustomer",
    "StripeEndpoint",
    "StripeEvent",
    "Subscription",
    "SubscriptionStatus",
    "SurveyAnswer",
    "SurveyKind",
    "Task",
    "TaskSource",
    "TaskStatus",
    "Ticket",
    "TimelineEntry",
    "TimelineKind",
]
