"""The whole chain on a small scale: three breeders over three days.

Everything enters through the HTTP endpoints production uses (the event API, the
Stripe webhook and the ticket webhook). Every beat job runs through a real Celery
worker, email goes to a real SMTP server on 127.0.0.1, and the clock moves forward.
The test checks the alerts and emails that come out.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
import time_machine
from celery.worker import state as worker_state
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import Breeder
from accounts.scope import workspace_scope
from accounts.services import issue_write_key
from health.models import Alert, AlertKind, HealthScore
from lifecycle import billing
from lifecycle.models import Task
from programs.models import ScheduledSend, SendState
from reptidex.celery import app
from reptidex.schedule import BEAT_SCHEDULE
from tests import stripe_payloads as sp

pytestmark = pytest.mark.worker
UTC = ZoneInfo("UTC")
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SECRET = "whsec_chain_0123456789abcdef0123"
TIMEOUT = 60
PEOPLE = {
    "u-anna": ("anna@example.com", "Anna Berg", "Europe/Berlin"),
    "u-ben": ("ben@example.com", "Ben Okafor", "UTC"),
    "u-cruz": ("cruz@example.com", "Cruz Medina", "America/Chicago"),
}


def batch(key: str, messages: list[dict[str, Any]]) -> None:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    body = json.dumps({"batch": messages})
    response = Client().post(
        "/v1/batch", data=body, content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 200, response.content


def event(kind: str, user_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "userId": user_id, "messageId": str(uuid.uuid4()), **fields}


def stripe(workspace: Any, payload: dict[str, Any]) -> None:
    response = sp.deliver(Client(), workspace, payload, SECRET)
    assert response.status_code == 200, response.content


def wait_until_idle() -> None:
    """Wait until the queue is empty and the in-thread worker runs nothing."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    quiet = 0
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        busy = broker.llen(queue) or worker_state.active_requests or worker_state.reserved_requests
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:
            return
        time.sleep(0.15)
    raise AssertionError("The worker did not become idle.")


def beat_tick() -> None:
    """Run every periodic job once, as beat would, and wait for what they fan out."""
    for entry in BEAT_SCHEDULE.values():
        # Some jobs ignore their results, so the test waits for the worker instead.
        app.send_task(entry["task"])
        wait_until_idle()


def alerts(workspace: Any) -> Counter[tuple[str, str]]:
    with workspace_scope(workspace):
        rows = Alert.objects.select_related("breeder").values_list("breeder__external_id", "kind")
        return Counter(rows)


def test_small_chain_raises_alerts_and_sends_email(cast, celery_worker, smtp_server):
    inbox = smtp_server.recorder
    billing.set_stripe_signing_secret(cast.acme, secret=SECRET, actor=cast.alice)
    with workspace_scope(cast.acme):
        _, key = issue_write_key(cast.acme, name="Product", actor=None)

    with time_machine.travel(MONDAY, tick=True):
        batch(
            key,
            [
                event("identify", uid, traits={"email": e, "name": n, "timezone": tz})
                for uid, (e, n, tz) in PEOPLE.items()
            ]
            + [
                event("track", "u-anna", event="Profile Completed"),
                event("track", "u-anna", event="Animal Created"),
            ],
        )
        wait_until_idle()  # the worker creates the breeders from the identify calls
        for uid in ("u-anna", "u-ben"):
            customer = sp.customer(sp.next_id("cus"), email=PEOPLE[uid][0], user_id=uid)
            stripe(cast.acme, sp.event("customer.created", customer))
            sub = sp.subscription(sp.next_id("sub"), customer["id"])
            stripe(cast.acme, sp.event("customer.subscription.created", sub))
            if uid == "u-ben":
                ben_customer, ben_sub = customer, sub
        ticket = {
            "external_id": "ZD-7",
            "breeder_external_id": "u-cruz",
            "subject": "Cannot add a second clutch",
            "category": "technical",
            "priority": "high",
            "status": "open",
            "opened_at": MONDAY.isoformat(),
        }
        response = Client().post(
            reverse("webhooks:tickets"),
            data=json.dumps(ticket),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert response.status_code in (200, 201), response.content
        beat_tick()

        with workspace_scope(cast.acme):
            breeders = {b.external_id: b for b in Breeder.objects.all()}
            assert set(PEOPLE) <= set(breeders)
            scored = HealthScore.objects.filter(breeder__external_id__in=PEOPLE).count()
            founder_tasks = Task.objects.filter(source="program", assignee=cast.alice).count()
        assert scored == 3
        assert founder_tasks == 3
        received = Counter(m["To"].addresses[0].addr_spec for m in inbox.messages)
        # Anna (11:00 in Berlin) and Ben (10:00 UTC) get their welcome now, Anna also a
        # celebration; Cruz (04:00 in Chicago) waits for the morning.
        assert received == Counter({"anna@example.com": 2, "ben@example.com": 1}), received

        # Ben's card fails.
        failed = sp.invoice(ben_customer["id"], ben_sub["id"], paid=False, attempt_count=1)
        stripe(cast.acme, sp.event("invoice.payment_failed", failed))
        past_due = dict(ben_sub, status="past_due")
        stripe(
            cast.acme,
            sp.event(
                "customer.subscription.updated",
                past_due,
                previous_attributes={"status": "active"},
            ),
        )
        beat_tick()
        beat_tick()  # a duplicate tick changes nothing
        assert alerts(cast.acme)[("u-ben", AlertKind.PAYMENT_FAILED)] == 1

    with time_machine.travel(MONDAY + timedelta(hours=6), tick=True):  # 10:00 in Chicago
        beat_tick()
        cruz = [m for m in inbox.messages if m["To"].addresses[0].addr_spec == "cruz@example.com"]
        assert len(cruz) == 1
        local = parsedate_to_datetime(str(cruz[0]["Date"])).astimezone(ZoneInfo("America/Chicago"))
        assert 9 <= local.hour < 17

    with time_machine.travel(MONDAY + timedelta(days=2), tick=True):
        # Jobs run in schedule order, so a miss marked by the journey job is alerted
        # by the scoring job of the next tick, as it would be minutes later.
        beat_tick()
        beat_tick()
        found = alerts(cast.acme)
        assert found[("u-ben", AlertKind.MILESTONE_MISSED)] == 1
        assert found[("u-cruz", AlertKind.MILESTONE_MISSED)] == 1
        assert found[("u-anna", AlertKind.MILESTONE_MISSED)] == 0
        with workspace_scope(cast.acme):
            anna_day_2 = ScheduledSend.objects.get(
                breeder__external_id="u-anna", step__key="animal-record"
            )
            ben_day_2 = ScheduledSend.objects.get(
                breeder__external_id="u-ben", step__key="animal-record"
            )
        assert anna_day_2.state == SendState.SKIPPED
        assert ben_day_2.state == SendState.SENT

    keys = inbox.send_keys()
    assert len(keys) == len(set(keys)), "a message was delivered twice"
    subjects = Counter(str(m["Subject"]) for m in inbox.messages)
    assert subjects["What a complete animal record looks like"] == 1
