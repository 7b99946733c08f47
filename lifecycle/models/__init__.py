from lifecycle.models.activity import DailyActivity
from lifecycle.models.events import AnonymousIdentity, BreederGroup, Event, EventType
from lifecycle.models.tracking import DEFAULT_EVENT_FEATURES, EventMapping, Feature

__all__ = [
    "DEFAULT_EVENT_FEATURES",
    "AnonymousIdentity",
    "BreederGroup",
    "DailyActivity",
    "Event",
    "EventMapping",
    "EventType",
    "Feature",
]
