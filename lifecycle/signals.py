"""Keep the write-key cache of the ingestion API in step with the keys."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Workspace, WriteKey
from lifecycle.ingestion.write_keys import cache_key


def _forget_after_commit(key_hashes: list[str]) -> None:
    # After commit, or a request racing the change could cache the old row again.
    transaction.on_commit(lambda: cache.delete_many([cache_key(h) for h in key_hashes]))


@receiver([post_save, post_delete], sender=WriteKey)
def forget_write_key(sender: type[WriteKey], instance: WriteKey, **kwargs: Any) -> None:
    _forget_after_commit([instance.key_hash])


@receiver(post_save, sender=Workspace)
def forget_workspace_write_keys(
    sender: type[Workspace], instance: Workspace, **kwargs: Any
) -> None:
    # The cached entry carries the workspace's rate limit setting.
    key_hashes = list(
        WriteKey.unscoped_objects.filter(workspace_id=instance.pk).values_list(
            "key_hash", flat=True
        )
    )
    if key_hashes:
        _forget_after_commit(key_hashes)
