import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import Workspace


class Command(BaseCommand):
    help = "Create a workspace and its owner. Prints the owner's password when it generates one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Workspace name shown to staff.")
        parser.add_argument("--slug", required=True, help="URL name: /w/<slug>/.")
        parser.add_argument("--owner-email", required=True, help="Email of the first owner.")
        parser.add_argument(
            "--owner-password", help="Password for a new owner account; omitted: one is generated."
        )
        parser.add_argument(
            "--time-zone", default="UTC", help="IANA time zone, e.g. Europe/Berlin."
        )

    def handle(self, *args: object, **options: str) -> None:
        if Workspace.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"A workspace with slug {options['slug']!r} already exists.")
        password = options["owner_password"]
        generated = password is None
        if generated:
            password = secrets.token_urlsafe(12)
        owner = services.ensure_user(options["owner_email"], password=password)
        try:
            workspace = services.create_workspace(
                name=options["name"],
                slug=options["slug"],
                owner=owner,
                time_zone=options["time_zone"],
            )
        except ValidationError as error:
            details = "; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items()
            )
            raise CommandError(f"Invalid workspace: {details}") from None
        self.stdout.write(f"Created workspace {workspace.name} at /w/{workspace.slug}/")
        self.stdout.write(f"Owner: {owner.email}")
        if generated:
            self.stdout.write(f"Owner password (shown once): {password}")
