"""Give every new workspace the default CSM ranges and KPI targets."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Workspace
from segments.services import create_default_configuration


@receiver(post_save, sender=Workspace, dispatch_uid="segments_default_configuration")
def create_defaults_for_new_workspace(
    sender: type[Workspace], instance: Workspace, created: bool, **kwargs: Any
) -> None:
    # The onboarding targets point at default milestones, which the lifecycle app's own
    # receiver creates. It runs first because lifecycle comes before segments in
    # INSTALLED_APPS, so its receivers connect first.
    if created:
        create_default_configuration(instance.pk)
