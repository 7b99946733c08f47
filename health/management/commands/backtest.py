from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Workspace
from accounts.scope import workspace_scope
from health.backtest import format_report, run_backtest
from health.models import HealthModel


class Command(BaseCommand):
    help = (
        "Score breeders as of past days with the active (or a draft) health model and "
        "report how well it separated those who churned within the horizon."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument(
            "--start", required=True, type=date.fromisoformat, help="First as-of day, YYYY-MM-DD."
        )
        parser.add_argument(
            "--end", required=True, type=date.fromisoformat, help="Last as-of day, YYYY-MM-DD."
        )
        parser.add_argument("--step-days", type=int, default=30, help="Days between as-of days.")
        parser.add_argument(
            "--horizon-days",
            type=int,
            default=90,
            help="Churn within this many days after an as-of day counts.",
        )
        parser.add_argument(
            "--model-version", type=int, help="Model version to test (default: the active one)."
        )

    def handle(self, *args: object, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        if options["start"] > options["end"]:
            raise CommandError("--start must be on or before --end.")
        with workspace_scope(workspace):
            model = None
            if options["model_version"] is not None:
                model = HealthModel.objects.filter(version=options["model_version"]).first()
                if model is None:
                    raise CommandError(
                        f"No model version {options['model_version']} in {workspace.slug}."
                    )
            report = run_backtest(
                workspace.pk,
                options["start"],
                options["end"],
                step_days=options["step_days"],
                horizon_days=options["horizon_days"],
                model=model,
                progress=lambda day: self.stderr.write(f"scoring as of {day}"),
            )
        self.stdout.write(format_report(report))
