from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import Workspace, WriteKey
from accounts.scope import workspace_scope


class Command(BaseCommand):
    help = "Revoke a workspace's write key, named by the prefix shown when it was issued."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument("--prefix", required=True, help="The key's first characters.")

    def handle(self, *args: object, **options: str) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        with workspace_scope(workspace):
            keys = list(
                WriteKey.objects.filter(
                    prefix__startswith=options["prefix"], revoked_at__isnull=True
                )
            )
            if not keys:
                raise CommandError(f"No active write key starting with {options['prefix']!r}.")
            if len(keys) > 1:
                raise CommandError("Several active keys match; give more of the prefix.")
            services.revoke_write_key(keys[0], actor=None)
        self.stdout.write(f"Revoked write key {keys[0].name} ({keys[0].prefix}…).")
