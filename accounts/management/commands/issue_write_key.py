from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import Workspace
from accounts.scope import workspace_scope


class Command(BaseCommand):
    help = "Issue an event-API write key for a workspace and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument("--name", required=True, help="Label, e.g. 'ReptiDex production'.")

    def handle(self, *args: object, **options: str) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        with workspace_scope(workspace):
            key, raw_key = services.issue_write_key(workspace, name=options["name"], actor=None)
        self.stdout.write(f"Write key {key.name} ({key.prefix}…) for {workspace.slug}.")
        self.stdout.write("It is stored hashed and will not be shown again:")
        self.stdout.write(raw_key)
