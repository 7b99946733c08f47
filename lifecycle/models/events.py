"""Raw events as the ReptiDex product sent them, and the identities they resolve to."""

from __future__ import annotations

from django.db import models

from accounts.models import Breeder, Workspace, WorkspaceOwned

# Identifiers are stored as text. Breeder.external_id stores a userId, so both share its
# maximum length.
MAX_ID_LENGTH = 200
MAX_EVENT_NAME_LENGTH = 200


class EventType(models.TextChoices):
    TRACK = "track", "Track"
    IDENTIFY = "identify", "Identify"
    GROUP = "group", "Group"
    PAGE = "page", "Page"
    SCREEN = "screen", "Screen"


class Event(WorkspaceOwned):
    """One Segment-style message, stored once per (workspace, messageId).

    Rows are inserted by one set-based statement per request (see
    `lifecycle.ingestion.storage`). `processed_at` stays empty until the processing
    task has folded the event into breeders and rollups, and `breeder` is set once
    the sender is known.
    """

    # The unique constraint below leads with workspace_id, so the index Django
    # would add for this foreign key would only slow down inserts. There is no
    # database constraint either: PostgreSQL would check every inserted row against
    # the workspace row and lock it, and all requests of a workspace lock the same row
    # (about 10% of the ingestion throughput in bench/ingest_batch.py). The id comes
    # from the write key's row, deleting a workspace deletes its events through
    # Django's cascade, and ids are never reused, so a row left by a write that races
    # a workspace deletion matches no workspace.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    message_id = models.CharField(max_length=MAX_ID_LENGTH)
    type = models.CharField(max_length=10, choices=EventType.choices)
    event_name = models.CharField(
        max_length=MAX_EVENT_NAME_LENGTH, blank=True, help_text="The `event` of a track call."
    )
    user_id = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    anonymous_id = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    group_id = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    breeder = models.ForeignKey(
        Breeder, null=True, blank=True, on_delete=models.CASCADE, db_index=False
    )
    timestamp = models.DateTimeField(
        help_text="When the event happened, corrected for the sender's clock skew."
    )
    original_timestamp = models.DateTimeField(
        null=True, blank=True, help_text="The `timestamp` exactly as the sender's clock gave it."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    payload = models.JSONField(help_text="The message as received, without the write key.")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            # Deduplication: a retried batch inserts nothing twice. Scoped to the
            # workspace, so one tenant's messageIds never suppress another's.
            models.UniqueConstraint(
                fields=["workspace", "message_id"], name="event_unique_message_id"
            ),
        ]
        indexes = [
            # The processing task claims a workspace's pending events in id order.
            # Only pending rows are in this index, so it stays small.
            models.Index(
                fields=["workspace", "id"],
                condition=models.Q(processed_at__isnull=True),
                name="event_pending_idx",
            ),
            # Processed events still waiting for their userId to be identified. The
            # condition leaves out pending rows, so inserting events never touches
            # this index or the next.
            models.Index(
                fields=["workspace", "user_id"],
                condition=models.Q(breeder__isnull=True, processed_at__isnull=False)
                & ~models.Q(user_id=""),
                name="event_orphan_user_idx",
            ),
            # Processed anonymous events waiting for an identify that links their
            # anonymousId.
            models.Index(
                fields=["workspace", "anonymous_id"],
                condition=models.Q(breeder__isnull=True, processed_at__isnull=False, user_id="")
                & ~models.Q(anonymous_id=""),
                name="event_orphan_anonymous_idx",
            ),
            # A breeder's timeline. Breeder ids are unique across workspaces, and
            # deleting a breeder deletes its events with `WHERE breeder_id IN (…)`,
            # which only an index leading with breeder_id serves.
            models.Index(
                fields=["breeder", "timestamp"],
                condition=models.Q(breeder__isnull=False),
                name="event_breeder_time_idx",
            ),
        ]

    def __str__(self) -> str:
        label = self.event_name or self.type
        return (
            f"{label} from {self.user_id or self.anonymous_id} at {self.timestamp:%Y-%m-%d %H:%M}"
        )


class AnonymousIdentity(WorkspaceOwned):
    """An anonymousId linked to a breeder by the first identify that carried both ids."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    anonymous_id = models.CharField(max_length=MAX_ID_LENGTH)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=MAX_ID_LENGTH, help_text="The userId it was linked to.")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        verbose_name_plural = "anonymous identities"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "anonymous_id"], name="anonymous_identity_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.anonymous_id} → {self.user_id}"


class BreederGroup(WorkspaceOwned):
    """A group call's business (its groupId and traits) recorded for a breeder."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    group_id = models.CharField(max_length=MAX_ID_LENGTH)
    name = models.CharField(max_length=200, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "breeder", "group_id"], name="breeder_group_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.group_id
