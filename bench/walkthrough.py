"""Run the product on a RavenStack export, end to end, and report what it made of it.

Steps, each timed:

1. a new workspace with a write key, a Stripe signing secret and the tracking-plan
   entry that counts `Feature Used` as the records feature;
2. accounts imported as breeders with the shipped mapping (`import_csv`);
3. subscriptions replayed as signed Stripe webhooks to the workspace's endpoint;
4. feature usage replayed through `/v1/batch` with segment-analytics-python;
5. tickets and churn events imported with the shipped mappings;
6. stored events and Stripe events processed, phases and milestones brought up to the
   data's last day;
7. daily health snapshots up to the data's last day, with the alerts of its last two
   weeks (`health.history.backfill_with_alerts`);
8. the report: breeders per band, open alerts by kind, program emails due, the
   backtest.

By default the script creates the database (`--database`, on the PostgreSQL server of
DATABASE_URL or 127.0.0.1), migrates it, and starts gunicorn on a free port of
127.0.0.1 against it. At the end it stops gunicorn and keeps the database, which
`make run` can then show in the browser. The tasks the server queues go to a Celery
queue of this run that no worker reads, and the script does their work itself. With
`--server URL` it sends to a server you started on this machine instead, and works in
the database of DATABASE_URL, which must be that server's.

Run from the project root:
`.venv/bin/python -m bench.walkthrough /path/to/ravenstack --database reptidex_walkthrough`
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MAPPINGS = ROOT / "docs" / "mappings" / "ravenstack"
FILES = {
    "accounts": "ravenstack_accounts.csv",
    "subscriptions": "ravenstack_subscriptions.csv",
    "usage": "ravenstack_feature_usage.csv",
    "tickets": "ravenstack_support_tickets.csv",
    "churn": "ravenstack_churn_events.csv",
}
STARTUP_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not listen on port {port} within {STARTUP_TIMEOUT_SECONDS} s")


class Steps:
    """Prints each step as it starts and keeps its wall time for the report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"\n== {name}", flush=True)
        started = time.monotonic()
        yield
        self.seconds[name] = time.monotonic() - started
        print(f"   {self.seconds[name]:.1f} s", flush=True)


def progress_bar(total: int, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit=f" {unit}", file=sys.stderr, mininterval=1.0)


def emails_due(workspace_id: int) -> dict[str, Counter[str]]:
    """Run the programs' planning job once, as beat would, and count the email backlog."""
    from accounts.scope import workspace_scope
    from programs import enrollment, milestones
    from programs.reports import email_backlog

    with workspace_scope(workspace_id):
        enrollment.enroll_by_rules(workspace_id)
        milestones.queue_milestone_messages(workspace_id)
        enrollment.close_enrollments(workspace_id)
        return email_backlog()


def configure_environment(args: argparse.Namespace, run_id: str) -> dict[str, str]:
    """Set the variables Django and gunicorn read; return gunicorn's environment."""
    environment = dict(os.environ)
    environment.setdefault("DEBUG", "1")
    if args.server is None:
        base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/reptidex"
        environment["DATABASE_URL"] = urlsplit(base)._replace(path=f"/{args.database}").geturl()
        # The server's tasks go to a queue no worker reads; this script does their work.
        environment["CELERY_QUEUE"] = f"reptidex-walkthrough-{run_id}"
        environment["CACHE_KEY_PREFIX"] = f"reptidex-walkthrough-{run_id}"
        environment["LOG_LEVEL"] = environment.get("LOG_LEVEL", "WARNING")
    os.environ.update(environment)
    os.environ["DJANGO_SETTINGS_MODULE"] = "reptidex.settings"
    return environment


def start_gunicorn(environment: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "reptidex.wsgi:application",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=environment,
    )
    wait_for_port(port, process)
    return process, f"http://127.0.0.1:{port}"


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def delete_run_keys(environment: dict[str, str]) -> None:
    """Delete this run's cache keys and Celery queue from Redis."""
    import redis

    prefix = environment.get("CACHE_KEY_PREFIX")
    queue = environment.get("CELERY_QUEUE")
    if not prefix or not queue:
        return
    client = redis.Redis.from_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    keys += [queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    client.delete(*keys)
    client.close()


def import_file(workspace_slug: str, kind: str, mapping: str, path: Path) -> None:
    from django.core.management import call_command

    call_command(
        "import_csv",
        "--workspace",
        workspace_slug,
        "--kind",
        kind,
        "--mapping",
        str(MAPPINGS / mapping),
        str(path),
    )


def process_everything(workspace_id: int) -> tuple[int, Counter[str]]:
    """Process pending events and Stripe events (oldest first); return counts."""
    from django.db import transaction

    from accounts.scope import workspace_scope
    from lifecycle.billing_processing import process_stored_event
    from lifecycle.models.billing import StripeEvent, StripeEventStatus
    from lifecycle.simulation.feed import process_all_events

    with workspace_scope(workspace_id):
        processed = process_all_events(workspace_id)
        pending = StripeEvent.objects.filter(
            status__in=[StripeEventStatus.PENDING, StripeEventStatus.UNMATCHED]
        ).order_by("stripe_created", "pk")
        # One transaction: a commit per event would spend most of the time waiting for
        # the disk. A worker processing the same events meanwhile skips locked rows.
        with transaction.atomic():
            for stripe_id in pending.values_list("stripe_id", flat=True):
                process_stored_event(stripe_id)
        statuses = Counter(StripeEvent.objects.values_list("status", flat=True))
    return processed, statuses


def report(workspace_id: int, last_day: date, backtest: Callable[[], str]) -> None:
    from accounts.scope import workspace_scope
    from health.models import Alert, AlertState, HealthSnapshot

    with workspace_scope(workspace_id):
        bands = Counter(HealthSnapshot.objects.filter(day=last_day).values_list("band", flat=True))
        alerts = Counter(Alert.objects.filter(state=AlertState.OPEN).values_list("kind", flat=True))
    print(f"\nBreeders per band on {last_day}:")
    for band in ("green", "yellow", "red", ""):
        print(f"  {band or 'no score':<9} {bands.get(band, 0)}")
    print("Open alerts by kind:")
    for kind, count in sorted(alerts.items(), key=lambda pair: (-pair[1], pair[0])):
        print(f"  {kind:<17} {count}")
    if not alerts:
        print("  none")
    backlog = emails_due(workspace_id)
    print("Program emails pending (due now / later):")
    for program in sorted(set(backlog["due"]) | set(backlog["later"])):
        print(f"  {program:<24} {backlog['due'][program]} / {backlog['later'][program]}")
    if not backlog["due"] and not backlog["later"]:
        print("  none")
    print("\nBacktest:")
    print(backtest())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="Folder with the five RavenStack CSV files.")
    parser.add_argument(
        "--server",
        help="URL of a server on this machine to send to (default: start gunicorn here).",
    )
    parser.add_argument(
        "--database",
        default="reptidex_walkthrough",
        help="Database to create and use when no --server is given.",
    )
    parser.add_argument("--workspace", default="ravenstack", help="Slug of the new workspace.")
    parser.add_argument(
        "--backfill-step", type=int, default=1, help="Days between health snapshots."
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="Concurrent senders of Stripe webhooks."
    )
    args = parser.parse_args()

    missing = [name for name in FILES.values() if not (args.data_dir / name).is_file()]
    if missing:
        raise SystemExit(f"{args.data_dir} lacks {', '.join(missing)}; pass the export's folder.")
    run_id = uuid.uuid4().hex[:8]
    environment = configure_environment(args, run_id)

    from reptidex.devstack import ensure_database_exists

    if args.server is None:
        ensure_database_exists(environment["DATABASE_URL"])

    import django

    django.setup()
    from bench import ravenstack_replay as replay

    server_url = replay.require_local_url(args.server) if args.server else None
    steps = Steps()
    gunicorn = None
    try:
        with steps.step("migrate and start the server"):
            from django.core.management import call_command

            if args.server is None:
                call_command("migrate", verbosity=0)
                gunicorn, server_url = start_gunicorn(environment)
            print(f"   server: {server_url}")
        assert server_url is not None
        run(args, steps, server_url, replay)
    finally:
        if gunicorn is not None:
            stop_process(gunicorn)
        if args.server is None:
            delete_run_keys(environment)
    print("\nStep times:")
    for name, seconds in steps.seconds.items():
        print(f"  {seconds:7.1f} s  {name}")
    if args.server is None:
        print(
            f"\nThe database {args.database} is kept. To browse it: "
            f"DATABASE_URL={environment['DATABASE_URL']} make run (owner@{args.workspace}"
            ".example, password printed above)."
        )
    return 0


def run(args: argparse.Namespace, steps: Steps, server_url: str, replay: Any) -> None:
    from django.utils import timezone

    from accounts import services
    from accounts.models import Workspace
    from accounts.scope import workspace_scope
    from health import alerts, scoring
    from health.backtest import format_report, run_backtest
    from health.history import backfill_with_alerts
    from lifecycle import billing, journey
    from lifecycle.models import EventMapping, Feature

    data = args.data_dir
    subscription_rows = replay.read_rows(data / FILES["subscriptions"])
    usage_rows = replay.read_rows(data / FILES["usage"])
    usage_days = sorted({row["usage_date"] for row in usage_rows})
    first_day, last_day = date.fromisoformat(usage_days[0]), date.fromisoformat(usage_days[-1])
    last_moment = datetime.combine(last_day, day_time(23, 59), tzinfo=UTC)

    with steps.step("create the workspace"):
        if Workspace.objects.filter(slug=args.workspace).exists():
            raise SystemExit(
                f"The workspace {args.workspace!r} exists already; pass another --workspace "
                "or --database."
            )
        password = secrets.token_urlsafe(12)
        owner = services.ensure_user(f"owner@{args.workspace}.example", password=password)
        workspace = services.create_workspace(
            name="RavenStack", slug=args.workspace, owner=owner, time_zone="UTC"
        )
        secret = f"whsec_{secrets.token_urlsafe(24)}"
        with workspace_scope(workspace):
            _key, write_key = services.issue_write_key(workspace, name="Replay", actor=owner)
            billing.set_stripe_signing_secret(workspace, secret=secret, actor=owner)
            # RavenStack's feature names carry no meaning, so all usage counts as the
            # broadest core feature; the mapping must exist before events are processed.
            EventMapping.objects.create(
                workspace=workspace, event_name=replay.USAGE_EVENT, feature=Feature.RECORDS
            )
        print(f"   owner@{args.workspace}.example, password {password}")

    with steps.step("import accounts as breeders"):
        import_file(args.workspace, "breeders", "accounts.toml", data / FILES["accounts"])

    with steps.step("replay subscriptions as signed Stripe webhooks"):
        events = replay.subscription_events(subscription_rows)
        endpoint_url = f"{server_url}/webhooks/stripe/{workspace.public_id}"
        with progress_bar(len(events), "events") as bar:
            sent = replay.send_stripe_events(
                endpoint_url, secret, events, threads=args.threads, progress=bar.update
            )
        print(
            f"   {len(events)} events: {sent.delivered} accepted ({sent.duplicates} "
            f"duplicates), statuses {dict(sent.statuses)}, {len(sent.errors)} errors"
        )
        for error in sent.errors[:5]:
            print(f"   error: {error}")

    with steps.step("replay feature usage through /v1/batch with segment-analytics-python"):
        calls, unknown = replay.usage_calls(usage_rows, subscription_rows)
        with progress_bar(len(calls), "calls") as bar:
            usage = replay.replay_usage(server_url, write_key, calls, progress=bar.update)
        print(
            f"   {usage.sent} calls sent, {unknown} rows without a known subscription, "
            f"{len(usage.errors)} upload errors"
        )
        for error in usage.errors[:5]:
            print(f"   error: {error}")

    with steps.step("import tickets and churn events"):
        import_file(args.workspace, "tickets", "support_tickets.toml", data / FILES["tickets"])
        import_file(args.workspace, "cancellations", "churn_events.toml", data / FILES["churn"])

    with steps.step("process events, Stripe events, phases and milestones"):
        processed, statuses = process_everything(workspace.pk)
        with workspace_scope(workspace):
            journey.ensure_default_milestones(workspace)
            phases = journey.update_phases(workspace.pk, last_moment)
            journey.record_achievements(workspace.pk, now=last_moment)
            missed = journey.mark_missed_milestones(workspace.pk, last_moment)
        print(
            f"   {processed} events processed here; Stripe events by status "
            f"{dict(statuses)}; {phases} phase changes, {missed} milestones missed "
            f"as of {last_day}"
        )

    with steps.step(f"score every day from {first_day} to {last_day}"):
        days = (last_day - first_day).days // args.backfill_step + 1
        with workspace_scope(workspace), progress_bar(days, "days") as bar:
            history = backfill_with_alerts(
                workspace.pk,
                first_day,
                last_day,
                step_days=args.backfill_step,
                progress=lambda *_: bar.update(1),
            )
            # The data's last day stands for today: its scores become the current ones
            # that the portfolio and the breeder pages show.
            scoring.recompute(workspace.pk, last_day, as_current=True)
            model, _ = scoring.active_model(workspace.pk)
            signal_alerts = alerts.raise_alerts(
                workspace.pk,
                alerts.signal_candidates(workspace.pk, last_moment),
                model,
                last_moment,
            )
        print(
            f"   {history.snapshots} snapshots; {history.alerts_opened} score alerts and "
            f"{signal_alerts} signal alerts opened, as the daily jobs would have by {last_day}"
        )

    def backtest() -> str:
        backtest_started = time.monotonic()
        start = first_day + timedelta(days=90)
        end = last_day - timedelta(days=90)
        with workspace_scope(workspace):
            result = run_backtest(workspace.pk, start, end, step_days=30, horizon_days=90)
        took = time.monotonic() - backtest_started
        steps.seconds["backtest"] = took
        return (
            f"manage.py backtest --workspace {args.workspace} --start {start} --end {end} "
            f"--step-days 30\n{format_report(result)}\n({took:.1f} s)"
        )

    print(f"\n== report (as of {last_day}; run on {timezone.localdate()})")
    report(workspace.pk, last_day, backtest)


if __name__ == "__main__":
    sys.exit(main())
