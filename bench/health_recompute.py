"""Benchmark the set-based health recompute against a per-breeder ORM loop.

Builds (or reuses) a workspace of N breeders with 30 days of sparse activity and a
subscription each, directly in PostgreSQL with generate_series. Then it times:

1. the set-based recompute of every breeder (`health.scoring.recompute`, writing
   scores and snapshots), three runs. Before the first, the workspace is set up as the
   daily job finds it on a new day (yesterday's snapshots, no snapshot for today, the
   scores dated yesterday), so run 1 writes every row and explains every change. Runs
   2 and 3 score the same day again and find nothing to rewrite.
2. a per-breeder loop that reads the same inputs with ORM queries per breeder and
   scores it, over a sample of breeders, extrapolated to N.

Run from the project folder (the database named by BENCH_DATABASE_URL is created
when missing and must not be the one `make run` uses):

    DEBUG=1 BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/reptidex_bench \
        .venv/bin/python -m bench.health_recompute --breeders 100000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/reptidex_bench"


def setup_django() -> None:
    os.environ.setdefault("DEBUG", "1")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reptidex.settings")
    from reptidex.devstack import ensure_database_exists

    ensure_database_exists(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_workspace(slug: str, breeders: int) -> int:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Workspace
    from accounts.scope import unscoped_across_all_workspaces

    with unscoped_across_all_workspaces():
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is not None:
            count = workspace.breeder_set.count()
            if count == breeders:
                print(f"reusing workspace {slug} with {count} breeders", flush=True)
                return workspace.pk
            workspace.delete()
        workspace = Workspace.objects.create(name=f"Bench {breeders}", slug=slug)
    today = timezone.localdate()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_breeder (workspace_id, public_id, external_id, name,
                business_name, email, time_zone, country, species, animal_count, operation,
                experience, signed_up_at, plan, tier, created_at, updated_at)
            SELECT %(ws)s, gen_random_uuid(), 'user-' || g, 'Breeder ' || g, '',
                   'b' || g || '@bench.example', '', 'DE', ARRAY['Ball python'],
                   (g %% 120), 'hobby', 'experienced',
                   now() - make_interval(days => 40 + (g %% 400)), 'keeper', '', now(), now()
            FROM generate_series(1, %(n)s) g
            """,
            {"ws": workspace.pk, "n": breeders},
        )
        # About 12 active days in 30 per breeder, one to three features a day.
        cursor.execute(
            """
            INSERT INTO lifecycle_dailyactivity (workspace_id, breeder_id, feature, day,
                event_count, first_event_at, last_event_at)
            SELECT %(ws)s, b.id, f.feature, d.day, 1 + (b.id + d.n) %% 5, d.day, d.day
            FROM accounts_breeder b
            CROSS JOIN LATERAL (
                SELECT (%(today)s::date - n) AS day, n FROM generate_series(0, 29) n
                WHERE (b.id * 7 + n * 13) %% 5 < 2) d
            CROSS JOIN LATERAL (
                SELECT unnest(ARRAY['login', 'records', 'community', 'marketplace',
                                    'pedigrees'])
                       AS feature) f
            WHERE b.workspace_id = %(ws)s
              AND (f.feature = 'login' OR (b.id + d.n + length(f.feature)) %% 4 = 0)
            """,
            {"ws": workspace.pk, "today": today},
        )
        cursor.execute(
            """
            INSERT INTO lifecycle_subscription (workspace_id, public_id, breeder_id,
                external_id, source, customer_id, status, plan, price_id, interval,
                interval_count, quantity, mrr_minor, currency, started_at,
                current_period_end, cancel_at_period_end, trial_end, canceled_at, ended_at,
                cancellation_reason, cancellation_feedback, cancellation_comment,
                created_at, updated_at)
            SELECT %(ws)s, gen_random_uuid(), b.id, 'sub_' || b.id, 'import', '',
                   CASE WHEN b.id %% 17 = 0 THEN 'past_due' ELSE 'active' END, 'keeper', '',
                   'month', 1, 1, 1900, 'usd', b.signed_up_at, now() + interval '20 days',
                   false, NULL, NULL, NULL, '', '', '', now(), now()
            FROM accounts_breeder b WHERE b.workspace_id = %(ws)s
            """,
            {"ws": workspace.pk},
        )
    print(f"built {breeders} breeders in {time.perf_counter() - started:.1f} s", flush=True)
    return workspace.pk


def start_new_day(workspace_id: int) -> None:
    """Leave the workspace as the daily job finds it on a new day (untimed).

    Yesterday's snapshots exist (written here if missing), today's do not, and the
    current scores are yesterday's. So the first timed run writes every snapshot and
    score and explains each change against yesterday, and later runs repeat the day.
    """
    from django.db import connection
    from django.utils import timezone

    from health import scoring
    from health.models import HealthSnapshot

    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    if not HealthSnapshot.objects.filter(workspace_id=workspace_id, day=yesterday).exists():
        started = time.perf_counter()
        scoring.recompute(workspace_id, yesterday)
        print(f"wrote yesterday's snapshots in {time.perf_counter() - started:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM health_healthsnapshot WHERE workspace_id = %s AND day = %s",
            [workspace_id, today],
        )
        cursor.execute(
            "UPDATE health_healthscore SET as_of = %s WHERE workspace_id = %s",
            [yesterday, workspace_id],
        )
        cursor.execute("VACUUM ANALYZE health_healthsnapshot")
        cursor.execute("VACUUM ANALYZE health_healthscore")


def orm_loop(workspace_id: int, sample: int) -> float:
    """Score `sample` breeders one at a time with ORM queries; return seconds taken."""
    from django.db.models import Count, Max, Q, Sum
    from django.utils import timezone

    from accounts.models import Breeder
    from health.measures import MEASURES_BY_KEY, interpolate
    from health.models import HealthScore
    from health.scoring import active_model
    from lifecycle.models import DailyActivity, Subscription, SurveyAnswer, Ticket

    model, measures = active_model(workspace_id)
    today = timezone.localdate()
    breeders = list(Breeder.objects.filter(workspace_id=workspace_id).order_by("pk")[:sample])
    started = time.perf_counter()
    for breeder in breeders:
        rows = DailyActivity.objects.filter(breeder=breeder, day__lte=today)
        window = rows.filter(day__gt=today - timedelta(days=30))
        raw = {
            "login_frequency": window.filter(feature="login").values("day").distinct().count(),
            "feature_adoption": window.exclude(feature="login")
            .values("feature")
            .distinct()
            .count(),
            "community_engagement": window.filter(feature="community").aggregate(
                total=Sum("event_count")
            )["total"]
            or 0,
            "marketplace_activity": window.filter(feature="marketplace").aggregate(
                total=Sum("event_count")
            )["total"]
            or 0,
            "growth": window.filter(feature__in=["records", "pedigrees"]).aggregate(
                total=Sum("event_count")
            )["total"]
            or 0,
            "integration_depth": rows.filter(feature="integrations").count(),
            "advocacy": rows.filter(feature="advocacy").count(),
        }
        rows.aggregate(last=Max("day"), n=Count("pk", filter=Q(feature="login")))
        subscription = Subscription.objects.filter(breeder=breeder).order_by("-started_at").first()
        raw["subscription_status"] = 100 if subscription and subscription.status == "active" else 0
        raw["support_interactions"] = Ticket.objects.filter(breeder=breeder).count()
        SurveyAnswer.objects.filter(breeder=breeder).order_by("-answered_at").first()
        raw["data_quality"] = 0.5
        scores = [interpolate(MEASURES_BY_KEY[m.key].curve, raw.get(m.key, 0)) for m in measures]
        score = sum(scores) / len(scores)
        HealthScore.objects.update_or_create(
            breeder=breeder,
            defaults={
                "workspace_id": workspace_id,
                "model": model,
                "score": round(score, 1),
                "band": model.band_for(score),
                "coverage": 1,
                "as_of": today,
                "computed_at": timezone.now(),
            },
        )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--breeders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loop-sample", type=int, default=2_000)
    args = parser.parse_args()
    setup_django()

    from django.db import connection

    from accounts.scope import workspace_scope
    from health import scoring

    workspace_id = build_workspace(f"bench-health-{args.breeders}", args.breeders)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with workspace_scope(workspace_id):
        start_new_day(workspace_id)
        timings = []
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            results = scoring.recompute(workspace_id)
            elapsed = time.perf_counter() - started
            timings.append(elapsed)
            kind = "new day" if run == 1 else "same day again"
            print(
                f"set-based run {run} ({kind}): {len(results)} breeders in {elapsed:.2f} s",
                flush=True,
            )
        loop_seconds = orm_loop(workspace_id, args.loop_sample)
    per_breeder = loop_seconds / args.loop_sample
    loop_total = per_breeder * args.breeders
    best = min(timings)
    print(
        f"set-based: best {best:.2f} s, median {statistics.median(timings):.2f} s, "
        f"new day {timings[0]:.2f} s for {args.breeders} breeders"
    )
    print(
        f"ORM loop: {args.loop_sample} breeders in {loop_seconds:.1f} s "
        f"({per_breeder * 1000:.2f} ms each), extrapolated to {args.breeders}: "
        f"{loop_total:.0f} s"
    )
    print(
        f"speed-up: {loop_total / best:.0f}x against the best run, "
        f"{loop_total / timings[0]:.0f}x against the new day"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    sys.exit(main())
