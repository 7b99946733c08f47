from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Workspace
from programs.defaults import ensure_default_programs


@receiver(post_save, sender=Workspace, dispatch_uid="programs_default_programs")
def seed_default_programs(
    sender: type[Workspace], instance: Workspace, created: bool, **kwargs: Any
) -> None:
    if created:
        ensure_default_programs(instance)
