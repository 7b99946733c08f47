"""Exactly-once delivery when a worker dies in the middle of a batch.

A real Celery worker runs in its own process with the production settings, against
this run's database and a real SMTP server on 127.0.0.1. The SMTP server kills the
worker with SIGKILL while it is handing over the fifteenth message; then two fresh
workers run the job again at the same time. The server must hold exactly one copy of
every message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.scope import workspace_scope
from programs.models import EmailTemplate, ScheduledSend, SendSettings, SendState
from programs.tasks import deliver_sends
from reptidex.celery import app
from tests.factories import make_breeder

pytestmark = pytest.mark.worker
ROOT = Path(__file__).resolve().parent.parent
SENDS = 40
KILL_AT = 15


def database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(queue: str, smtp_port: int, *, concurrency: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reptidex.settings",
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE": queue,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
    }
    pool = ["--pool", "solo"] if concurrency == 1 else ["--pool", "prefork", "-c", str(concurrency)]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "reptidex",
            "worker",
            "-Q",
            queue,
            *pool,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )


def queue_delivery(queue: str, workspace_id: int, copies: int = 1) -> None:
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        for _ in range(copies):
            deliver_sends.apply_async(kwargs={"workspace_id": workspace_id}, queue=queue)
    finally:
        app.conf.task_always_eager = eager


def states(workspace) -> Counter[str]:
    with workspace_scope(workspace):
        return Counter(ScheduledSend.objects.values_list("state", flat=True))


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_killed_worker_neither_loses_nor_repeats_a_message(cast, transactional_db, smtp_server):
    with workspace_scope(cast.acme):
        # A window open all day, every day, so the test does not depend on the clock.
        SendSettings.objects.filter(workspace=cast.acme).update(
            window_start_hour=0,
            window_end_hour=24,
            weekdays=[0, 1, 2, 3, 4, 5, 6],
            weekly_budget=10,
        )
        template = EmailTemplate.objects.get(key="first-success-day-0")
    due = timezone.now() - timedelta(minutes=1)
    for n in range(SENDS):
        breeder = make_breeder(cast.acme, time_zone="UTC")
        with workspace_scope(cast.acme):
            ScheduledSend.objects.create(
                workspace=cast.acme,
                key=f"crash:{n}",
                breeder=breeder,
                template=template,
                kind="email",
                category="onboarding",
                due_at=due,
                send_after=due,
            )

    queue = f"reptidex-crash-{uuid.uuid4().hex[:8]}"
    first = start_worker(queue, smtp_server.port, concurrency=1)
    killed: list[int] = []

    def kill_during_handover(count: int) -> None:
        if count == KILL_AT and not killed:
            # Recorded first: the test thread may see the worker die before this
            # thread returns from the kill.
            killed.append(count)
            os.kill(first.pid, signal.SIGKILL)

    smtp_server.recorder.on_rcpt = kill_during_handover
    try:
        queue_delivery(queue, cast.acme.pk)
        first.wait(timeout=60)
        assert killed == [KILL_AT]
        delivered = smtp_server.recorder.send_keys()
        assert len(delivered) == KILL_AT - 1
        after_crash = states(cast.acme)
        assert after_crash[SendState.SENT] == KILL_AT - 1
        assert after_crash[SendState.PENDING] == SENDS - (KILL_AT - 1)
    finally:
        stop(first)

    # The next run: two workers at once, sharing the rows through SKIP LOCKED.
    second = start_worker(queue, smtp_server.port, concurrency=2)
    try:
        queue_delivery(queue, cast.acme.pk, copies=2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and states(cast.acme)[SendState.SENT] < SENDS:
            time.sleep(0.2)
    finally:
        stop(second)
    assert states(cast.acme) == Counter({SendState.SENT: SENDS})
    keys = Counter(smtp_server.recorder.send_keys())
    assert len(keys) == SENDS
    assert set(keys.values()) == {1}
