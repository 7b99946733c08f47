from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Workspace
from lifecycle.journey import ensure_default_milestones


@receiver(post_save, sender=Workspace, dispatch_uid="lifecycle_default_milestones")
def seed_default_milestones(
    sender: type[Workspace], instance: Workspace, created: bool, **kwargs: Any
) -> None:
    if created:
        ensure_default_milestones(instance)
