from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import Workspace
from accounts.scope import workspace_scope
from health import scoring


class Command(BaseCommand):
    help = (
        "Compute health snapshots as of each day in a range, oldest first, so history, "
        "trends and explanations exist for imported data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument(
            "--start", required=True, type=date.fromisoformat, help="First day, YYYY-MM-DD."
        )
        parser.add_argument(
            "--end", type=date.fromisoformat, help="Last day, YYYY-MM-DD (default: today)."
        )
        parser.add_argument("--step-days", type=int, default=1, help="Days between snapshots.")

    def handle(self, *args: object, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        start: date = options["start"]
        end: date = options["end"] or timezone.localdate()
        step = timedelta(days=int(options["step_days"]))
        days = []
        day = start
        while day <= end:
            days.append(day)
            day += step
        with workspace_scope(workspace):
            for index, day in enumerate(days, start=1):
                results = scoring.recompute(workspace.pk, day)
                self.stdout.write(f"[{index}/{len(days)}] {day}: {len(results)} breeders scored")
