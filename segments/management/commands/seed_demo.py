"""Create or update the demo workspace that `make run` shows.

The command lives in the segments app, the highest app, because it uses them all: the
simulation writes lifecycle signals, the scores, alerts and follow-up tasks come from
health, and the demo CSMs get their CSM roles from segments.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import Membership, User, Workspace
from accounts.roles import Role
from accounts.scope import workspace_scope
from health.demo import create_follow_up_tasks
from health.history import backfill_with_alerts
from health.models import HealthScore, HealthSnapshot
from health.tasks import score_and_alert
from lifecycle.simulation.feed import simulate
from lifecycle.simulation.population import SIMULATION_VERSION
from reptidex.celery import app as celery_app
from segments.models import CsmProfile, CsmRole

DEMO_SLUG = "demo"
# Printed by `make run`; the demo workspace is for local use only.
DEMO_PASSWORD = "reptidex-demo-2026"  # noqa: S105
DEMO_STAFF = [
    ("owner@demo.example", "Olivia Owner", Role.OWNER),
    ("manager@demo.example", "Marcus Manager", Role.MANAGER),
    ("csm1@demo.example", "Alex Rivera", Role.CSM),
    ("csm2@demo.example", "Sam Okafor", Role.CSM),
]
# The key of the workspace setting with the simulation's parameters and progress.
SIMULATION_KEY = "demo_simulation"
DEFAULTS = {"breeders": 300, "seed": 7, "days": 120}


@contextmanager
def tasks_run_inline() -> Iterator[None]:
    """Run the Celery tasks that services queue in this process, as they are queued.

    The services queue processing tasks after each commit. Run inline, the tasks do
    their work at once instead of piling up in the broker, because `make run` starts
    the worker only after this command.
    """
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


class Command(BaseCommand):
    help = (
        "Create or update the demo workspace: its staff, and a simulated breeder "
        "population with its events, billing, tickets, surveys, score history, alerts "
        "and tasks. A later run continues the same simulation up to the present."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--breeders",
            type=int,
            help=f"Number of simulated breeders (default: as seeded before, else "
            f"{DEFAULTS['breeders']}).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            help=f"Random seed; the same seed gives the same data (default: as seeded "
            f"before, else {DEFAULTS['seed']}).",
        )
        parser.add_argument(
            "--days",
            type=int,
            help=f"Days of simulated history before the first run (default: as seeded "
            f"before, else {DEFAULTS['days']}).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo workspace and everything in it, then seed it again.",
        )

    def handle(self, *args: object, **options: Any) -> None:
        started = time.monotonic()
        workspace, csms = self._workspace_and_staff(reset=options["reset"])
        now = timezone.now()
        saved = (workspace.settings or {}).get(SIMULATION_KEY)
        params = self._parameters(options, saved)
        if saved is not None:
            start = datetime.fromisoformat(saved["start"])
            seeded_at = datetime.fromisoformat(saved["seeded_at"])
            after: datetime | None = datetime.fromisoformat(saved["simulated_through"])
        else:
            first_day = (now - timedelta(days=params["days"])).date()
            start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
            seeded_at, after = now, None

        with workspace_scope(workspace), tasks_run_inline():
            simulation = simulate(
                workspace,
                count=params["breeders"],
                seed=params["seed"],
                start=start,
                seeded_at=seeded_at,
                after=after,
                until=now,
                csms=csms,
                progress=lambda line: self.stdout.write(f"  {line}"),
            )
            today = timezone.localdate()
            # The history starts once the simulated activity fills the measures' 30-day
            # windows; before that, breeders who signed up earlier would look inactive.
            backfill_from = after.date() if after else start.date() + timedelta(days=30)
            backfill_started = time.monotonic()
            history = backfill_with_alerts(workspace.pk, backfill_from, today - timedelta(days=1))
            self.stdout.write(
                f"  score history: {history.days} days in "
                f"{time.monotonic() - backfill_started:.1f} s, {history.alerts_opened} alerts"
            )
            scored = score_and_alert(workspace.pk, None, None)
            tasks = create_follow_up_tasks(params["seed"], today)

        workspace.settings = {
            **(workspace.settings or {}),
            SIMULATION_KEY: {
                **params,
                "version": SIMULATION_VERSION,
                "start": start.isoformat(),
                "seeded_at": seeded_at.isoformat(),
                "simulated_through": now.isoformat(),
            },
        }
        workspace.save(update_fields=["settings"])

        self.stdout.write(
            f"Demo workspace ready at /w/{DEMO_SLUG}/ with {params['breeders']} breeders "
            f"in {time.monotonic() - started:.0f} s: {simulation.events_stored} events, "
            f"{simulation.stripe_events_stored} Stripe events, {simulation.tickets_written} "
            f"tickets, {simulation.survey_answers_stored} survey answers stored; "
            f"{scored['scored']} breeders scored, "
            f"{history.alerts_opened + scored['alerts_opened']} alerts and {tasks} tasks opened."
        )
        for email, _name, role in DEMO_STAFF:
            self.stdout.write(f"  {role.label:<11} {email}  password: {DEMO_PASSWORD}")

    def _parameters(self, options: dict[str, Any], saved: dict[str, Any] | None) -> dict[str, int]:
        """Return the simulation's parameters: those given, else those seeded with.

        A workspace keeps the parameters it was seeded with, because a later run only
        extends the same stories; other values need --reset.
        """
        params = {}
        for key, default in DEFAULTS.items():
            given = options[key]
            before = saved.get(key) if saved else None
            if given is not None and before is not None and given != before:
                raise CommandError(
                    f"The demo workspace was seeded with --{key} {before}, not {given}. "
                    "Leave the option out to bring the demo up to date, or add --reset to "
                    "seed it again with the new value."
                )
            if given is not None:
                params[key] = given
            elif before is not None:
                params[key] = before
            else:
                params[key] = default
            if params[key] < 1:
                raise CommandError(f"--{key} must be at least 1, not {params[key]}.")
        return params

    @transaction.atomic
    def _workspace_and_staff(self, *, reset: bool) -> tuple[Workspace, list[User]]:
        """Create or update the workspace, its staff and their roles; return it and its CSMs.

        A workspace seeded before the simulation existed, or by another version of it,
        is replaced, because its breeders and stories would not match the ones drawn now.
        """
        owner = services.ensure_user(
            DEMO_STAFF[0][0], password=DEMO_PASSWORD, full_name=DEMO_STAFF[0][1]
        )
        workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
        saved = (workspace.settings or {}).get(SIMULATION_KEY) if workspace else None
        if workspace is not None and (
            reset or saved is None or saved.get("version") != SIMULATION_VERSION
        ):
            self.stdout.write("Deleting the demo workspace to seed it again.")
            with workspace_scope(workspace):
                # Scores and snapshots protect the model version that produced them, so
                # they go first; the workspace's deletion cascades to everything else.
                HealthScore.objects.all().delete()
                HealthSnapshot.objects.all().delete()
            workspace.delete()
            workspace = None
        if workspace is None:
            workspace = services.create_workspace(
                name="ReptiDex Demo", slug=DEMO_SLUG, owner=owner, time_zone="Europe/Berlin"
            )
        workspace.sender_name = "The ReptiDex team"
        workspace.sender_email = "success@demo.example"
        workspace.save(update_fields=["sender_name", "sender_email"])

        csms = []
        with workspace_scope(workspace):
            for email, name, role in DEMO_STAFF:
                user = services.ensure_user(email, password=DEMO_PASSWORD, full_name=name)
                Membership.objects.update_or_create(
                    workspace=workspace, user=user, defaults={"role": role}
                )
                if role == Role.CSM:
                    csms.append(user)
            # The simulation spreads breeders of every tier over both CSMs, so both
            # carry growth portfolios; the capacity page compares them with its range.
            for membership in Membership.objects.filter(role=Role.CSM):
                CsmProfile.objects.update_or_create(
                    workspace=workspace,
                    membership=membership,
                    defaults={"csm_role": CsmRole.GROWTH},
                )
        return workspace, csms
