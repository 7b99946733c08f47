"""Measure event ingestion throughput on /v1/batch under gunicorn.

1. Create a throw-away database next to the configured one (DATABASE_URL, else
   PostgreSQL on 127.0.0.1) and migrate it; create a workspace and a write key.
2. Start gunicorn with 2 sync workers on a free port of 127.0.0.1, with production
   settings (DEBUG off).
3. Build the batches up front (500 unique track events each by default), then send
   them from a few keep-alive connections for a fixed time.
4. Stop gunicorn, check that the database contains exactly the events the server
   reported as accepted, print the figures, and drop the database and this run's
   Redis keys.

Run from the project root: `.venv/bin/python bench/ingest_batch.py --duration 20`.
Every request goes to 127.0.0.1 only, and the run ends by itself.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENT_NAMES = [
    "Logged In",
    "Animal Created",
    "Pedigree Created",
    "Photo Uploaded",
    "Forum Post Created",
    "Marketplace Browsed",
    "Listing Published",
    "Tutorial Viewed",
]
STARTUP_TIMEOUT_SECONDS = 30
REQUEST_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_description() -> str:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return (
        f"{os.cpu_count()} CPUs ({model}), {total_kib / 1024 / 1024:.1f} GiB memory, "
        f"Python {platform.python_version()}"
    )


def build_batches(count: int, batch_size: int, write_key: str) -> list[bytes]:
    """Build request bodies shaped like segment-analytics-python's, with unique messageIds."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    batches = []
    for _ in range(count):
        events = []
        for _ in range(batch_size):
            moment = now - timedelta(seconds=rng.randint(0, 86_400))
            events.append(
                {
                    "type": "track",
                    "event": rng.choice(EVENT_NAMES),
                    "userId": f"user-{rng.randint(1, 5000)}",
                    "messageId": str(uuid.uuid4()),
                    "timestamp": moment.isoformat(timespec="milliseconds"),
                    "properties": {"species": "Ball python", "count": rng.randint(1, 9)},
                    "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
                    "integrations": {},
                }
            )
        body = {"batch": events, "sentAt": now.isoformat(), "writeKey": write_key}
        batches.append(json.dumps(body).encode())
    return batches


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: int = 0
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def send_batches(
    port: int,
    batches: list[bytes],
    deadline: float,
    next_index: list[int],
    results: Results,
    compressed: bool,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)
    headers = {"Content-Type": "application/json"}
    if compressed:
        headers["Content-Encoding"] = "gzip"
    try:
        while time.monotonic() < deadline:
            with results.lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= len(batches):
                return
            started = time.perf_counter()
            connection.request("POST", "/v1/batch", body=batches[index], headers=headers)
            response = connection.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            with results.lock:
                results.requests += 1
                results.statuses[response.status] = results.statuses.get(response.status, 0) + 1
                results.latencies.append(elapsed)
                if response.status == 200:
                    results.accepted += json.loads(payload)["accepted"]
                else:
                    results.errors.append(payload[:200].decode(errors="replace"))
    except (OSError, http.client.HTTPException) as error:
        with results.lock:
            results.errors.append(repr(error))
    finally:
        connection.close()


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} during startup")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen on port {port} in {STARTUP_TIMEOUT_SECONDS} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending")
    parser.add_argument("--batch-size", type=int, default=500, help="events per request")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per gunicorn worker; more than 1 selects the gthread worker class",
    )
    parser.add_argument(
        "--max-events", type=int, default=800_000, help="events built up front (memory bound)"
    )
    parser.add_argument("--gzip", action="store_true", help="send gzip-compressed bodies")
    args = parser.parse_args()

    run_id = uuid.uuid4().hex[:8]
    base_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/reptidex"
    database_url = urlsplit(base_url)._replace(path=f"/reptidex_bench_{run_id}").geturl()
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    environment = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": f"bench-only-{run_id}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMAIL_HOST": "127.0.0.1",
        "DEFAULT_FROM_EMAIL": "bench@localhost",
        "CACHE_KEY_PREFIX": f"reptidex-bench-{run_id}",
        # Processing tasks queued by the run go to a queue of their own, deleted below.
        "CELERY_QUEUE": f"reptidex-bench-{run_id}",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(environment)
    os.environ["DJANGO_SETTINGS_MODULE"] = "reptidex.settings"

    from reptidex.devstack import ensure_database_exists

    ensure_database_exists(database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Workspace
    from accounts.scope import workspace_scope
    from accounts.services import issue_write_key

    gunicorn: subprocess.Popen[bytes] | None = None
    try:
        call_command("migrate", verbosity=0)
        # The rate limit is still checked on every request (one Redis INCR), but set
        # high enough that it never rejects one during the run.
        workspace = Workspace.objects.create(
            name="Bench", slug=f"bench-{run_id}", settings={"ingest_rate_limit": "1000000000/hour"}
        )
        with workspace_scope(workspace):
            _key, write_key = issue_write_key(workspace, name="bench", actor=None)

        batch_count = max(1, args.max_events // args.batch_size)
        print(f"building {batch_count} batches of {args.batch_size} events", flush=True)
        batches = build_batches(batch_count, args.batch_size, write_key)
        body_sizes = [len(body) for body in batches]
        if args.gzip:
            batches = [gzip.compress(body) for body in batches]

        port = free_port()
        gunicorn = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "reptidex.wsgi:application",
                "--workers",
                str(args.workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--threads",
                str(args.threads),
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=environment,
        )
        wait_for_port(port, gunicorn)

        # Warm-up: the first request of each worker opens its connections.
        warm_up = Results()
        send_batches(port, batches[:4], time.monotonic() + 30, [0], warm_up, args.gzip)
        if warm_up.errors:
            raise RuntimeError(f"warm-up failed: {warm_up.errors[:2]}")

        results = Results(accepted=warm_up.accepted)
        next_index = [4]
        started = time.monotonic()
        deadline = started + args.duration
        threads = [
            threading.Thread(
                target=send_batches,
                args=(port, batches, deadline, next_index, results, args.gzip),
            )
            for _ in range(args.connections)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait()

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM lifecycle_event")
        stored = cursor.fetchone()[0]
    connection.close()
    timed_events = results.accepted - warm_up.accepted
    latencies = sorted(results.latencies)

    print()
    print(f"machine:     {machine_description()}")
    print(
        f"setup:       gunicorn {args.workers} workers x {args.threads} threads, "
        f"{args.connections} client "
        f"connections, batches of {args.batch_size} events "
        f"(~{statistics.mean(body_sizes) / 1024:.0f} KiB of JSON each, "
        f"{'gzip' if args.gzip else 'uncompressed'})"
    )
    print(f"duration:    {elapsed:.1f} s, {results.requests} requests, statuses {results.statuses}")
    events_per_second = timed_events / elapsed
    requests_per_second = results.requests / elapsed
    print(f"throughput:  {events_per_second:,.0f} events/s ({requests_per_second:.1f} requests/s)")
    if latencies:
        p50 = latencies[len(latencies) // 2]
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(f"latency:     p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms per request")
    print(f"stored:      {stored} events; accepted by the server: {results.accepted}")
    if results.errors:
        print(f"errors:      {len(results.errors)}, first: {results.errors[0]}")
    if next_index[0] >= len(batches):
        print("NOTE: every prebuilt batch was sent before the time was up; raise --max-events.")

    cleanup(database_url, redis_url, environment)
    return 0 if stored == results.accepted and not results.errors else 1


def cleanup(database_url: str, redis_url: str, environment: dict[str, str]) -> None:
    import psycopg
    import redis
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{environment['CACHE_KEY_PREFIX']}:*", count=1000))
    # The queue itself and the routing entries Celery's Redis transport keeps for it.
    queue = environment["CELERY_QUEUE"]
    keys += [queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    client.delete(*keys)


if __name__ == "__main__":
    sys.exit(main())
