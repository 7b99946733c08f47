"""Program email through a real SMTP server on 127.0.0.1 and a real Celery worker.

A breeder arrives through the event API and walks through First Success with the
clock moved forward. The test checks the day-0 email inside the breeder's local
window, a step skipped because its milestone was reached, a celebration, a one-click
unsubscribe and a survey recorded by POST only.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from accounts.models import Breeder, Workspace
from accounts.scope import workspace_scope
from accounts.services import issue_write_key
from health.models import Alert, AlertKind
from health.tasks import recompute_workspace
from lifecycle.models import SurveyAnswer, TimelineEntry
from programs.models import Enrollment, ScheduledSend, SendState
from programs.tasks import deliver_sends_everywhere, plan_programs_everywhere

pytestmark = pytest.mark.worker
UTC = ZoneInfo("UTC")
CHICAGO = ZoneInfo("America/Chicago")
TIMEOUT = 30
# Tuesday 13 January 2026, 10:00 in Chicago.
START = datetime(2026, 1, 13, 10, 0, tzinfo=CHICAGO)


def wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"Timed out waiting for {what}")


def send_batch(key: str, messages: list[dict[str, Any]]) -> None:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    response = Client().post(
        "/v1/batch",
        data=json.dumps({"batch": messages}),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    assert response.status_code == 200, response.content


def message(kind: str, user_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "userId": user_id, "messageId": str(uuid.uuid4()), **fields}


def run_beat(workspace: Workspace) -> None:
    """One tick of the two program jobs, through the worker, waiting for their tasks."""
    plan_programs_everywhere.delay().get(timeout=TIMEOUT)
    time.sleep(0.3)  # let the fanned-out plan tasks run
    deliver_sends_everywhere.delay().get(timeout=TIMEOUT)
    wait_for(lambda: not due_sends(workspace), "due sends to be handled")


def due_sends(workspace: Workspace) -> list[ScheduledSend]:
    from django.utils import timezone

    with workspace_scope(workspace):
        return list(
            ScheduledSend.objects.filter(state=SendState.PENDING, send_after__lte=timezone.now())
        )


def local(value: str) -> datetime:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(value).astimezone(CHICAGO)


def test_breeder_walks_through_first_success(cast, celery_worker, smtp_server):
    inbox = smtp_server.recorder
    with workspace_scope(cast.acme):
        _, key = issue_write_key(cast.acme, name="Product", actor=None)

    with time_machine.travel(START, tick=True):
        send_batch(
            key,
            [
                message(
                    "identify",
                    "u-1",
                    traits={
                        "email": "mara@example.com",
                        "name": "Mara Söderström",
                        "timezone": "America/Chicago",
                    },
                )
            ],
        )
        breeder = wait_for(
            lambda: Breeder.unscoped_objects.filter(workspace=cast.acme, external_id="u-1").first(),
            "the breeder to be created from the identify call",
        )
        run_beat(cast.acme)
        welcome = wait_for(
            lambda: [m for m in inbox.messages if "Welcome to ReptiDex" in str(m["Subject"])],
            "the day-0 email",
        )
        assert len(welcome) == 1
        sent_at = local(welcome[0]["Date"])
        assert sent_at.weekday() < 5
        assert 9 <= sent_at.hour < 17
        assert "Mara" in str(welcome[0]["Subject"])
        assert welcome[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert welcome[0].get_body(("html",)) is not None

        # The breeder sets up the account: the day-1 milestone, celebrated by email.
        send_batch(
            key,
            [
                message("track", "u-1", event="Profile Completed"),
                message("track", "u-1", event="Animal Created"),
            ],
        )
        wait_for(
            lambda: TimelineEntry.unscoped_objects.filter(
                breeder=breeder, kind="milestone_achieved"
            ).exists(),
            "the achievement",
        )
        run_beat(cast.acme)
        wait_for(
            lambda: any(str(s).startswith("Well done") for s in inbox.subjects()),
            "the celebration email",
        )

    # Day 2: its email teaches what the breeder already did, so it is skipped.
    with time_machine.travel(START + timedelta(days=2), tick=True):
        run_beat(cast.acme)
        with workspace_scope(cast.acme):
            skipped = ScheduledSend.objects.get(breeder=breeder, step__key="animal-record")
        assert skipped.state == SendState.SKIPPED
        assert not any("complete animal record" in s for s in inbox.subjects())

    # Day 5 is a Sunday: nothing goes out. Monday morning the pedigree email does.
    with time_machine.travel(START + timedelta(days=5), tick=True):
        before = len(inbox.messages)
        run_beat(cast.acme)
        assert len(inbox.messages) == before
    with time_machine.travel(START + timedelta(days=6), tick=True):
        run_beat(cast.acme)
        wait_for(
            lambda: any("pedigrees" in s for s in inbox.subjects()), "the day-5 pedigree email"
        )

        # One-click unsubscribe, as a mail provider sends it: no cookies, no CSRF token.
        found = re.search(r"<([^>]+)>", str(inbox.messages[-1]["List-Unsubscribe"]))
        assert found is not None
        header = found[1]
        response = Client(enforce_csrf_checks=True).post(
            urlsplit(header).path,
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
        with workspace_scope(cast.acme):
            left = ScheduledSend.objects.filter(
                breeder=breeder, category="onboarding", state=SendState.PENDING
            ).exclude(kind="outreach")
            assert not left.exists()

    # Day 30: no more onboarding emails, but the survey (another category) arrives.
    with time_machine.travel(START + timedelta(days=30), tick=True):
        count_before = len(inbox.messages)
        run_beat(cast.acme)
        new = inbox.messages[count_before:]
        assert [str(m["Subject"]) for m in new] == ["How was your first month, Mara?"]
        body = new[0].get_body(("plain",)).get_content()
        link_for_2 = next(
            line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("2: ")
        )
        path = urlsplit(link_for_2).path
        query = urlsplit(link_for_2).query
        scanner = Client()
        assert scanner.get(f"{path}?{query}").status_code == 200
        assert not SurveyAnswer.unscoped_objects.filter(breeder=breeder).exists()
        assert scanner.post(path, {"score": "2", "comment": "Hard to start"}).status_code == 200
        answer = SurveyAnswer.unscoped_objects.get(breeder=breeder)
        assert (answer.kind, answer.score) == ("csat", 2)

        # The detractor answer raises an alert on the next scoring run.
        recompute_workspace.delay(workspace_id=cast.acme.pk).get(timeout=TIMEOUT)
        assert Alert.unscoped_objects.filter(breeder=breeder, kind=AlertKind.DETRACTOR).exists()

    with workspace_scope(cast.acme):
        first = Enrollment.objects.get(breeder=breeder, program__key="first-success")
        entries = TimelineEntry.objects.filter(breeder=breeder, kind__in=["email", "survey"])
        titles = [e.title for e in entries]
    assert (first.state, first.exit_reason) == ("exited", "unsubscribed")
    assert sum(t.startswith("Email sent") for t in titles) == len(inbox.messages)
    assert any(t.startswith("Onboarding survey: 2 of 5") for t in titles)
    # Every message went out exactly once.
    keys = inbox.send_keys()
    assert len(keys) == len(set(keys))
