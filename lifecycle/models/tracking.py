"""The tracking plan: which track events count toward which product feature."""

from __future__ import annotations

from django.db import models

from accounts.models import Workspace, WorkspaceOwned
from lifecycle.models.events import MAX_EVENT_NAME_LENGTH


class Feature(models.TextChoices):
    """A ReptiDex product area whose use the health score measures."""

    LOGIN = "login", "Login"
    RECORDS = "records", "Animal records"
    PEDIGREES = "pedigrees", "Pedigrees and genetics"
    COMMUNITY = "community", "Community"
    MARKETPLACE = "marketplace", "Marketplace"
    INTEGRATIONS = "integrations", "Integrations"
    ADVOCACY = "advocacy", "Advocacy"
    EDUCATION = "education", "Education"
    IGNORED = "ignored", "Not counted"


# The default tracking plan. A workspace's EventMapping rows replace entries by event
# name or add names of their own; Feature.IGNORED removes a default from the rollups.
DEFAULT_EVENT_FEATURES: dict[str, str] = {
    "Logged In": Feature.LOGIN,
    "Profile Completed": Feature.RECORDS,
    "Animal Created": Feature.RECORDS,
    "Photo Uploaded": Feature.RECORDS,
    "Pedigree Created": Feature.PEDIGREES,
    "Genetics Calculator Used": Feature.PEDIGREES,
    "Forum Post Created": Feature.COMMUNITY,
    "Forum Reply Created": Feature.COMMUNITY,
    "Connection Made": Feature.COMMUNITY,
    "Marketplace Browsed": Feature.MARKETPLACE,
    "Listing Published": Feature.MARKETPLACE,
    "Sale Completed": Feature.MARKETPLACE,
    "Integration Connected": Feature.INTEGRATIONS,
    "Referral Sent": Feature.ADVOCACY,
    "Review Posted": Feature.ADVOCACY,
    "Tutorial Viewed": Feature.EDUCATION,
    "Webinar Attended": Feature.EDUCATION,
    "Guide Downloaded": Feature.EDUCATION,
    "Assessment Completed": Feature.EDUCATION,
}


class EventMapping(WorkspaceOwned):
    """A workspace's own mapping of one track event name to a feature."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    event_name = models.CharField(
        max_length=MAX_EVENT_NAME_LENGTH,
        help_text="The track call's `event`, exactly as the product sends it (case matters).",
    )
    feature = models.CharField(
        max_length=20,
        choices=Feature.choices,
        help_text="Choose “Not counted” to leave a default event out of the activity rollups.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        verbose_name = "tracking plan event"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "event_name"], name="event_mapping_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} → {self.get_feature_display()}"


def feature_map(workspace_id: int) -> dict[str, str]:
    """Return the workspace's effective tracking plan: event name → counted feature."""
    mapping = dict(DEFAULT_EVENT_FEATURES)
    overrides = EventMapping.objects.filter(workspace_id=workspace_id).values_list(
        "event_name", "feature"
    )
    mapping.update(overrides)
    return {name: feature for name, feature in mapping.items() if feature != Feature.IGNORED}
