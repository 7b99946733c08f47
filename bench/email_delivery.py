"""Benchmark email delivery: N due sends through 2 Celery workers to a local SMTP server.

Builds a workspace of N breeders with one due email each (its send window open all
day), starts a real SMTP server on 127.0.0.1 in this process and two Celery worker
processes (solo pool, so two sends at a time), queues the delivery job and times until
every row is marked sent. Then it counts what the SMTP server received: every send
must arrive exactly once.

Run from the project folder (the database is created when missing and must not be
the one `make run` uses):

    DEBUG=1 BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/reptidex_bench_email \
        .venv/bin/python -m bench.email_delivery --sends 10000
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/reptidex_bench_email"
ROOT = Path(__file__).resolve().parent.parent
QUEUE = f"reptidex-bench-email-{uuid.uuid4().hex[:6]}"
BEAT_INTERVAL = 60.0


def setup_django() -> None:
    os.environ.setdefault("DEBUG", "1")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ["CELERY_QUEUE"] = QUEUE
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reptidex.settings")
    from reptidex.devstack import ensure_database_exists

    ensure_database_exists(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(sends: int) -> int:
    from django.db import connection

    from accounts.models import Workspace
    from accounts.scope import unscoped_across_all_workspaces, workspace_scope
    from programs.models import EmailTemplate, SendSettings

    with unscoped_across_all_workspaces():
        Workspace.objects.filter(slug="bench-email").delete()
    workspace = Workspace.objects.create(name="Bench email", slug="bench-email")
    with workspace_scope(workspace):
        SendSettings.objects.filter(workspace=workspace).update(
            window_start_hour=0, window_end_hour=24, weekdays=[0, 1, 2, 3, 4, 5, 6]
        )
        template = EmailTemplate.objects.get(key="first-success-day-0")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_breeder (workspace_id, public_id, external_id, name,
                business_name, email, time_zone, country, species, animal_count, operation,
                experience, signed_up_at, plan, tier, created_at, updated_at)
            SELECT %(ws)s, gen_random_uuid(), 'user-' || g, 'Breeder ' || g, '',
                   'b' || g || '@bench.example', 'UTC', 'DE', ARRAY['Ball python'], 3,
                   'hobby', 'new', now(), '', 'hobbyist', now(), now()
            FROM generate_series(1, %(n)s) g
            """,
            {"ws": workspace.pk, "n": sends},
        )
        cursor.execute(
            """
            INSERT INTO programs_scheduledsend (workspace_id, public_id, key, breeder_id,
                template_id, kind, category, priority, survey_kind, context, due_at,
                send_after, state, attempts, deferrals, message_id, subject, error, reason,
                created_at)
            SELECT %(ws)s, gen_random_uuid(), 'bench:' || b.id, b.id, %(tpl)s, 'email',
                   'onboarding', 50, '', '{}'::jsonb, now() - interval '1 minute',
                   now() - interval '1 minute', 'pending', 0, 0, '', '', '', '', now()
            FROM accounts_breeder b WHERE b.workspace_id = %(ws)s
            """,
            {"ws": workspace.pk, "tpl": template.pk},
        )
        # As autovacuum would after a bulk load; the claim's plan depends on it.
        cursor.execute("ANALYZE programs_scheduledsend")
        cursor.execute("ANALYZE accounts_breeder")
    print(f"built {sends} due sends in {time.perf_counter() - started:.1f} s", flush=True)
    return workspace.pk


def start_workers(count: int, smtp_port: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_port)}
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "reptidex",
                "worker",
                "-Q",
                QUEUE,
                "--pool",
                "solo",
                "-n",
                f"bench{n}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        for n in range(count)
    ]


def wait_for_workers(count: int) -> None:
    from reptidex.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if len([r for r in replies if any(name.startswith("bench") for name in r)]) >= count:
            return
    raise SystemExit("The workers did not start within 60 s.")


def sent_count(workspace_id: int) -> Counter[str]:
    from accounts.scope import workspace_scope
    from programs.models import ScheduledSend

    with workspace_scope(workspace_id):
        return Counter(ScheduledSend.objects.values_list("state", flat=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sends", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    setup_django()
    from programs.tasks import deliver_sends_everywhere
    from tests.smtp import SMTPServer

    workspace_id = build(args.sends)
    with SMTPServer(headers_only=True) as smtp:
        workers = start_workers(args.workers, smtp.port)
        try:
            wait_for_workers(args.workers)
            started = time.perf_counter()
            queued = deliver_sends_everywhere.delay().get(timeout=30)
            print(f"queued {queued} delivery tasks", flush=True)
            next_tick = started + BEAT_INTERVAL
            while True:
                states = sent_count(workspace_id)
                if states["pending"] == 0:
                    break
                if time.perf_counter() >= next_tick:  # what beat would do every minute
                    deliver_sends_everywhere.delay()
                    next_tick += BEAT_INTERVAL
                if time.perf_counter() - started > 600:
                    raise SystemExit(f"Not done after 600 s: {dict(states)}")
                time.sleep(0.25)
            elapsed = time.perf_counter() - started
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=30)
        keys = Counter(smtp.recorder.send_keys())
    duplicates = sum(n - 1 for n in keys.values() if n > 1)
    print(f"sends: {args.sends}, workers: {args.workers}")
    print(f"rows: {dict(states)}")
    print(f"time: {elapsed:.1f} s, {args.sends / elapsed:.0f} sends/s")
    total = sum(keys.values())
    print(f"SMTP server: {total} messages, {len(keys)} distinct, {duplicates} duplicates")
    missing = args.sends - len(keys)
    verdict = "yes" if duplicates == 0 and missing == 0 else "NO"
    print(f"exactly once: {verdict} ({missing} missing)")


if __name__ == "__main__":
    main()
