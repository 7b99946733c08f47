"""Models of the lifecycle app, one module per sub-domain."""

from lifecycle.models.billing import (
    BillingTimelineEntry,
    Cancellation,
    StripeCustomer,
    StripeEndpoint,
    StripeEvent,
    Subscription,
)
from lifecycle.models.imports import ImportRun
from lifecycle.models.tickets import Ticket

__all__ = [
    "BillingTimelineEntry",
    "Cancellation",
    "ImportRun",
    "StripeCustomer",
    "StripeEndpoint",
    "StripeEvent",
    "Subscription",
    "Ticket",
]
