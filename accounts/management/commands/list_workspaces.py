from django.core.management.base import BaseCommand
from django.db.models import Count

from accounts.models import Workspace


class Command(BaseCommand):
    help = "List workspaces with their member and breeder counts."

    def handle(self, *args: object, **options: object) -> None:
        workspaces = Workspace.objects.annotate(
            members=Count("membership", distinct=True), breeders=Count("breeder", distinct=True)
        ).order_by("slug")
        self.stdout.write(f"{'slug':<24} {'members':>7} {'breeders':>9}  name")
        for workspace in workspaces:
            self.stdout.write(
                f"{workspace.slug:<24} {workspace.members:>7} {workspace.breeders:>9}  "
                f"{workspace.name}"
            )
