"""Benchmark the server time of the CSM portfolio page in a large workspace.

Builds (or reuses) one workspace of N breeders spread over CSMs of about 300 breeders
each, directly in PostgreSQL with generate_series. The CSM `bench-csm@bench.example`
has exactly 300 of them. Every breeder gets a health score, a lifecycle phase, a
subscription, a phase-change timeline entry and zero to two notes. One in 10 breeders
has an open alert, and one in 7 a resolved one. The bench CSM's breeders also get
daily health snapshots of the last 30 days, which the page draws as sparklines.

Then it requests the page in process with `django.test.Client`, signed in as that CSM,
with the full middleware stack and template rendering, and times each request with
`time.perf_counter`. Three variants: the default page (50 rows sorted by name), the
red band sorted by score, and page 6. Each gets 20 untimed warm-up requests first.

Run from the project folder (the database named by BENCH_DATABASE_URL is created when
missing and must not be the one `make run` uses):

    DEBUG=1 .venv/bin/python -m bench.portfolio_page --breeders 1000000 --requests 300

`--show-queries` prints the SQL of one request per variant with its time, and
`--explain` adds `EXPLAIN (ANALYZE, BUFFERS)` of each of its SELECT queries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/reptidex_bench_portfolio"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
BENCH_CSM_EMAIL = "bench-csm@bench.example"
PORTFOLIO_SIZE = 300
# Breeder g goes to CSM slot g % CSM_COUNT, and slot 0 is the bench CSM. That gives it
# exactly 300 of 1,000,000 breeders (3,333 * 300 = 999,900). With other workspace sizes
# its portfolio differs from PORTFOLIO_SIZE, and the script prints a note.
CSM_COUNT = 3_333
WARM_UP_REQUESTS = 20
VARIANTS = {
    "default (name, page 1)": "",
    "band=red&sort=score": "?band=red&sort=score",
    "page=6": "?page=6",
}


def setup_django() -> str:
    """Point Django at the bench database and this run's Redis key prefix, then migrate.

    Returns the cache key prefix, so that only this run's Redis keys are deleted.
    """
    os.environ.setdefault("DEBUG", "1")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    cache_prefix = f"bench-portfolio-{os.getpid()}"
    os.environ["CACHE_KEY_PREFIX"] = cache_prefix
    # django.test.Client sends the host name "testserver".
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reptidex.settings")
    database_name = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
    if database_name == "reptidex" or database_name.startswith("test_"):
        raise SystemExit(
            f"BENCH_DATABASE_URL names the database {database_name!r}, which the app or the "
            "tests use; name a database of its own, such as reptidex_bench_portfolio."
        )
    from reptidex.devstack import ensure_database_exists

    ensure_database_exists(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return cache_prefix


def build_workspace(slug: str, breeders: int) -> int:
    """Return the id of the bench workspace, building it in one transaction when missing.

    A workspace with this slug exists only when a whole build committed, so its size
    matches `breeders`.
    """
    from django.db import connection, transaction

    from accounts.models import Membership, User, Workspace
    from accounts.roles import Role
    from accounts.scope import unscoped_across_all_workspaces
    from health.services import ensure_active_model

    with unscoped_across_all_workspaces():
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is not None:
            count = workspace.breeder_set.count()
            if count != breeders:
                raise SystemExit(
                    f"Workspace {slug} has {count} breeders instead of {breeders}. Drop the "
                    "database named by BENCH_DATABASE_URL and run again."
                )
            print(f"reusing workspace {slug} with {count} breeders", flush=True)
            return workspace.pk

    started = time.perf_counter()
    with transaction.atomic(), unscoped_across_all_workspaces():
        workspace = Workspace.objects.create(name=f"Bench portfolio {breeders}", slug=slug)
        model_id = ensure_active_model(workspace.pk).pk
        csm, _ = User.objects.get_or_create(email=BENCH_CSM_EMAIL)
        Membership.unscoped_objects.create(workspace=workspace, user=csm, role=Role.CSM)
        params = {
            "ws": workspace.pk,
            "n": breeders,
            "csms": CSM_COUNT,
            "csm": csm.pk,
            "model": model_id,
        }
        with connection.cursor() as cursor:
            _insert_csms(cursor, params)
            _insert_breeders(cursor, params)
            _insert_breeder_rows(cursor, params)
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM (ANALYZE) accounts_user, accounts_membership, accounts_breeder, "
            "health_healthscore, lifecycle_breederphase, health_alert, "
            "lifecycle_subscription, lifecycle_timelineentry"
        )
    print(f"built {breeders} breeders in {time.perf_counter() - started:.1f} s", flush=True)
    return workspace.pk


def _insert_csms(cursor, params: dict[str, int]) -> None:
    """Insert the other CSM users (slots 1 to CSM_COUNT - 1) and their memberships."""
    cursor.execute(
        """
        INSERT INTO accounts_user (password, last_login, is_superuser, public_id, email,
            full_name, is_active, is_staff, date_joined)
        SELECT '!', NULL, false, gen_random_uuid(),
               'bench-csm-' || %(ws)s || '-' || s || '@bench.example', 'CSM ' || s,
               true, false, now()
        FROM generate_series(1, %(csms)s - 1) s
        """,
        params,
    )
    cursor.execute(
        """
        INSERT INTO accounts_membership (workspace_id, public_id, user_id, role, works_pool,
            created_at)
        SELECT %(ws)s, gen_random_uuid(), u.id, 'csm', false, now()
        FROM accounts_user u
        WHERE u.email LIKE 'bench-csm-' || %(ws)s || '-%%@bench.example'
        """,
        params,
    )


def _insert_breeders(cursor, params: dict[str, int]) -> None:
    """Insert the breeders, breeder g going to CSM slot g % CSM_COUNT."""
    cursor.execute(
        """
        WITH slots AS (
            SELECT 0 AS slot, %(csm)s::bigint AS user_id
            UNION ALL
            SELECT substring(u.email FROM '-(\\d+)@')::int, u.id
            FROM accounts_user u
            WHERE u.email LIKE 'bench-csm-' || %(ws)s || '-%%@bench.example'
        )
        INSERT INTO accounts_breeder (workspace_id, public_id, external_id, name,
            business_name, email, time_zone, country, species, animal_count, operation,
            experience, signed_up_at, plan, tier, assigned_csm_id, created_at, updated_at)
        SELECT %(ws)s, gen_random_uuid(), 'user-' || g,
               (ARRAY['Ada', 'Ben', 'Cleo', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana'])[1 + g %% 8]
                   || ' Breeder ' || g,
               '', 'b' || g || '@bench.example', '', 'DE', ARRAY['Ball python'],
               (g %% 120), 'hobby', 'experienced',
               now() - make_interval(days => 40 + (g %% 400)), 'keeper',
               (ARRAY['enterprise', 'professional', 'hobbyist', 'new_breeder'])[1 + g %% 4],
               slots.user_id, now(), now()
        FROM generate_series(1, %(n)s) g
        JOIN slots ON slots.slot = g %% %(csms)s
        """,
        params,
    )


def _insert_breeder_rows(cursor, params: dict[str, int]) -> None:
    """Insert each breeder's score, phase, subscription, alerts and timeline entries."""
    # Scores run from 40.0 to 99.9, so about a third of the breeders fall in each band
    # of the default model (green from 80, yellow from 60).
    cursor.execute(
        """
        INSERT INTO health_healthscore (workspace_id, breeder_id, model_id, score, band,
            coverage, provisional, categories, explanation, trend_7d, trend_30d, as_of,
            computed_at)
        SELECT %(ws)s, b.id, %(model)s, s.score,
               CASE WHEN s.score >= 80 THEN 'green' WHEN s.score >= 60 THEN 'yellow'
                    ELSE 'red' END,
               1, false, '{}', '[]', (b.id %% 21) - 10, (b.id %% 41) - 20,
               current_date, now()
        FROM accounts_breeder b
        CROSS JOIN LATERAL (SELECT 40 + ((b.id * 7919) %% 600) / 10.0 AS score) s
        WHERE b.workspace_id = %(ws)s
        """,
        params,
    )
    cursor.execute(
        """
        INSERT INTO lifecycle_breederphase (workspace_id, breeder_id, phase, since)
        SELECT %(ws)s, b.id,
               (ARRAY['onboarding', 'adoption', 'growth', 'advocacy'])[1 + b.id %% 4],
               now() - make_interval(days => (b.id %% 30)::int)
        FROM accounts_breeder b WHERE b.workspace_id = %(ws)s
        """,
        params,
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
               'month', 1, 1, 1900, 'usd', b.signed_up_at,
               now() + make_interval(days => 1 + (b.id %% 365)::int),
               false, NULL, NULL, NULL, '', '', '', now(), now()
        FROM accounts_breeder b WHERE b.workspace_id = %(ws)s
        """,
        params,
    )
    cursor.execute(
        """
        INSERT INTO health_alert (workspace_id, public_id, breeder_id, kind, severity, state,
            owner_id, title, detail, data, opened_at, snoozed_until, resolved_at, note,
            updated_at)
        SELECT %(ws)s, gen_random_uuid(), b.id, a.kind, a.severity, a.state,
               b.assigned_csm_id, a.title, '', '{}', now() - interval '3 days', NULL,
               CASE WHEN a.state = 'resolved' THEN now() - interval '1 day' END, '', now()
        FROM accounts_breeder b
        CROSS JOIN LATERAL (
            SELECT 'score_drop' AS kind, 'high' AS severity, 'open' AS state,
                   'Score dropped sharply' AS title
            WHERE b.id %% 10 = 0
            UNION ALL
            SELECT 'renewal_30', 'medium', 'resolved', 'Renewal in 30 days'
            WHERE b.id %% 7 = 0) a
        WHERE b.workspace_id = %(ws)s
        """,
        params,
    )
    cursor.execute(
        """
        INSERT INTO lifecycle_timelineentry (workspace_id, public_id, breeder_id, kind,
            occurred_at, title, body, actor_id, source_key, data, created_at)
        SELECT %(ws)s, gen_random_uuid(), b.id, e.kind,
               now() - make_interval(days => ((b.id * 13 + e.n * 29) %% 90)::int),
               e.title, '', e.actor_id, NULL, '{}', now()
        FROM accounts_breeder b
        CROSS JOIN LATERAL (
            SELECT 'phase_changed' AS kind, 'Entered a new phase' AS title,
                   NULL::bigint AS actor_id, 0 AS n
            UNION ALL
            SELECT 'note', 'Check-in note', b.assigned_csm_id, n
            FROM generate_series(1, (b.id %% 3)::int) n) e
        WHERE b.workspace_id = %(ws)s
        """,
        params,
    )


def ensure_sparkline_snapshots(workspace_id: int, csm_id: int) -> int:
    """Give the bench CSM's breeders daily snapshots for the sparklines; return rows added.

    Only these breeders get snapshots: the page reads them by (breeder, day) from the
    unique index, so the other breeders' rows would change little but the build time.
    Every 13th breeder-day is left out, so lines have gaps. Rerunning adds only the
    days since the last run.
    """
    from django.db import connection

    from health.charts import SPARKLINE_DAYS
    from health.services import ensure_active_model

    model_id = ensure_active_model(workspace_id).pk
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO health_healthsnapshot (workspace_id, breeder_id, day, model_id, score,
                band, coverage, measures)
            SELECT %(ws)s, b.id, d.day, %(model)s, s.score,
                   CASE WHEN s.score >= 80 THEN 'green' WHEN s.score >= 60 THEN 'yellow'
                        ELSE 'red' END,
                   1, '{}'
            FROM accounts_breeder b
            JOIN health_healthscore h ON h.breeder_id = b.id
            CROSS JOIN LATERAL (
                SELECT (current_date - n)::date AS day, n
                FROM generate_series(0, %(days)s - 1) n) d
            CROSS JOIN LATERAL (
                SELECT round(greatest(0, least(100,
                    h.score + 8 * sin((b.id %% 7 + d.n) / 4.0) - d.n / 5.0))::numeric, 1)
                    AS score) s
            WHERE b.workspace_id = %(ws)s AND b.assigned_csm_id = %(csm)s
              AND (b.id + d.n) %% 13 <> 0
            ON CONFLICT (breeder_id, day) DO NOTHING
            """,
            {"ws": workspace_id, "model": model_id, "csm": csm_id, "days": SPARKLINE_DAYS},
        )
        return cursor.rowcount


@dataclass
class VariantResult:
    name: str
    timings_ms: list[float]
    query_counts: set[int]

    def percentile(self, percent: int) -> float:
        return statistics.quantiles(self.timings_ms, n=100, method="inclusive")[percent - 1]


def time_variant(client, url: str, name: str, requests: int) -> VariantResult:
    """Request `url` WARM_UP_REQUESTS times untimed, then `requests` times timed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARM_UP_REQUESTS):
        check_response(client.get(url), url)
    timings_ms = []
    query_counts = set()
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        check_response(response, url)
        timings_ms.append(elapsed * 1000)
        query_counts.add(len(captured.captured_queries))
    return VariantResult(name, timings_ms, query_counts)


def check_response(response, url: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"GET {url} returned {response.status_code}, expected 200.")
    if b"portfolio-results" not in response.content:
        raise SystemExit(f"GET {url} returned a page without the portfolio table.")


def show_queries(client, url: str, explain: bool) -> None:
    """Print the SQL of one request with each query's time, and EXPLAIN ANALYZE if asked."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    print(f"\n=== queries of GET {url}: {len(captured.captured_queries)}")
    for number, query in enumerate(captured.captured_queries, start=1):
        print(f"\n--- query {number}, {float(query['time']) * 1000:.1f} ms\n{query['sql']}")
        if explain and query["sql"].lstrip().upper().startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                print("\n".join(row[0] for row in cursor.fetchall()))


def delete_redis_keys(redis_url: str, prefix: str) -> int:
    """Delete the cache keys written under this run's key prefix; return how many."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--breeders", type=int, default=1_000_000, help="workspace size")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per variant")
    parser.add_argument(
        "--show-queries", action="store_true", help="print each variant's SQL with times"
    )
    parser.add_argument(
        "--explain", action="store_true", help="also print EXPLAIN ANALYZE of each SELECT"
    )
    args = parser.parse_args()
    cache_prefix = setup_django()

    from django.test import Client

    from accounts.models import Breeder, User, Workspace
    from accounts.scope import workspace_scope

    slug = f"bench-portfolio-{args.breeders}"
    workspace_id = build_workspace(slug, args.breeders)
    csm = User.objects.get(email=BENCH_CSM_EMAIL)
    with workspace_scope(workspace_id):
        portfolio_size = Breeder.objects.filter(assigned_csm=csm).count()
    print(f"CSM {BENCH_CSM_EMAIL} has {portfolio_size} breeders", flush=True)
    added = ensure_sparkline_snapshots(workspace_id, csm.pk)
    print(f"added {added} health snapshots for the sparklines", flush=True)
    if portfolio_size != PORTFOLIO_SIZE:
        print(f"NOTE: the figures are for {portfolio_size} breeders, not {PORTFOLIO_SIZE}")
    path = f"/w/{Workspace.objects.get(pk=workspace_id).slug}/"

    client = Client()
    client.force_login(csm)
    try:
        results = [
            time_variant(client, path + query, name, args.requests)
            for name, query in VARIANTS.items()
        ]
        if args.show_queries or args.explain:
            for query in VARIANTS.values():
                show_queries(client, path + query, args.explain)
    finally:
        client.logout()
        deleted = delete_redis_keys(os.environ["REDIS_URL"], cache_prefix)
        print(f"deleted {deleted} Redis keys with prefix {cache_prefix}", flush=True)

    print(f"\n{args.requests} timed requests per variant, after {WARM_UP_REQUESTS} warm-up ones")
    print(f"{'variant':<24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  queries")
    for result in results:
        counts = ", ".join(str(count) for count in sorted(result.query_counts))
        print(
            f"{result.name:<24} {result.percentile(50):8.1f} {result.percentile(95):8.1f} "
            f"{max(result.timings_ms):8.1f}  {counts}"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    sys.exit(main())
