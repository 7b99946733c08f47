"""Replay a RavenStack export into a running server, the way live senders would.

- Feature usage rows become `Feature Used` track calls sent with the official
  `segment-analytics-python` client to the server's `/v1/batch`.
- Subscription rows become Stripe webhook events (customer created, subscription
  created, trial ended, subscription deleted), signed with the workspace's signing
  secret and posted to its `/webhooks/stripe/<workspace public id>/` endpoint.

Only servers on the local machine are accepted (`require_local_url`). Django must be
set up before this module is imported, because the Stripe objects come from
`lifecycle.simulation.stripe`.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import segment.analytics.request
from segment.analytics import Client

from lifecycle.simulation.stripe import (
    SubscriptionState,
    customer_object,
    envelope,
    next_period_end,
    price_object,
    sign_payload,
)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
REQUEST_TIMEOUT_SECONDS = 30
# RavenStack gives no trial length; Stripe's trials are often 14 days.
TRIAL_DAYS = 14
USAGE_EVENT = "Feature Used"


class NotLocalError(ValueError):
    """A URL names a host other than this machine's loopback address."""


def require_local_url(url: str) -> str:
    """Return `url` without a trailing slash, or raise NotLocalError for a remote host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOCAL_HOSTS:
        raise NotLocalError(
            f"{url!r} is not a server on this machine; use http://127.0.0.1:<port>, "
            "a server you started yourself."
        )
    return url.rstrip("/")


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _day_start(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)


def _flag(text: str) -> bool:
    return text.strip().lower() == "true"


# Feature usage through the Segment client ------------------------------------------


@dataclass(frozen=True)
class UsageCall:
    user_id: str
    message_id: str
    timestamp: datetime
    properties: dict[str, Any]


def usage_calls(
    usage_rows: Iterable[dict[str, str]], subscription_rows: Iterable[dict[str, str]]
) -> tuple[list[UsageCall], int]:
    """Map usage rows to track calls on the account of their subscription.

    Returns the calls and the number of rows whose subscription is not in the export.
    Usage dates carry no time, so each call is dated at noon UTC of its day.
    """
    account_of = {row["subscription_id"]: row["account_id"] for row in subscription_rows}
    calls, unknown = [], 0
    for row in usage_rows:
        account_id = account_of.get(row["subscription_id"])
        if account_id is None:
            unknown += 1
            continue
        calls.append(
            UsageCall(
                user_id=account_id,
                message_id=row["usage_id"],
                timestamp=_day_start(row["usage_date"]) + timedelta(hours=12),
                properties={
                    "feature": row["feature_name"],
                    "subscription_id": row["subscription_id"],
                    "usage_count": int(row["usage_count"]),
                    "duration_seconds": int(row["usage_duration_secs"]),
                    "error_count": int(row["error_count"]),
                    "beta": _flag(row["is_beta_feature"]),
                },
            )
        )
    return calls, unknown


@dataclass
class UsageReplay:
    sent: int = 0
    errors: list[str] = field(default_factory=list)


def replay_usage(
    server_url: str,
    write_key: str,
    calls: list[UsageCall],
    *,
    batch_size: int = 250,
    progress: Callable[[int], None] | None = None,
) -> UsageReplay:
    """Send the calls with segment-analytics-python and wait until all were uploaded.

    The client queues calls and uploads them in batches from its own thread. Its queue
    is sized to take every call, because a full queue drops calls silently.
    """
    host = require_local_url(server_url)
    result = UsageReplay()
    lock = threading.Lock()

    def on_error(error: Exception, batch: list[dict[str, Any]]) -> None:
        with lock:
            result.errors.append(f"{len(batch)} calls: {error}")

    # The client sends through one module-level requests session. Closing each
    # connection after its response keeps no server thread waiting on an idle one.
    session = requests.Session()
    session.headers["Connection"] = "close"
    previous_session = segment.analytics.request._session
    segment.analytics.request._session = session
    client = Client(
        write_key=write_key,
        host=host,
        gzip=True,
        max_queue_size=len(calls) + 1,
        upload_size=batch_size,
        upload_interval=0.05,
        max_retries=3,
        on_error=on_error,
    )
    try:
        for call in calls:
            queued, _message = client.track(
                user_id=call.user_id,
                event=USAGE_EVENT,
                properties=call.properties,
                timestamp=call.timestamp,
                message_id=call.message_id,
            )
            if not queued:
                result.errors.append(f"the client did not queue {call.message_id}")
                continue
            result.sent += 1
            if progress:
                progress(1)
        client.flush()
    finally:
        client.join()
        segment.analytics.request._session = previous_session
        session.close()
    return result


# Subscriptions as signed Stripe webhooks -------------------------------------------


def _subscription_state(row: dict[str, str], customer_id: str) -> SubscriptionState:
    """Build the Stripe subscription of a RavenStack row as it was when it started."""
    started = _day_start(row["start_date"])
    interval = "year" if row["billing_frequency"] == "annual" else "month"
    seats = max(1, int(row["seats"]))
    # mrr_amount is monthly for annual plans too; Stripe's price is per seat and period.
    per_period_cents = Decimal(row["mrr_amount"]) * 100 * (12 if interval == "year" else 1)
    unit = per_period_cents / seats
    trial_end = started + timedelta(days=TRIAL_DAYS) if _flag(row["is_trial"]) else None
    return SubscriptionState(
        subscription_id=row["subscription_id"],
        customer_id=customer_id,
        user_id=row["account_id"],
        created=started,
        price=price_object(
            price_id=f"price_{row['plan_tier'].lower()}_{interval}",
            nickname=row["plan_tier"],
            product_id=f"prod_{row['plan_tier'].lower()}",
            unit_amount=int(unit.to_integral_value()),
            unit_amount_decimal=str(unit),
            interval=interval,
        ),
        quantity=seats,
        status="trialing" if trial_end else "active",
        period_start=started,
        period_end=trial_end or next_period_end(started, interval),
        trial_end=trial_end,
        cancel_at_period_end=not _flag(row["auto_renew_flag"]),
    )


def subscription_events(subscription_rows: Iterable[dict[str, str]]) -> list[dict[str, Any]]:
    """Build the Stripe events of the subscriptions, oldest first.

    Per account one `customer.created` (with the account id as
    `metadata.reptidex_user_id`, which matches the imported breeder), then per row
    `customer.subscription.created`, a `customer.subscription.updated` when a trial
    ends before the subscription does, and `customer.subscription.deleted` at the end
    date. The export has no invoices, so none are sent.
    """
    rows = sorted(subscription_rows, key=lambda row: (row["start_date"], row["subscription_id"]))
    events: list[dict[str, Any]] = []
    customers: set[str] = set()
    for row in rows:
        account_id = row["account_id"]
        customer_id = f"cus_{account_id}"
        state = _subscription_state(row, customer_id)
        if account_id not in customers:
            customers.add(account_id)
            moment = state.created - timedelta(minutes=1)
            customer = customer_object(
                customer_id, email="", name="", user_id=account_id, created=moment
            )
            events.append(
                envelope(f"evt_{account_id}_customer", "customer.created", moment, customer)
            )
        subscription_id = row["subscription_id"]
        events.append(
            envelope(
                f"evt_{subscription_id}_created",
                "customer.subscription.created",
                state.created,
                state.object(),
            )
        )
        ended = _day_start(row["end_date"]) if row["end_date"] else None
        if state.trial_end is not None and (ended is None or ended > state.trial_end):
            state.status = "active"
            state.period_start = state.trial_end
            state.period_end = next_period_end(
                state.trial_end, state.price["recurring"]["interval"]
            )
            events.append(
                envelope(
                    f"evt_{subscription_id}_trial_ended",
                    "customer.subscription.updated",
                    state.trial_end,
                    state.object(),
                    {"status": "trialing"},
                )
            )
        if ended is not None:
            state.status = "canceled"
            state.canceled_at = ended
            state.ended_at = ended
            state.cancellation_details = {
                "comment": None,
                "feedback": None,
                "reason": "cancellation_requested",
            }
            events.append(
                envelope(
                    f"evt_{subscription_id}_deleted",
                    "customer.subscription.deleted",
                    ended,
                    state.object(),
                )
            )
    events.sort(key=lambda event: event["created"])
    return events


@dataclass
class WebhookReplay:
    delivered: int = 0
    duplicates: int = 0
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)


def send_stripe_events(
    endpoint_url: str,
    secret: str,
    events: list[dict[str, Any]],
    *,
    threads: int = 4,
    progress: Callable[[int], None] | None = None,
) -> WebhookReplay:
    """POST each event, signed as Stripe signs deliveries, and count the responses.

    One thread sends a customer's events in order, and customers are spread over
    `threads` threads. Across customers the order is not kept, which Stripe does not
    guarantee either.
    """
    url = require_local_url(endpoint_url) + "/"
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        obj = event["data"]["object"]
        customer = obj["id"] if obj["object"] == "customer" else obj["customer"]
        by_customer[customer].append(event)
    queues: list[list[dict[str, Any]]] = [[] for _ in range(max(1, threads))]
    for index, customer_events in enumerate(by_customer.values()):
        queues[index % len(queues)].extend(customer_events)
    result = WebhookReplay()
    lock = threading.Lock()

    def deliver(batch: list[dict[str, Any]]) -> None:
        with requests.Session() as session:
            for event in batch:
                payload = json.dumps(event).encode()
                signature = sign_payload(payload, secret, int(time.time()))
                try:
                    response = session.post(
                        url,
                        data=payload,
                        headers={
                            "Content-Type": "application/json",
                            "Stripe-Signature": signature,
                        },
                        timeout=REQUEST_TIMEOUT_SECONDS,
                    )
                except requests.RequestException as error:
                    with lock:
                        result.errors.append(f"{event['id']}: {error}")
                    continue
                with lock:
                    result.statuses[response.status_code] += 1
                    if response.status_code == 200:
                        result.delivered += 1
                        result.duplicates += bool(response.json().get("duplicate"))
                    else:
                        result.errors.append(f"{event['id']}: {response.text[:200]}")
                if progress:
                    progress(1)

    workers = [threading.Thread(target=deliver, args=(batch,)) for batch in queues if batch]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return result
