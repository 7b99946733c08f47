from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Workspace
from accounts.scope import workspace_scope
from health.tasks import score_and_alert
from lifecycle import journey


class Command(BaseCommand):
    help = (
        "Bring a workspace's phases and milestones up to date, score every breeder "
        "and raise alerts now, instead of waiting for the beat jobs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace slug.")

    def handle(self, *args: object, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        with workspace_scope(workspace):
            journey.ensure_default_milestones(workspace)
            phases = journey.update_phases(workspace.pk)
            journey.record_achievements(workspace.pk)
            missed = journey.mark_missed_milestones(workspace.pk)
            result = score_and_alert(workspace.pk, None, None)
        self.stdout.write(
            f"{workspace.slug}: {phases} phase changes, {missed} milestones missed, "
            f"{result['scored']} breeders scored, {result['alerts_opened']} alerts opened"
        )
